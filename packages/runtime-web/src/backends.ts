import * as ort from 'onnxruntime-web';
import {
  cleanOrtMessage,
  OrtBackendSession,
  registerBackend,
  resolveBackendChoice,
  type Backend,
  type BackendSession,
  type OrtBinding,
  type ResolvedBackend,
  type SessionOptions,
} from '@vitzoo/runtime';
import { applyWebRuntimeSettings } from './environment.js';

const binding: OrtBinding = ort;

/**
 * A 138-byte ONNX model (opset 17, y = Neg(x) for x float32 [1]) used to check at init that
 * onnxruntime-web's WebAssembly loads and that the execution provider really runs.
 */
const PROBE_MODEL = 'CAgSBnZpdHpvbxoFMC4xLjBCAhAROnMKHQoBeBINL05lZ19vdXRwdXRfMBoEL05lZyIDTmVnCikKDS9OZWdfb3V0cHV0XzASAXkaCy95L0lkZW50aXR5IghJZGVudGl0eRIFcHJvYmVaDwoBeBIKCggIARIECgIIAWIPCgF5EgoKCAgBEgQKAggB';

function probeBytes(): Uint8Array {
  const text = atob(PROBE_MODEL);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

/** Creates and runs the probe model on `provider`; rejects with a readable reason. */
async function probe(provider: 'wasm' | 'webgpu'): Promise<void> {
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(probeBytes(), { executionProviders: [provider] });
  } catch (error) {
    const environment = applyWebRuntimeSettings();
    const where = typeof environment.wasmPaths === 'string' ? environment.wasmPaths : JSON.stringify(environment.wasmPaths);
    throw new Error(`onnxruntime-web could not start its ${provider} backend (wasm files from ${where}): ${cleanOrtMessage(error)}`, {
      cause: error,
    });
  }
  try {
    const result = await session.run({ x: new ort.Tensor('float32', new Float32Array([2]), [1]) });
    const value = (result.y?.data as Float32Array | undefined)?.[0];
    if (value !== -2) throw new Error(`onnxruntime-web's ${provider} backend computed Neg(2) = ${value}, expected -2`);
  } finally {
    await session.release();
  }
}

interface GpuLike {
  requestAdapter(options?: { powerPreference?: 'low-power' | 'high-performance'; forceFallbackAdapter?: boolean }): Promise<unknown>;
}

/** Why WebGPU cannot be used here, or null when an adapter is available. */
export async function webGpuUnavailableReason(): Promise<string | null> {
  const gpu = (globalThis.navigator as { gpu?: GpuLike } | undefined)?.gpu;
  if (!gpu) {
    return typeof isSecureContext !== 'undefined' && !isSecureContext
      ? 'navigator.gpu is missing: WebGPU needs a secure context (https or localhost)'
      : 'navigator.gpu is missing: this browser does not expose WebGPU';
  }
  let adapter: unknown;
  try {
    adapter = await gpu.requestAdapter();
  } catch (error) {
    return `navigator.gpu.requestAdapter() failed: ${error instanceof Error ? error.message : String(error)}`;
  }
  return adapter ? null : 'navigator.gpu.requestAdapter() returned no adapter (no usable GPU, or WebGPU disabled in this browser)';
}

export interface WebBackendSettings {
  name?: string;
  priority?: number;
  /** Session options applied to every session of this backend (per-call options override them). */
  defaults?: SessionOptions;
}

function createOrtWebBackend(provider: 'wasm' | 'webgpu', settings: WebBackendSettings, check: () => Promise<void>): Backend {
  const name = settings.name ?? provider;
  return {
    name,
    priority: settings.priority ?? (provider === 'webgpu' ? 60 : 50),
    async init() {
      applyWebRuntimeSettings();
      await check();
      await probe(provider);
    },
    createSession(model: Uint8Array | string, options?: SessionOptions): Promise<BackendSession> {
      applyWebRuntimeSettings();
      return OrtBackendSession.create(name, binding, model, { executionProviders: [provider], ...settings.defaults, ...options });
    },
  };
}

/** onnxruntime-web's WebAssembly CPU backend ('wasm'): threads when the page is cross-origin isolated. */
export function createWasmBackend(settings: WebBackendSettings = {}): Backend {
  return createOrtWebBackend('wasm', settings, async () => {
    if (typeof WebAssembly !== 'object') throw new Error('this environment has no WebAssembly');
  });
}

/** onnxruntime-web's WebGPU backend ('webgpu'): available when the browser gives a WebGPU adapter. */
export function createWebGpuBackend(settings: WebBackendSettings = {}): Backend {
  return createOrtWebBackend('webgpu', settings, async () => {
    const reason = await webGpuUnavailableReason();
    if (reason) throw new Error(reason);
  });
}

/** What `resolveWebBackend` chose (see `resolveBackendChoice` of @vitzoo/runtime). */
export type ResolvedWebBackend = ResolvedBackend;

/**
 * The first of `names` that initialises (default WebGPU, then wasm), with the reasons the ones
 * before it were skipped. Rejects with `BackendUnavailableError` listing every attempt when none works.
 */
export function resolveWebBackend(names: readonly string[] = ['webgpu', 'wasm']): Promise<ResolvedWebBackend> {
  return resolveBackendChoice(names);
}

/** The default backends, registered on import. */
export const wasmBackend: Backend = createWasmBackend();
export const webGpuBackend: Backend = createWebGpuBackend();
registerBackend(wasmBackend);
registerBackend(webGpuBackend);
