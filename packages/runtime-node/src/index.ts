import * as ort from 'onnxruntime-node';
import { registerBackend, OrtBackendSession, type Backend, type BackendSession, type SessionOptions } from '@vitzoo/runtime';

export type { Backend, BackendSession, SessionOptions } from '@vitzoo/runtime';

/** Creates the onnxruntime-node backend ('node'): CPU by default; other execution providers passed through. */
export function createNodeBackend(settings: { name?: string; priority?: number; defaults?: SessionOptions } = {}): Backend {
  const name = settings.name ?? 'node';
  return {
    name,
    priority: settings.priority ?? 100,
    async init() {
      if (typeof ort.InferenceSession?.create !== 'function') throw new Error('onnxruntime-node did not load');
    },
    createSession(model: Uint8Array | string, options?: SessionOptions): Promise<BackendSession> {
      return OrtBackendSession.create(name, ort, model, { ...settings.defaults, ...options });
    },
  };
}

/** The default node backend, registered on import. */
export const nodeBackend: Backend = createNodeBackend();
registerBackend(nodeBackend);
