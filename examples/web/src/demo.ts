/**
 * The demo's model logic, without DOM wiring: what the model field means, loading through
 * vitzoo/browser's `loadModel` (in the page or in a Web Worker), and classifying one image.
 */
import {
  VitzooError,
  loadImage,
  loadModel,
  overlayHeatmap,
  type BrowserImageSource,
  type Heatmap,
  type Model,
  type Prediction,
  type ProgressEvent,
  type RawImage,
  type WorkerModel,
} from 'vitzoo/browser';

export type BackendChoice = 'auto' | 'wasm' | 'webgpu';

/** Models bundled with the page (served from ./models/<name>/), usable offline. */
export const BUNDLED_MODELS = ['digits-vit', 'digits-deit'] as const;

export interface LoadRequest {
  /** A bundled name, a registry name, a hub repo (org/repo[@revision]), a folder URL, or picked files. */
  model: string | File[];
  /** Hub endpoint (empty: huggingface.co). */
  endpoint?: string;
  backend: BackendChoice;
  worker: boolean;
  progress?: (event: ProgressEvent) => void;
  signal?: AbortSignal;
}

export interface LoadedModel {
  /** What the user asked for, for messages. */
  name: string;
  model: Model | WorkerModel;
  /** e.g. 'wasm, 2 threads' or 'webgpu (fallback: …)'. */
  backend: string;
  dtype: string;
  /** 'built in the page', 'from the browser cache', … */
  graph: string;
  /** The class names (digits models have '0'…'9'). */
  labels: readonly string[];
  loadMs: number;
  /** Why no heat map can be drawn for this model (undefined: it can, built with the outputs explaining needs). */
  noHeatmap?: string;
}

export interface Classification {
  image: RawImage;
  predictions: Prediction[];
  /** Decode, resize, normalize (in a worker: decode only; the rest is in `inferenceMs`). */
  preprocessMs: number;
  inferenceMs: number;
  /** True when preprocessing ran in the worker, inside `inferenceMs`. */
  inWorker: boolean;
}

/** What the model field's text is loaded as: bundled names become the page's model folders. */
export function modelSource(text: string): string {
  const trimmed = text.trim();
  return (BUNDLED_MODELS as readonly string[]).includes(trimmed) ? `./models/${trimmed}/` : trimmed;
}

/** A model trained on digits, shown a photo, deserves a hint: its ten classes are '0'…'9'. */
export function isDigitsModel(labels: readonly string[]): boolean {
  return labels.length === 10 && labels.every((label, index) => label === String(index));
}

const GRAPH_SOURCES: Record<string, string> = { built: 'converted in the page', cached: 'from the browser cache (not rebuilt)', onnx: 'ONNX as published' };

/** A load refused only because the model cannot be explained (an ONNX graph run as it is, or no method its architecture has). */
function cannotExplain(error: unknown): error is VitzooError {
  return VitzooError.isInstance(error) && (error.code === 'unsupported' || (error.code === 'invalid-argument' && (error as { argument?: unknown }).argument === 'method'));
}

export async function openModel(request: LoadRequest): Promise<LoadedModel> {
  const started = performance.now();
  const source = typeof request.model === 'string' ? modelSource(request.model) : request.model;
  const options = {
    device: request.backend,
    ...(request.endpoint ? { endpoint: request.endpoint } : {}),
    ...(request.progress ? { progress: request.progress } : {}),
    ...(request.signal ? { signal: request.signal } : {}),
  };
  // The outputs heat maps need are built with the model (`explain`: the decision `vitzoo explain`
  // makes too), in the page or by the worker, which opens the files itself. A model that cannot be
  // explained loads again without them (its files are in the cache by then) and says why.
  const load = (explain?: 'auto') =>
    request.worker ? loadModel(source, { ...options, worker: true, ...(explain ? { explain } : {}) }) : loadModel(source, { ...options, ...(explain ? { explain } : {}) });
  let model: Model | WorkerModel;
  let noHeatmap: string | undefined;
  try {
    model = await load('auto');
  } catch (error) {
    if (!cannotExplain(error) || request.signal?.aborted) throw error;
    model = await load();
    noHeatmap = error.message;
  }
  const details = model.details;
  const backend = details ? `${details.backend}${details.fallbackReason ? ` (fallback: ${details.fallbackReason})` : ''}` : 'unknown';
  return {
    name: typeof request.model === 'string' ? request.model.trim() : request.model.map((file) => file.name).join(' + '),
    model,
    backend: `${backend}${request.worker ? ', in a Web Worker' : ''}`,
    dtype: details?.dtype ?? 'fp32',
    graph: GRAPH_SOURCES[details?.graph ?? 'built'] ?? '–',
    labels: model.labels ?? [],
    loadMs: performance.now() - started,
    ...(noHeatmap !== undefined ? { noHeatmap } : {}),
  };
}

/** The image with the model's heat map blended over it (inferno), at the image's own size; undefined when the model cannot explain. */
export async function heatmapOverlay(loaded: LoadedModel, image: RawImage, opacity = 0.5): Promise<{ heatmap: Heatmap; overlay: RawImage } | undefined> {
  const model = loaded.model;
  if (loaded.noHeatmap !== undefined || !('explain' in model)) return undefined;
  const [heatmap] = await model.explain(image);
  return { heatmap: heatmap!, overlay: overlayHeatmap(image, heatmap!, { opacity }) };
}

/** Decodes and preprocesses `source` (timed), then runs the model (timed) and returns the top 5. */
export async function classify(loaded: LoadedModel, source: BrowserImageSource): Promise<Classification> {
  const started = performance.now();
  const image = await loadImage(source);
  const model = loaded.model;
  if ('transform' in model) {
    const pixels = model.transform.applyBatch([image]);
    const preprocessed = performance.now();
    const [predictions] = await model.classify(pixels, { topK: 5 });
    return { image, predictions: predictions ?? [], preprocessMs: preprocessed - started, inferenceMs: performance.now() - preprocessed, inWorker: false };
  }
  const decoded = performance.now();
  const [predictions] = await model.classify(image, { topK: 5 });
  return { image, predictions: predictions ?? [], preprocessMs: decoded - started, inferenceMs: performance.now() - decoded, inWorker: true };
}
