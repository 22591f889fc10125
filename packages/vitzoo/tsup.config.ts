import { packageBuild } from '../../tsup.base';

export default packageBuild(['src/index.ts', 'src/browser.ts', 'src/registry.ts', 'src/worker.ts']);
