/**
 * vitzoo for Node, batteries included: every architecture registered, `loadModel` downloading
 * registry names, hub repos and URLs into the cache (or opening local folders) and running them on
 * onnxruntime-node, and `loadImage` (sharp). Browsers: `vitzoo/browser`.
 *
 * ```ts
 * import { loadImage, loadModel } from 'vitzoo';
 * const model = await loadModel('timm/deit_tiny_patch16_224.fb_in1k');
 * const [top5] = await model.classify(await loadImage('cat.jpg'));
 * ```
 */
import { BackendUnavailableError, type Registry } from '@vitzoo/core';
import { loadModel as loadModelFrom, type LoadModelOptions as PipelineLoadModelOptions, type Model, type ModelSourceInput } from '@vitzoo/pipeline';
import { createNodeFileSource } from '@vitzoo/pipeline/node';
import { defaultRegistry } from './registry.js';

export * from '@vitzoo/core';
export * from './registry.js';
export { Model, buildModel, createModel, type ClassifyOptions, type Device, type ExplainMethod, type Heatmap, type ModelDetails, type ModelSourceInput, type Prediction } from '@vitzoo/pipeline';
export { overlayHeatmap, colorize, type Colormap } from '@vitzoo/preprocess';
export { loadImage, decodeImage, encodePng, type RawImage } from '@vitzoo/preprocess/node';

export interface LoadModelOptions extends Omit<PipelineLoadModelOptions, 'registry'> {
  /** Default: every built-in architecture (`createDefaultRegistry()`). */
  registry?: Registry;
  /** Base for relative folders. Default process.cwd(). */
  cwd?: string;
}

let runtime: Promise<unknown> | undefined;

/** Imports @vitzoo/runtime-node (registers the 'node' backend), with a clear error when onnxruntime-node cannot load. */
function loadNodeRuntime(): Promise<unknown> {
  runtime ??= import('@vitzoo/runtime-node').catch((error: unknown) => {
    runtime = undefined;
    throw new BackendUnavailableError([
      {
        backend: 'node',
        reason:
          `@vitzoo/runtime-node could not be loaded (${error instanceof Error ? error.message : String(error)}). ` +
          'Reinstall it; where onnxruntime-node\'s install script cannot download (offline, or a registry mirror), add `onnxruntime-node-install=skip` to the app\'s .npmrc first (the CPU binaries ship in the npm package)',
      },
    ]);
  });
  return runtime;
}

/**
 * Loads a model: a registry name (`deit_tiny_patch16_224.fb_in1k`), a hub repo
 * (`org/repo[@revision]`, HF_ENDPOINT / `endpoint`, HF_TOKEN), a URL, a local folder, or picked
 * files. Downloads land in the cache (`cache`, else VITZOO_CACHE, else $XDG_CACHE_HOME/vitzoo,
 * else ~/.cache/vitzoo) and built graphs beside them, so a second load neither downloads nor
 * converts. Runs on onnxruntime-node unless `backend` says otherwise.
 */
export async function loadModel(source: ModelSourceInput, options: LoadModelOptions = {}): Promise<Model> {
  const { cwd, ...rest } = options;
  if (!rest.backend) await loadNodeRuntime();
  return loadModelFrom(source, {
    ...rest,
    registry: rest.registry ?? defaultRegistry(),
    fileSource: rest.fileSource ?? createNodeFileSource({ download: true, ...(cwd !== undefined ? { cwd } : {}) }),
  });
}
