import { defineConfig } from 'tsup';

export default defineConfig({
  entry: ['src/index.ts', 'src/node.ts'],
  format: ['esm'],
  dts: true,
  sourcemap: true,
  clean: true,
  target: 'es2022',
  // Loaded on demand by loadModel's defaults (dev dependencies here): never bundled.
  external: ['vitzoo', '@vitzoo/runtime-node'],
});
