import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/vite.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  // onnxruntime-web stays a dependency, resolved by the app's bundler (its export conditions pick the build).
  external: ['onnxruntime-web'],
});
