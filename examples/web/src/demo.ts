/**
 * The demo's model logic, without DOM wiring: fetch a model folder (timm hub layout: config.json +
 * model.safetensors), build its ONNX graph in the page, open it on a web backend, classify images.
 */
import { convertCheckpoint, parseSafetensors } from '@vitzoo/core';
import { createModel, describeModelConfig, type Model, type Prediction } from '@vitzoo/pipeline';
import { createTransform, loadImage, type BrowserImageSource, type ImageTransform, type RawImage } from '@vitzoo/preprocess/browser';
import { resolveWebBackend, webRuntimeEnvironment } from '@vitzoo/runtime-web';
import { createDefaultRegistry } from 'vitzoo';

const registry = createDefaultRegistry();

export type BackendChoice = 'auto' | 'wasm' | 'webgpu';

export interface LoadedModel {
  name: string;
  model: Model;
  transform: ImageTransform;
  backend: string;
  /** Why the preferred backend was not used (e.g. no WebGPU adapter), when it was not. */
  fallbackReason?: string;
  /** e.g. 'wasm, 4 threads' */
  backendDetails: string;
  loadMs: number;
}

export interface Classification {
  image: RawImage;
  predictions: Prediction[];
  preprocessMs: number;
  inferenceMs: number;
}

async function fetchOk(url: URL): Promise<Response> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`Could not fetch ${url.pathname}: HTTP ${response.status}`);
  return response;
}

/** Loads a model folder served at `<page>/models/<name>/` and opens it on the chosen backend. */
export async function loadModel(name: string, choice: BackendChoice, signal?: AbortSignal): Promise<LoadedModel> {
  const started = performance.now();
  const folder = new URL(`models/${name}/`, document.baseURI);
  const [configResponse, weightsResponse] = await Promise.all([fetchOk(new URL('config.json', folder)), fetchOk(new URL('model.safetensors', folder))]);
  const description = describeModelConfig(await configResponse.json(), registry, `${folder.pathname}config.json`);
  const stateDict = parseSafetensors(new Uint8Array(await weightsResponse.arrayBuffer()), { source: `${folder.pathname}model.safetensors` }).tensors;
  signal?.throwIfAborted();
  const graph = convertCheckpoint({ architecture: description.architecture, kwargs: description.kwargs, stateDict, outputs: ['logits'] });
  const resolved = await resolveWebBackend(choice === 'auto' ? ['webgpu', 'wasm'] : [choice]);
  const model = await createModel({ graph, backend: resolved.backend, pretrained: description.pretrained });
  const environment = webRuntimeEnvironment();
  const backendDetails =
    resolved.backend.name === 'wasm' && environment
      ? `wasm, ${environment.numThreads} thread${environment.numThreads === 1 ? '' : 's'}${environment.crossOriginIsolated ? '' : ' (page not cross-origin isolated)'}`
      : resolved.backend.name;
  return {
    name,
    model,
    transform: createTransform(description.pretrained),
    backend: resolved.backend.name,
    ...(resolved.fallbackReason ? { fallbackReason: resolved.fallbackReason } : {}),
    backendDetails,
    loadMs: performance.now() - started,
  };
}

/** Decodes and preprocesses `source` (timed), then runs the model (timed) and returns the top 5. */
export async function classify(loaded: LoadedModel, source: BrowserImageSource): Promise<Classification> {
  const started = performance.now();
  const image = await loadImage(source);
  const pixels = loaded.transform.applyBatch([image]);
  const preprocessed = performance.now();
  const [predictions] = await loaded.model.classify(pixels, { topK: 5 });
  return { image, predictions: predictions ?? [], preprocessMs: preprocessed - started, inferenceMs: performance.now() - preprocessed };
}
