import { packageBuild } from '../../tsup.base';

// No code splitting: esbuild drops `export * from '<external>'` from split entries.
export default packageBuild(['src/index.ts', 'src/browser.ts', 'src/registry.ts', 'src/worker.ts'], { splitting: false });
