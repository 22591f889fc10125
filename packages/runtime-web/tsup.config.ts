import { packageBuild } from '../../tsup.base';

export default packageBuild(['src/index.ts', 'src/vite.ts'], {
  // onnxruntime-web stays a dependency, resolved by the app's bundler (its export conditions pick the build).
  external: ['onnxruntime-web'],
});
