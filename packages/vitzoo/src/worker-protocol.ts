/**
 * Messages between `loadModel(…, { worker: true })` (the page) and vitzoo's worker script
 * (`vitzoo/worker`). Everything in them is structured-cloneable; typed arrays of results are
 * transferred, not copied.
 */
import type { PretrainedConfig, ProgressEvent } from '@vitzoo/core';
import type { LoadModelOptions, ModelDetails } from '@vitzoo/pipeline';

/** The loader options that can cross into a worker (no functions, no objects with methods). */
export interface WorkerLoadOptions
  extends Pick<LoadModelOptions, 'device' | 'dtype' | 'q4BlockSize' | 'imageSize' | 'explain' | 'outputs' | 'endpoint' | 'revision' | 'cache' | 'graphCache' | 'sessionOptions' | 'weights' | 'labelNames' | 'batchSize'> {
  /** Absolute URL of onnxruntime-web's wasm files (a worker's own location is not the page's). */
  wasmPaths?: string;
  /** Base URL of relative model folders (the page's). */
  baseUrl?: string;
}

export type WorkerRequest =
  | { type: 'load'; id: number; source: unknown; options: WorkerLoadOptions }
  | { type: 'call'; id: number; model: number; method: 'classify' | 'embed' | 'forward' | 'explain'; input: unknown; options: Record<string, unknown> }
  | { type: 'dispose'; id: number; model: number }
  | { type: 'cancel'; id: number };

/** What the page learns about a model loaded in the worker. */
export interface WorkerModelInfo {
  model: number;
  outputs: readonly string[];
  labels: readonly string[] | undefined;
  pretrained: PretrainedConfig | undefined;
  details: ModelDetails | undefined;
  batchSize: number;
}

export interface SerializedError {
  name: string;
  message: string;
  /** A VitzooError's code and typed fields (its toJSON()), when it is one. */
  fields?: Record<string, unknown>;
}

export type WorkerResponse =
  | { type: 'progress'; id: number; event: ProgressEvent }
  | { type: 'result'; id: number; value: unknown }
  | { type: 'error'; id: number; error: SerializedError };
