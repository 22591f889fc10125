import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import { ortWasmFiles } from '@vitzoo/runtime-web/vite';
import { staticFiles } from './vite-static-files.js';

const models = fileURLToPath(new URL('../../models/', import.meta.url));
const demoModels = ['digits-vit', 'digits-deit'];

// Cross-origin isolation lets onnxruntime-web use WebAssembly threads (SharedArrayBuffer).
const isolation = { 'Cross-Origin-Opener-Policy': 'same-origin', 'Cross-Origin-Embedder-Policy': 'require-corp' };

export default defineConfig({
  base: './',
  plugins: [
    // onnxruntime-web's wasm files at ./ort/ (the runtime's default wasmPaths), from this origin.
    ortWasmFiles(),
    staticFiles(
      Object.fromEntries(
        demoModels.flatMap((name) => ['config.json', 'model.safetensors'].map((file) => [`models/${name}/${file}`, `${models}${name}/${file}`])),
      ),
    ),
  ],
  // Only the app's page is scanned for dependencies (browser-tests/page is the test harness).
  // vitzoo is not pre-bundled: its `new Worker(new URL('./worker.js', import.meta.url))` must stay
  // next to its worker script.
  optimizeDeps: { entries: ['index.html'], exclude: ['vitzoo'] },
  // vitzoo's worker imports onnxruntime-web, which loads its wasm glue with a dynamic import.
  worker: { format: 'es' },
  server: { headers: isolation },
  preview: { headers: isolation },
  build: { target: 'es2022', reportCompressedSize: false },
});
