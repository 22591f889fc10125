import {
  DTYPES,
  HEAD_OUTPUT_NAMES,
  InvalidArgumentError,
  positiveInteger,
  convertCheckpoint,
  createTensor,
  maxAbsDifference,
  resolveDtype,
  rowCosines,
  sliceRows,
  topOneAgreement,
  type Architecture,
  type Dtype,
  type OutputName,
  type StateDict,
  type Tensor,
} from '@vitzoo/core';
import type { Backend, SessionOptions } from '@vitzoo/runtime';
import { Model } from './model.js';

/** What one precision costs against fp32 on the same images (`compareDtypes`). */
export interface DtypeComparison {
  dtype: Dtype;
  /** Size of the ONNX graph in bytes, and as a fraction of the fp32 graph's. */
  bytes: number;
  sizeRatio: number;
  /** Images whose top-1 class is fp32's. */
  topOne: { equal: number; total: number };
  /** Largest |logit − fp32 logit| over every image and class. */
  maxLogitDiff: number;
  /** Cosine similarity of each image's embedding (`pre_logits`) with fp32's: the smallest and the mean; null when the architecture has no pre_logits. */
  embeddingCosine: { min: number; mean: number } | null;
  /** Median milliseconds per image of `forward` on a batch, and as a fraction of fp32's (measured interleaved); null when `runs` is 0. */
  msPerImage: number | null;
  speedRatio: number | null;
}

export interface CompareDtypesOptions {
  architecture: Architecture;
  kwargs: Readonly<Record<string, unknown>>;
  stateDict: StateDict;
  backend: Backend;
  /** Preprocessed images [N, 3, H, W]. */
  pixels: Tensor;
  /** Precisions to compare with fp32 (default every other one: fp16, int8, q4). */
  dtypes?: readonly Dtype[];
  q4BlockSize?: number;
  /** Images per inference call (default 32); the timing runs one such batch. */
  batchSize?: number;
  /** Timed runs per dtype after one warm-up, interleaved across dtypes (default 5; 0: no timing). */
  runs?: number;
  sessionOptions?: SessionOptions;
  signal?: AbortSignal;
}

function concatRows(parts: readonly Tensor[]): Tensor<'float32'> {
  const rows = parts.reduce((sum, part) => sum + part.shape[0]!, 0);
  const data = new Float32Array(parts.reduce((sum, part) => sum + part.data.length, 0));
  let offset = 0;
  for (const part of parts) {
    data.set(part.data as Float32Array, offset);
    offset += part.data.length;
  }
  return createTensor('float32', [rows, ...parts[0]!.shape.slice(1)], data);
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[sorted.length >> 1]!;
}

/**
 * Builds the model at fp32 and at each of `dtypes` from the same weights, runs the same images
 * through each, and reports per dtype what the lower precision costs: graph size, top-1 agreement
 * with fp32, the largest logit difference, the cosine of the embeddings, and the speed of a batch
 * (every dtype's session alive at once, timed in interleaved rounds so load affects all alike).
 * Platform-free: give it any backend.
 */
export async function compareDtypes(options: CompareDtypesOptions): Promise<DtypeComparison[]> {
  const requested = (options.dtypes ?? DTYPES.filter((dtype) => dtype !== 'fp32')).map((dtype) => resolveDtype(dtype));
  const dtypes: Dtype[] = ['fp32', ...requested.filter((dtype, index) => dtype !== 'fp32' && requested.indexOf(dtype) === index)];
  const { pixels } = options;
  if (pixels.shape.length !== 4 || pixels.shape[0]! < 1) throw new InvalidArgumentError('pixels', `Expected preprocessed images [N, 3, H, W], got [${pixels.shape.join(', ')}].`);
  const batchSize = positiveInteger(options.batchSize ?? 32, 'batchSize');
  const runs = options.runs ?? 5;
  if (!Number.isSafeInteger(runs) || runs < 0) throw new InvalidArgumentError('runs', `runs must be a whole number (0: no timing), got ${String(runs)}.`);
  const supported = options.architecture.supportedOutputs ?? HEAD_OUTPUT_NAMES;
  const outputs: OutputName[] = supported.includes('pre_logits') ? ['logits', 'pre_logits'] : ['logits'];
  const images = pixels.shape[0]!;
  const built: { dtype: Dtype; bytes: number; model: Model; results: Record<string, Tensor> }[] = [];
  try {
    for (const dtype of dtypes) {
      options.signal?.throwIfAborted();
      const graph = convertCheckpoint({ architecture: options.architecture, kwargs: options.kwargs, stateDict: options.stateDict, outputs, dtype, q4BlockSize: options.q4BlockSize });
      const model = await Model.create({ graph, backend: options.backend, sessionOptions: options.sessionOptions, batchSize });
      built.push({ dtype, bytes: graph.byteLength, model, results: {} });
      const parts: Record<string, Tensor[]> = {};
      for (let start = 0; start < images; start += batchSize) {
        const result = await model.forward(sliceRows(pixels, start, Math.min(batchSize, images - start)), { signal: options.signal });
        for (const output of outputs) (parts[output] ??= []).push(result[output]!);
      }
      for (const output of outputs) built[built.length - 1]!.results[output] = concatRows(parts[output]!);
    }
    const timingBatch = sliceRows(pixels, 0, Math.min(batchSize, images));
    const times = built.map(() => [] as number[]);
    for (let round = 0; runs > 0 && round <= runs; round++) {
      for (const [index, entry] of built.entries()) {
        options.signal?.throwIfAborted();
        const started = performance.now();
        await entry.model.forward(timingBatch, { outputs: ['logits'] });
        if (round > 0) times[index]!.push((performance.now() - started) / timingBatch.shape[0]!);
      }
    }
    const reference = built[0]!;
    const referenceMs = runs > 0 ? median(times[0]!) : null;
    return built.map((entry, index) => {
      const cosines = entry.results.pre_logits ? rowCosines(entry.results.pre_logits, reference.results.pre_logits!) : null;
      const msPerImage = referenceMs === null ? null : median(times[index]!);
      return {
        dtype: entry.dtype,
        bytes: entry.bytes,
        sizeRatio: entry.bytes / reference.bytes,
        topOne: topOneAgreement(entry.results.logits!, reference.results.logits!),
        maxLogitDiff: maxAbsDifference(entry.results.logits!, reference.results.logits!),
        embeddingCosine: cosines ? { min: Math.min(...cosines), mean: cosines.reduce((sum, value) => sum + value, 0) / cosines.length } : null,
        msPerImage,
        speedRatio: msPerImage === null || referenceMs === null ? null : msPerImage / referenceMs,
      };
    });
  } finally {
    for (const entry of built) await entry.model.dispose();
  }
}
