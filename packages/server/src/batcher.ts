import { InvalidArgumentError, createTensor, positiveInteger, sliceRows, type OutputName, type Tensor } from '@vitzoo/core';

/** Runs one batch `[N, 3, H, W]` through a model, computing `outputs` (e.g. `model.forward`). */
export type RunBatch = (pixels: Tensor<'float32'>, outputs: readonly OutputName[]) => Promise<Partial<Record<OutputName, Tensor>>>;

export interface BatcherOptions {
  /** Most images in one run (default 32). A request may hold up to this many. */
  maxBatch?: number;
  /**
   * How long the oldest waiting request may wait for others to join its batch, in ms (default 0, as
   * Triton's dynamic batcher: a request runs as soon as the model is free, and requests that arrive
   * while a batch runs form the next one).
   */
  maxDelayMs?: number;
  /** Most requests admitted and not yet running (being read, preprocessed or queued); more are refused (default 256). */
  maxQueue?: number;
  /** Every output the model has, in graph order (a batch computes the union of what its requests ask for, in this order). */
  outputs: readonly OutputName[];
}

export interface BatchObserver {
  /** A batch of `size` images ran in `seconds`. */
  batch?(size: number, seconds: number): void;
  /** Requests admitted and not yet running changed to `depth`. */
  queueDepth?(depth: number): void;
}

/** Why a request was not admitted: the queue holds `maxQueue` requests. */
export class QueueFullError extends Error {
  constructor(readonly maxQueue: number) {
    super(`The queue is full (${maxQueue} requests waiting); retry later.`);
    this.name = 'QueueFullError';
  }
}

interface Pending {
  pixels: Tensor<'float32'>;
  rows: number;
  outputs: readonly OutputName[];
  resolve(outputs: Partial<Record<OutputName, Tensor>>): void;
  reject(error: unknown): void;
  settled: boolean;
  enqueuedAt: number;
}



/**
 * A place in a model's queue, taken before the request's body is read so that an overloaded server
 * refuses work before doing any. `submit` hands the preprocessed pixels over; `release` gives the
 * place back when the request ends without submitting (an error, a timeout, a closed connection).
 */
export class Ticket {
  private state: 'waiting' | 'submitted' | 'done' = 'waiting';

  constructor(private readonly batcher: Batcher) {}

  /** Queues `pixels` (`[N, 3, H, W]`, N ≤ maxBatch) and resolves with this request's rows of each output. */
  submit(pixels: Tensor<'float32'>, outputs: readonly OutputName[], signal?: AbortSignal): Promise<Partial<Record<OutputName, Tensor>>> {
    if (this.state !== 'waiting') return Promise.reject(signal?.aborted ? signal.reason : new Error('This ticket was already used or released.'));
    this.state = 'submitted';
    return this.batcher.enqueue(pixels, outputs, signal);
  }

  /** Gives the place back if the request never submitted. Safe to call more than once. */
  release(): void {
    if (this.state === 'waiting') this.batcher.leave();
    this.state = 'done';
  }
}

/**
 * Dynamic batching for one model: requests queue up and run together, up to `maxBatch` images or
 * until the oldest has waited `maxDelayMs`, one batch at a time; results are split back per
 * request. While a batch runs, the next one gathers, so under load batches fill without waiting.
 */
