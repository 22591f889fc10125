/**
 * vitzoo for browsers and workers, batteries included: every architecture registered, `loadModel`
 * fetching registry names, hub repos and model folders (files kept in the Cache API, built graphs
 * too) or opening picked files, run on onnxruntime-web (WebGPU, falling back to wasm with the
 * reason), and `loadImage` (Blob, <img>, canvas, ImageBitmap, video frame).
 *
 * ```ts
 * import { loadImage, loadModel } from 'vitzoo/browser';
 * const model = await loadModel('timm/deit_tiny_patch16_224.fb_in1k');
 * const [top5] = await model.classify(await loadImage(fileInput.files[0]));
 * ```
 */
import type { Registry } from '@vitzoo/core';
import { createBrowserFileSource, loadModel as loadModelFrom, type LoadModelOptions as PipelineLoadModelOptions, type Model, type ModelSourceInput } from '@vitzoo/pipeline/browser';
import '@vitzoo/runtime-web'; // registers the 'webgpu' and 'wasm' backends
import { defaultRegistry } from './registry.js';
import { loadModelInWorker, type WorkerModel, type WorkerModelOptions } from './worker-client.js';

export * from '@vitzoo/core';
export * from './registry.js';
export { Model, buildModel, createModel, type ClassifyOptions, type Device, type ExplainMethod, type Heatmap, type ModelDetails, type ModelSourceInput, type Prediction } from '@vitzoo/pipeline';
export { overlayHeatmap, colorize, type Colormap } from '@vitzoo/preprocess';
export { createBrowserFileSource, type BrowserFileSourceOptions } from '@vitzoo/pipeline/browser';
export { loadImage, type BrowserImageSource, type RawImage } from '@vitzoo/preprocess/browser';
export { configureWebRuntime, webRuntimeEnvironment, type WebRuntimeSettings } from '@vitzoo/runtime-web';

export interface LoadModelOptions extends Omit<PipelineLoadModelOptions, 'registry'> {
  /** Default: every built-in architecture (`createDefaultRegistry()`). */
  registry?: Registry;
}

export { WorkerModel, type WorkerModelOptions } from './worker-client.js';

/**
 * Loads a model in a page or worker: a registry name, a hub repo (`org/repo[@revision]` at
 * `endpoint`, default https://huggingface.co), a model folder URL (or a path relative to the page),
 * or picked files (`File`s / a `FileList`: config.json + model.safetensors or a .pth). Downloads
 * and built graphs are kept in the Cache API (`cache`, default 'vitzoo'; `false` keeps nothing),
 * so a second load reads neither weights nor converts, offline too. `device`: 'auto' (WebGPU, else
 * wasm), 'webgpu', 'wasm'. With `{ worker: true }` (or a Worker started from `vitzoo/worker`)
 * conversion and inference run in a Web Worker and a `WorkerModel` (same API) is returned.
 */
export function loadModel(source: ModelSourceInput, options: WorkerModelOptions): Promise<WorkerModel>;
export function loadModel(source: ModelSourceInput, options?: LoadModelOptions): Promise<Model>;
export function loadModel(source: ModelSourceInput, options: LoadModelOptions | WorkerModelOptions = {}): Promise<Model | WorkerModel> {
  if ('worker' in options && options.worker) return loadModelInWorker(source, options as WorkerModelOptions);
  return loadModelFrom(source, {
    ...(options as LoadModelOptions),
    registry: (options as LoadModelOptions).registry ?? defaultRegistry(),
    fileSource: (options as LoadModelOptions).fileSource ?? createBrowserFileSource(),
  });
}
