/** Default folder, relative to the page: what `@vitzoo/runtime-web/vite`'s plugin serves and emits. */
export const DEFAULT_WASM_PATH = 'ort/';

/** The onnxruntime-web files its default build loads (wasm and WebGPU share this one binary). */
export const ORT_WASM_FILES = ['ort-wasm-simd-threaded.jsep.wasm', 'ort-wasm-simd-threaded.jsep.mjs'] as const;
