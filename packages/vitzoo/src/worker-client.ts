/**
 * The page side of `loadModel(source, { worker: true })`: the model lives in a Web Worker (vitzoo's
 * worker script, or one the page started), conversion and inference run there, and `WorkerModel`
 * offers the Model API (`classify`, `embed`, `forward`, `dispose`) over messages. Results' typed
 * arrays are transferred; inputs are copied unless `transfer: true` hands their buffers over.
 */
import { InvalidArgumentError, VitzooError, type PretrainedConfig, type ProgressListener, type Tensor, type VitzooErrorCode } from '@vitzoo/core';
import type { ClassifyOptions, ExplainMethod, Heatmap, ModelDetails, ModelInput, Prediction } from '@vitzoo/pipeline';
import type { RawImage } from '@vitzoo/preprocess';
import { DEFAULT_WASM_PATH } from '@vitzoo/runtime-web';
import type { SerializedError, WorkerLoadOptions, WorkerModelInfo, WorkerRequest, WorkerResponse } from './worker-protocol.js';

type Pending = { resolve(value: unknown): void; reject(error: unknown): void; progress?: ProgressListener };
type RequestBody = WorkerRequest extends infer R ? (R extends { id: number } ? Omit<R, 'id'> : never) : never;

function toError(serialized: SerializedError): Error {
  const fields = serialized.fields;
  if (fields && typeof fields.code === 'string') {
    // The same code and typed fields: `SomeVitzooError.isInstance(error)` holds on this side too.
    const error = new VitzooError(fields.code as VitzooErrorCode, serialized.message);
    const { name: _name, message: _message, code: _code, ...rest } = fields;
    void _name;
    void _message;
    void _code;
    Object.assign(error, rest);
    error.name = serialized.name;
    return error;
  }
  const error = new Error(serialized.message);
  error.name = serialized.name;
  return error;
}

/** The typed-array buffers of an input, for `transfer: true`. */
function inputBuffers(input: unknown): ArrayBuffer[] {
  const list = Array.isArray(input) ? input : [input];
  return list.flatMap((item) => {
    const data = (item as { data?: unknown } | null)?.data;
    return ArrayBuffer.isView(data) && data.buffer instanceof ArrayBuffer ? [data.buffer] : [];
  });
}

class WorkerConnection {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();

  constructor(
    readonly worker: Worker,
    readonly owned: boolean,
  ) {
    worker.addEventListener('message', (event: MessageEvent<WorkerResponse>) => {
      const message = event.data;
      const pending = this.pending.get(message.id);
      if (!pending) return;
      if (message.type === 'progress') return pending.progress?.(message.event);
      this.pending.delete(message.id);
      if (message.type === 'result') pending.resolve(message.value);
      else pending.reject(toError(message.error));
    });
    worker.addEventListener('error', (event: ErrorEvent) => {
      const error = new VitzooError('unsupported', `The vitzoo worker failed: ${event.message || 'it could not start (is vitzoo/worker served as a module worker?)'}.`);
      for (const pending of this.pending.values()) pending.reject(error);
      this.pending.clear();
    });
  }

  request(body: RequestBody, options: { signal?: AbortSignal; progress?: ProgressListener; transfer?: Transferable[] } = {}): Promise<unknown> {
    const id = this.nextId++;
    options.signal?.throwIfAborted();
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        this.worker.postMessage({ type: 'cancel', id } satisfies WorkerRequest);
        this.pending.delete(id);
        reject(options.signal!.reason);
      };
      options.signal?.addEventListener('abort', onAbort, { once: true });
      const done = <T>(settle: (value: T) => void) => (value: T) => {
        options.signal?.removeEventListener('abort', onAbort);
        settle(value);
      };
      this.pending.set(id, { resolve: done(resolve), reject: done(reject), ...(options.progress ? { progress: options.progress } : {}) });
      this.worker.postMessage({ ...body, id } as WorkerRequest, options.transfer ?? []);
    });
  }
}

/** A model loaded in a Web Worker: the Model API over messages. */
export class WorkerModel {
  readonly outputs: readonly string[];
  readonly labels: readonly string[] | undefined;
  readonly pretrained: PretrainedConfig | undefined;
  readonly details: ModelDetails | undefined;
  readonly batchSize: number;
  private disposed = false;

  constructor(
    private readonly connection: WorkerConnection,
    private readonly info: WorkerModelInfo,
  ) {
    this.outputs = info.outputs;
    this.labels = info.labels;
    this.pretrained = info.pretrained;
    this.details = info.details;
    this.batchSize = info.batchSize;
  }