export class Batcher {
  readonly maxBatch: number;
  readonly maxDelayMs: number;
  readonly maxQueue: number;
  private readonly outputOrder: readonly OutputName[];
  private readonly queue: Pending[] = [];
  private queuedRows = 0;
  /** Admitted and not yet running: being read or preprocessed, or queued. */
  private waiting = 0;
  private running = false;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly runBatch: RunBatch,
    options: BatcherOptions,
    private readonly observer: BatchObserver = {},
  ) {
    this.maxBatch = positiveInteger(options.maxBatch ?? 32, 'maxBatch');
    this.maxQueue = positiveInteger(options.maxQueue ?? 256, 'maxQueue');
    const delay = options.maxDelayMs ?? 0;
    if (!(Number.isFinite(delay) && delay >= 0)) throw new InvalidArgumentError('maxDelayMs', `maxDelayMs must be a number of milliseconds >= 0, got ${String(options.maxDelayMs)}.`);
    this.maxDelayMs = delay;
    this.outputOrder = options.outputs;
  }

  /** Requests admitted and not yet running. */
  get depth(): number {
    return this.waiting;
  }

  /** True when nothing is queued, running or admitted. */
  get idle(): boolean {
    return this.waiting === 0 && !this.running && this.queue.length === 0;
  }

  /** Takes a place in the queue, or throws `QueueFullError` when `maxQueue` requests are waiting. */
  admit(): Ticket {
    if (this.waiting >= this.maxQueue) throw new QueueFullError(this.maxQueue);
    this.waiting += 1;
    this.observer.queueDepth?.(this.waiting);
    return new Ticket(this);
  }

  /** Resolves once nothing is admitted, queued or running. */
  whenIdle(): Promise<void> {
    if (this.idle) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** @internal (Ticket) */
  leave(): void {
    this.waiting -= 1;
    this.observer.queueDepth?.(this.waiting);
    this.checkIdle();
  }

  /** @internal (Ticket) */
  enqueue(pixels: Tensor<'float32'>, outputs: readonly OutputName[], signal?: AbortSignal): Promise<Partial<Record<OutputName, Tensor>>> {
    const rows = pixels.shape[0] ?? 0;
    if (pixels.shape.length !== 4 || rows < 1 || rows > this.maxBatch) {
      this.leave();
      return Promise.reject(new InvalidArgumentError('pixel_values', `A request holds 1 to ${this.maxBatch} images (maxBatch), got [${pixels.shape.join(', ')}].`));
    }
    return new Promise((resolve, reject) => {
      const item: Pending = {
        pixels,
        rows,
        outputs,
        settled: false,
        enqueuedAt: performance.now(),
        resolve: (value) => {
          if (item.settled) return;
          item.settled = true;
          signal?.removeEventListener('abort', onAbort);
          resolve(value);
        },
        reject: (error) => {
          if (item.settled) return;
          item.settled = true;
          signal?.removeEventListener('abort', onAbort);
          reject(error);
        },
      };
      const onAbort = () => {
        const index = this.queue.indexOf(item);
        if (index >= 0) {
          // Still queued: it leaves the queue and never runs.
          this.queue.splice(index, 1);
          this.queuedRows -= item.rows;
          this.leave();
        }
        item.reject(signal!.reason);
      };
      if (signal?.aborted) {
        this.leave();
        reject(signal.reason);
        return;
      }
      signal?.addEventListener('abort', onAbort, { once: true });
      this.queue.push(item);
      this.queuedRows += rows;
      this.schedule();
    });
  }

  private schedule(): void {
    if (this.running || this.queue.length === 0) return;
    const waited = performance.now() - this.queue[0]!.enqueuedAt;
    if (this.queuedRows >= this.maxBatch || waited >= this.maxDelayMs) {
      this.dispatch();
    } else if (this.timer === undefined) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.schedule();
      }, this.maxDelayMs - waited);
    }
  }

  private dispatch(): void {
    if (this.timer !== undefined) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    const batch: Pending[] = [];
    let rows = 0;
    // In arrival order, while they fit and share the first one's image size.
    const size = this.queue[0]!.pixels.shape.slice(1).join('x');
    while (this.queue.length > 0 && rows + this.queue[0]!.rows <= this.maxBatch && this.queue[0]!.pixels.shape.slice(1).join('x') === size) {
      const item = this.queue.shift()!;
      batch.push(item);
      rows += item.rows;
    }
    this.queuedRows -= rows;
    this.waiting -= batch.length;
    this.observer.queueDepth?.(this.waiting);
    this.running = true;
    void this.runAndSplit(batch, rows).finally(() => {
      this.running = false;
      this.schedule();
      this.checkIdle();
    });
  }

  private async runAndSplit(batch: Pending[], rows: number): Promise<void> {
    const wanted = new Set(batch.flatMap((item) => item.outputs));
    const outputs = this.outputOrder.filter((name) => wanted.has(name));
    const started = performance.now();
    let results: Partial<Record<OutputName, Tensor>>;
    try {
      results = await this.runBatch(concatenate(batch.map((item) => item.pixels), rows), outputs);
    } catch (error) {
      for (const item of batch) item.reject(error);
      return;
    }
    this.observer.batch?.(rows, (performance.now() - started) / 1000);
    let start = 0;
    for (const item of batch) {
      const mine: Partial<Record<OutputName, Tensor>> = {};
      for (const name of item.outputs) {
        const tensor = results[name];
        if (tensor) mine[name] = sliceRows(tensor, start, item.rows);
      }
      start += item.rows;
      item.resolve(mine);
    }
  }

  private checkIdle(): void {
    if (!this.idle) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

/** One `[N, 3, H, W]` tensor from the requests' tensors (no copy for a single request). */
function concatenate(parts: readonly Tensor<'float32'>[], rows: number): Tensor<'float32'> {
  if (parts.length === 1) return parts[0]!;
  const [, channels, height, width] = parts[0]!.shape as [number, number, number, number];
  const data = new Float32Array(rows * channels * height * width);
  let offset = 0;
  for (const part of parts) {
    data.set(part.data, offset);
    offset += part.data.length;
  }
  return createTensor('float32', [rows, channels, height, width], data);
}
