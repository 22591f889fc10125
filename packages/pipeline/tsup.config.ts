import { packageBuild } from '../../tsup.base';

export default packageBuild(['src/index.ts', 'src/node.ts'], {
  // Loaded on demand by loadModel's defaults (dev dependencies here): never bundled.
  external: ['vitzoo', '@vitzoo/runtime-node'],
});