  /** The Worker the model runs in. */
  get worker(): Worker {
    return this.connection.worker;
  }

  private call(method: 'classify' | 'embed' | 'forward' | 'explain', input: unknown, options: { signal?: AbortSignal; transfer?: boolean } & Record<string, unknown>): Promise<unknown> {
    if (this.disposed) return Promise.reject(new InvalidArgumentError('model', 'This model has been disposed.'));
    const { signal, transfer, ...rest } = options;
    return this.connection.request(
      { type: 'call', model: this.info.model, method, input, options: rest },
      { ...(signal ? { signal } : {}), ...(transfer ? { transfer: inputBuffers(input) } : {}) },
    );
  }

  /** As `Model.classify`, in the worker. `transfer: true` hands the images' buffers to the worker (they are unusable here afterwards). */
  classify(images: ModelInput, options: ClassifyOptions & { signal?: AbortSignal; transfer?: boolean } = {}): Promise<Prediction[][]> {
    return this.call('classify', images, options as Record<string, unknown>) as Promise<Prediction[][]>;
  }

  /** As `Model.embed`, in the worker. */
  embed(images: ModelInput, options: { normalize?: boolean; signal?: AbortSignal; transfer?: boolean } = {}): Promise<Tensor<'float32'>> {
    return this.call('embed', images, options) as Promise<Tensor<'float32'>>;
  }

  /** As `Model.forward`, in the worker. */
  forward(pixelValues: Tensor, options: { outputs?: readonly string[]; signal?: AbortSignal; transfer?: boolean } = {}): Promise<Partial<Record<string, Tensor>>> {
    return this.call('forward', pixelValues, options) as Promise<Partial<Record<string, Tensor>>>;
  }

  /** As `Model.explain`, in the worker (load the model with `explain` so it has the outputs heat maps read). */
  explain(images: RawImage | readonly RawImage[], options: { method?: ExplainMethod; classify?: ClassifyOptions; signal?: AbortSignal; transfer?: boolean } = {}): Promise<Heatmap[]> {
    return this.call('explain', images, options as Record<string, unknown>) as Promise<Heatmap[]>;
  }

  /** Releases the model in the worker (and ends the worker when vitzoo started it). */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    try {
      await this.connection.request({ type: 'dispose', model: this.info.model });
    } finally {
      if (this.connection.owned) this.connection.worker.terminate();
    }
  }
}

/** What `loadModel(…, { worker })` takes: the loader options that can cross into a worker. */
export interface WorkerModelOptions extends Omit<WorkerLoadOptions, 'baseUrl'> {
  /** `true`: start vitzoo's worker script; or a Worker the page started from `vitzoo/worker`. */
  worker: true | Worker;
  progress?: ProgressListener;
  signal?: AbortSignal;
}

function pageUrl(): string | undefined {
  if (typeof document !== 'undefined' && document.baseURI) return document.baseURI;
  if (typeof location !== 'undefined') return location.href;
  return undefined;
}

/** Loads a model in a Web Worker (see `loadModel` of vitzoo/browser with `{ worker }`). */
export async function loadModelInWorker(source: unknown, options: WorkerModelOptions): Promise<WorkerModel> {
  const { worker, progress, signal, ...rest } = options;
  for (const key of ['registry', 'backend', 'fileSource'] as const) {
    if ((rest as Record<string, unknown>)[key] !== undefined) throw new InvalidArgumentError(key, `'${key}' cannot be passed into a worker (it holds functions); the worker uses vitzoo's own.`);
  }
  if (typeof source === 'object' && source !== null && typeof (source as { read?: unknown }).read === 'function') {
    throw new InvalidArgumentError('model', 'ModelFiles objects cannot be passed into a worker; pass a name, a URL or File objects.');
  }
  const base = pageUrl();
  const owned = worker === true;
  const instance = owned ? new Worker(new URL('./worker.js', import.meta.url), { type: 'module', name: 'vitzoo' }) : worker;
  const connection = new WorkerConnection(instance, owned);
  try {
    const info = (await connection.request(
      {
        type: 'load',
        source: typeof FileList !== 'undefined' && source instanceof FileList ? Array.from(source) : source,
        options: { ...rest, ...(base !== undefined ? { baseUrl: base, wasmPaths: rest.wasmPaths ?? new URL(DEFAULT_WASM_PATH, base).href } : {}) },
      },
      { ...(signal ? { signal } : {}), ...(progress ? { progress } : {}) },
    )) as WorkerModelInfo;
    return new WorkerModel(connection, info);
  } catch (error) {
    if (owned) instance.terminate();
    throw error;
  }
}
