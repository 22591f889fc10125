/**
 * vitzoo/worker: the Web Worker side of `loadModel(source, { worker: true })` of vitzoo/browser.
 * Loaded as a module worker, it loads models with vitzoo/browser's `loadModel` (conversion and
 * inference off the page's main thread) and answers the page's calls; results' typed arrays are
 * transferred. A page may also start it itself and pass it as `{ worker }`.
 */
import { VitzooError, type Tensor } from '@vitzoo/core';
import type { Model } from '@vitzoo/pipeline';
import { configureWebRuntime } from '@vitzoo/runtime-web';
import { createBrowserFileSource, loadModel } from './browser.js';
import type { SerializedError, WorkerModelInfo, WorkerRequest, WorkerResponse } from './worker-protocol.js';

interface WorkerScope {
  postMessage(message: WorkerResponse, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<WorkerRequest>) => void): void;
}

const scope = globalThis as unknown as WorkerScope;
const models = new Map<number, Model>();
const running = new Map<number, AbortController>();
let nextModel = 1;
let runtimeConfigured = false;

function serializeError(error: unknown): SerializedError {
  if (VitzooError.isInstance(error)) return { name: error.name, message: error.message, fields: error.toJSON() };
  if (error instanceof Error) return { name: error.name, message: error.message };
  return { name: 'Error', message: String(error) };
}

/** The typed arrays of a result, to transfer instead of copying. */
function buffers(value: unknown, found: Set<ArrayBuffer> = new Set()): Set<ArrayBuffer> {
  if (ArrayBuffer.isView(value)) {
    if (value.buffer instanceof ArrayBuffer) found.add(value.buffer);
  } else if (Array.isArray(value)) for (const item of value) buffers(item, found);
  else if (typeof value === 'object' && value !== null) for (const item of Object.values(value)) buffers(item, found);
  return found;
}

async function handle(request: Exclude<WorkerRequest, { type: 'cancel' }>, signal: AbortSignal): Promise<unknown> {
  if (request.type === 'load') {
    const { wasmPaths, baseUrl, ...options } = request.options;
    if (!runtimeConfigured && wasmPaths !== undefined) {
      configureWebRuntime({ wasmPaths });
      runtimeConfigured = true;
    }
    const model = await loadModel(request.source as Parameters<typeof loadModel>[0], {
      ...options,
      fileSource: createBrowserFileSource(baseUrl !== undefined ? { baseUrl } : {}),
      signal,
      progress: (event) => scope.postMessage({ type: 'progress', id: request.id, event }),
    });
    const id = nextModel++;
    models.set(id, model);
    const info: WorkerModelInfo = { model: id, outputs: model.outputs, labels: model.labels, pretrained: model.pretrained, details: model.details, batchSize: model.batchSize };
    return info;
  }
  const model = models.get(request.model);
  if (!model) throw new VitzooError('invalid-argument', 'This model has been disposed.');
  if (request.type === 'dispose') {
    models.delete(request.model);
    await model.dispose();
    return undefined;
  }
  const options = { ...request.options, signal };
  if (request.method === 'classify') return model.classify(request.input as Parameters<Model['classify']>[0], options);
  if (request.method === 'embed') return model.embed(request.input as Parameters<Model['embed']>[0], options);
  if (request.method === 'explain') return model.explain(request.input as Parameters<Model['explain']>[0], options as Parameters<Model['explain']>[1]);
  return model.forward(request.input as Tensor, options as Parameters<Model['forward']>[1]);
}

scope.addEventListener('message', (event) => {
  const request = event.data;
  if (request.type === 'cancel') {
    running.get(request.id)?.abort(new DOMException('The operation was cancelled by the page.', 'AbortError'));
    return;
  }
  const controller = new AbortController();
  running.set(request.id, controller);
  handle(request, controller.signal).then(
    (value) => scope.postMessage({ type: 'result', id: request.id, value }, [...buffers(value)]),
    (error: unknown) => scope.postMessage({ type: 'error', id: request.id, error: serializeError(error) }),
  ).finally(() => running.delete(request.id));
});
