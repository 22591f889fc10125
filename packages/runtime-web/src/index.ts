/**
 * @vitzoo/runtime-web: onnxruntime-web backends for browsers and workers.
 *
 * Importing this module registers two backends with @vitzoo/runtime: 'webgpu' (priority 60, when the
 * browser offers a WebGPU adapter) and 'wasm' (priority 50, WebAssembly on the CPU; threads when the
 * page is cross-origin isolated). `resolveWebBackend()` picks WebGPU and falls back to wasm with the reason.
 */
export type { Backend, BackendSession, RunOptions, SessionOptions } from '@vitzoo/runtime';
export {
  createWasmBackend,
  createWebGpuBackend,
  resolveWebBackend,
  wasmBackend,
  webGpuBackend,
  webGpuUnavailableReason,
  type ResolvedWebBackend,
  type WebBackendSettings,
} from './backends.js';
export {
  configureWebRuntime,
  webRuntimeEnvironment,
  type WasmPaths,
  type WebRuntimeEnvironment,
  type WebRuntimeSettings,
} from './environment.js';
export { DEFAULT_WASM_PATH, ORT_WASM_FILES } from './files.js';
