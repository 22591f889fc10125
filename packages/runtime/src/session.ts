import type { InferenceSession, Tensor as OrtTensor, TypedTensor } from 'onnxruntime-common';
import { InferenceError, InvalidArgumentError, formatShape, type DataType, type Tensor } from '@vitzoo/core';
import type { BackendSession, RunOptions, SessionOptions } from './backend.js';
import { checkThreads } from './backend.js';

/** The parts of an onnxruntime package (node or web) the shared session logic needs. */
export interface OrtBinding {
  InferenceSession: {
    create(model: Uint8Array | string, options?: InferenceSession.SessionOptions): Promise<InferenceSession>;
  };
  Tensor: new (type: OrtTensor.Type, data: OrtTensor.DataType, dims?: readonly number[]) => OrtTensor;
}

type OrtType = OrtTensor.Type;

const toOrtType: Partial<Record<DataType, OrtType>> = {
  float32: 'float32',
  float16: 'float16',
  float64: 'float64',
  int8: 'int8',
  uint8: 'uint8',
  int16: 'int16',
  uint16: 'uint16',
  int32: 'int32',
  uint32: 'uint32',
  int64: 'int64',
  uint64: 'uint64',
  bool: 'bool',
};

/**
 * An output's data as vitzoo's tensors hold it. float16 is kept as raw 16-bit patterns
 * (`Uint16Array`): where the JavaScript engine has `Float16Array` (Chromium 135+, newer Node),
 * onnxruntime-web returns one, and its elements are numbers, not bits — so the same bytes are
 * viewed as `Uint16Array`.
 */
export function tensorData(dtype: DataType, data: unknown): Tensor['data'] {
  if (dtype === 'float16' && !(data instanceof Uint16Array) && ArrayBuffer.isView(data)) {
    const view = data as ArrayBufferView & { length: number };
    return new Uint16Array(view.buffer, view.byteOffset, view.length);
  }
  return data as Tensor['data'];
}

/** ONNX Runtime's error messages carry a long prefix and sometimes a stack; keep the reason. */
export function cleanOrtMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const firstLine = text.split('\n')[0] ?? text;
  return firstLine.replace(/^\[ErrorCode:\w+\]\s*/, '').replace(/^Error:\s*/, '').trim();
}

export function sessionOptions(options: SessionOptions = {}): InferenceSession.SessionOptions {
  checkThreads(options.intraOpNumThreads, 'intraOpNumThreads');
  checkThreads(options.interOpNumThreads, 'interOpNumThreads');
  const out: InferenceSession.SessionOptions = { ...(options.extra ?? {}) };
  if (options.executionProviders) out.executionProviders = options.executionProviders;
  if (options.intraOpNumThreads) out.intraOpNumThreads = options.intraOpNumThreads;
  if (options.interOpNumThreads) out.interOpNumThreads = options.interOpNumThreads;
  if (options.graphOptimizationLevel) out.graphOptimizationLevel = options.graphOptimizationLevel;
  return out;
}

interface InputMetadata {
  name: string;
  type?: string;
  shape?: readonly (number | string | undefined)[];
}

/**
 * Wraps an ONNX Runtime session in the backend-neutral session: our tensors in and out, feeds
 * checked against the model's signature (clear errors instead of runtime traces), errors typed.
 */
export class OrtBackendSession implements BackendSession {
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
  private disposed = false;

  constructor(
    readonly backend: string,
    private readonly session: InferenceSession,
    private readonly binding: OrtBinding,
  ) {
    this.inputNames = session.inputNames;
    this.outputNames = session.outputNames;
  }

  static async create(backend: string, binding: OrtBinding, model: Uint8Array | string, options?: SessionOptions): Promise<OrtBackendSession> {
    const ortOptions = sessionOptions(options);
    try {
      return new OrtBackendSession(backend, await binding.InferenceSession.create(model, ortOptions), binding);
    } catch (error) {
      if (InferenceError.isInstance(error)) throw error;
      throw new InferenceError(backend, `${backend} could not load the model: ${cleanOrtMessage(error)}`, { cause: error });
    }
  }

  private checkFeed(name: string, tensor: Tensor): void {
    const metadata = (this.session as unknown as { inputMetadata?: readonly InputMetadata[] }).inputMetadata?.find((m) => m.name === name);
    if (!metadata?.shape) return;
    const expected = metadata.shape;
    const mismatch =
      expected.length !== tensor.shape.length || expected.some((dim, i) => typeof dim === 'number' && dim >= 0 && dim !== tensor.shape[i]);
    const typeMismatch = metadata.type !== undefined && metadata.type !== tensor.dtype;
    if (mismatch || typeMismatch) {
      const wanted = `[${expected.map((d) => (typeof d === 'number' && d >= 0 ? d : (d ?? '?'))).join(', ')}]`;
      throw new InvalidArgumentError(
        name,
        `Input '${name}' must be ${metadata.type ?? ''} ${wanted}, got ${tensor.dtype} ${formatShape(tensor.shape)}.`,
      );
    }
  }

  async run(feeds: Readonly<Record<string, Tensor>>, options: RunOptions = {}): Promise<Record<string, Tensor>> {
    if (this.disposed) throw new InvalidArgumentError('session', 'This session has been disposed.');
    options.signal?.throwIfAborted();
    const ortFeeds: Record<string, OrtTensor> = {};
    for (const name of this.inputNames) {
      const tensor = feeds[name];
      if (!tensor) throw new InvalidArgumentError(name, `Missing input '${name}' (the model takes ${this.inputNames.join(', ')}).`);
      this.checkFeed(name, tensor);
      const type = toOrtType[tensor.dtype];
      if (!type) throw new InvalidArgumentError(name, `Input '${name}' has dtype ${tensor.dtype}, which ONNX Runtime cannot take.`);
      ortFeeds[name] = new this.binding.Tensor(type, tensor.data as OrtTensor.DataType, tensor.shape);
    }
    for (const name of Object.keys(feeds)) {
      if (!this.inputNames.includes(name)) {
        throw new InvalidArgumentError(name, `Unknown input '${name}' (the model takes ${this.inputNames.join(', ')}).`);
      }
    }
    const wanted = options.outputs ?? this.outputNames;
    for (const name of wanted) {
      if (!this.outputNames.includes(name)) {
        throw new InvalidArgumentError('outputs', `Unknown output '${name}' (the model gives ${this.outputNames.join(', ')}).`);
      }
    }
    let results: InferenceSession.OnnxValueMapType;
    try {
      results = await this.session.run(ortFeeds, [...wanted]);
    } catch (error) {
      if (InferenceError.isInstance(error)) throw error;
      throw new InferenceError(this.backend, `${this.backend} failed to run the model: ${cleanOrtMessage(error)}`, { cause: error });
    }
    options.signal?.throwIfAborted();
    const out: Record<string, Tensor> = {};
    for (const name of wanted) {
      const value = results[name] as TypedTensor<'float32'> | undefined;
      if (!value) continue;
      out[name] = { dtype: value.type as DataType, shape: [...value.dims], data: tensorData(value.type as DataType, value.data) };
    }
    return out;
  }

  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.session.release();
  }
}
