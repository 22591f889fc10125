/**
 * @vitzoo/pipeline/node: model folders on disk (timm hub layout and fixture cases), weights files
 * (safetensors, or PyTorch checkpoints through the safe reader of @vitzoo/pytorch), `loadModel`.
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, resolve } from 'node:path';
import {
  BackendUnavailableError,
  FileNotFoundError,
  InvalidArgumentError,
  InvalidImageError,
  InvalidConfigError,
  UnsupportedError,
  convertCheckpoint,
  type BuiltGraph,
  type OutputName,
  type Registry,
} from '@vitzoo/core';
import { cachedGraph, defaultCacheDir, fileSha256, folderLayout, graphCacheKey, type ProgressListener } from '@vitzoo/hub/node';
import { PRODUCER_VERSION } from '@vitzoo/onnx';
import { createHuggingFaceTransform, type HuggingFaceProcessorConfig } from '@vitzoo/preprocess';
import { decodeImage, type RawImage } from '@vitzoo/preprocess/node';
import { loadWeights, readRequiredFile } from '@vitzoo/pytorch/node';
import { resolveBackend, type Backend, type SessionOptions } from '@vitzoo/runtime';
import { describeModelConfig, type ModelDescription } from './model-config.js';
import { Model } from './model.js';

export * from './index.js';
export * from './node-dataset.js';
export * from './node-model-folder.js';
export * from './node-soup.js';
export * from './node-train-head.js';

/** Weights files and required files are read by @vitzoo/pytorch/node (one implementation for every package). */
export { loadWeights, readRequiredFile };

/**
 * Reads and decodes an image file (sharp, see @vitzoo/preprocess/node `decodeImage`), resolving
 * `path` against `cwd` but naming it in errors as given: a missing file is `FileNotFoundError`; a
 * folder, an unreadable file, or data that is corrupt, truncated, empty, of an unsupported format
 * or over `maxPixels` pixels (default PIL's limit) is `InvalidImageError`.
 */
export async function readImageFile(path: string, options: { cwd?: string; maxPixels?: number } = {}): Promise<RawImage> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(options.cwd === undefined ? path : resolve(options.cwd, path));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FileNotFoundError(path, 'Image file');
    if (code === 'EISDIR') throw new InvalidImageError(path, 'it is a folder, not an image file');
    throw new InvalidImageError(path, `it cannot be read (${(error as Error).message})`, { cause: error });
  }
  return decodeImage(bytes, path, options.maxPixels === undefined ? {} : { maxPixels: options.maxPixels });
}

/** A model folder: what to build, with what preprocessing, and where the weights are. */
export interface ModelSource extends ModelDescription {
  /** The folder. */
  dir: string;
  /** Weights file: `--weights`, else `model.safetensors`, else `pytorch_model.bin` (timm hub names). */
  weights: string;
  /** The parsed config.json. */
  config: Record<string, unknown>;
}

/** Weights file names looked for in a model folder, in order. */
export const WEIGHTS_FILE_NAMES = ['model.safetensors', 'pytorch_model.bin'] as const;

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isFile() ?? false;
}

/**
 * Reads a model folder: `config.json` in the timm hub layout (`architecture` = registered variant
 * name, `num_classes`, `model_args`, `pretrained_cfg` incl. `label_names`) or a fixture case
 * (`architecture` id + `kwargs`), see `describeModelConfig`. The weights are not read here.
 */
export async function readModelFolder(dir: string, registry: Registry, weights?: string): Promise<ModelSource> {
  const info = await stat(dir).catch(() => null);
  if (!info) throw new FileNotFoundError(dir, 'Model folder');
  if (!info.isDirectory()) throw new InvalidArgumentError('path', `${dir} is a file; give the folder that holds config.json and the weights.`);
  const configPath = join(dir, 'config.json');
  const text = new TextDecoder().decode(await readRequiredFile(configPath, 'Model config'));
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (error) {
    throw new InvalidConfigError('config.json', text.slice(0, 40), `valid JSON (${(error as Error).message})`, configPath);
  }
  const description = describeModelConfig(config, registry, configPath);
  let weightsPath = weights;
  if (weightsPath === undefined) {
    for (const name of WEIGHTS_FILE_NAMES) {
      if (await isFile(join(dir, name))) {
        weightsPath = join(dir, name);
        break;
      }
    }
  }
  return { ...description, dir, weights: weightsPath ?? join(dir, WEIGHTS_FILE_NAMES[0]), config: config as Record<string, unknown> };
}

/** A transformers.js-layout model folder (config.json + preprocessor_config.json + an ONNX graph), run as it is. */
export interface OnnxModelSource {
  dir: string;
  /** Path of the ONNX graph. */
  graph: string;
  /** The parsed config.json (transformers' model config). */
  config: Record<string, unknown>;
  /** The parsed preprocessor_config.json. */
  preprocessor: HuggingFaceProcessorConfig;
  /** Class names from config.json `id2label`, by index. */
  labelNames?: string[];
  /** From `id2label` (or `num_labels`). */
  numClasses?: number;
}

async function readJsonFile(path: string, what: string): Promise<Record<string, unknown>> {
  const text = new TextDecoder().decode(await readRequiredFile(path, what));
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidConfigError(basename(path), text.slice(0, 40), `valid JSON (${(error as Error).message})`, path);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidConfigError(basename(path), value, 'a JSON object', path);
  return value as Record<string, unknown>;
}

/** `id2label` (`{ "0": "cat", "1": "dog" }`) as a list by index; every index 0..n-1 exactly once. */
function labelsFromId2Label(value: unknown, context: string): string[] {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidConfigError('id2label', value, 'an object of class index to name', context);
  const entries = Object.entries(value as Record<string, unknown>);
  const labels: string[] = new Array<string>(entries.length);
  for (const [key, name] of entries) {
    const index = Number(key);
    if (!/^\d+$/.test(key) || index >= entries.length || typeof name !== 'string') {
      throw new InvalidConfigError(`id2label.${key}`, name, `class names under the indices 0..${entries.length - 1}`, context);
    }
    labels[index] = name;
  }
  return labels;
}

/** True when a parsed config.json is a transformers model config (the transformers.js ONNX layout), not timm's. */
export function isTransformersConfig(config: Record<string, unknown>): boolean {
  return typeof config.architecture !== 'string' && (typeof config.model_type === 'string' || Array.isArray(config.architectures));
}

async function listModelFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    if (entry.isFile() || entry.isSymbolicLink()) files.push(entry.name);
    else if (entry.isDirectory() && entry.name === 'onnx') {
      for (const inner of await readdir(join(dir, 'onnx'), { withFileTypes: true })) if (inner.isFile() || inner.isSymbolicLink()) files.push(`onnx/${inner.name}`);
    }
  }
  return files.sort();
}

/**
 * Reads a transformers.js-layout folder: `config.json` (labels from `id2label`),
 * `preprocessor_config.json` (a Hugging Face image processor config) and the ONNX graph:
 * `modelFile` (relative to `dir`) when given, else `onnx/model.onnx`, else another `.onnx` file of
 * the folder. The graph is not read here.
 */
export async function readOnnxModelFolder(dir: string, modelFile?: string): Promise<OnnxModelSource> {
  const configPath = join(dir, 'config.json');
  const config = await readJsonFile(configPath, 'Model config');
  const preprocessor = (await readJsonFile(join(dir, 'preprocessor_config.json'), 'Image preprocessor config (preprocessor_config.json, transformers.js layout)')) as HuggingFaceProcessorConfig;
  let graph: string;
  if (modelFile !== undefined) {
    graph = isAbsolute(modelFile) ? modelFile : join(dir, modelFile);
  } else {
    const found = folderLayout(await listModelFiles(dir));
    graph = join(dir, found?.layout === 'onnx' ? found.modelFile : 'onnx/model.onnx');
  }
  if (!(await isFile(graph))) throw new FileNotFoundError(graph, 'ONNX model (transformers.js layout: onnx/model.onnx)');
  const source: OnnxModelSource = { dir, graph, config, preprocessor };
  if (config.id2label !== undefined && config.id2label !== null) {
    source.labelNames = labelsFromId2Label(config.id2label, configPath);
    source.numClasses = source.labelNames.length;
  } else if (config.num_labels !== undefined) {
    if (!Number.isSafeInteger(config.num_labels) || (config.num_labels as number) < 1) throw new InvalidConfigError('num_labels', config.num_labels, 'a positive integer', configPath);
    source.numClasses = config.num_labels as number;
  }
  return source;
}

/** Where a model is, as a `resolveSource` may say it (e.g. `ResolvedSource` of @vitzoo/hub/node). */
export interface ModelLocation {
  /** The folder. */
  dir: string;
  /** The weights (timm layout) or ONNX graph (onnx layout), relative to `dir`: e.g. an authors' release `.pth`. */
  modelFile?: string;
  /** 'timm': config.json + weights, converted; 'onnx': transformers.js layout, run as it is. Default: told from config.json. */
  layout?: 'timm' | 'onnx';
  /** The cache the files are in: built graphs are cached there too (unless `graphCache: false`). */
  cacheDir?: string;
}

export interface LoadModelOptions {
  /** Backend to run on; default: the best registered one (importing @vitzoo/runtime-node registers 'node'). */
  backend?: Backend;
  /** Registry of architectures; default `createDefaultRegistry()` from the 'vitzoo' package. */
  registry?: Registry;
  /** Outputs to build (default ['logits']; add 'pre_logits' to `embed`). ONNX-layout graphs have what they have. */
  outputs?: readonly OutputName[];
  /** Weights file instead of the folder's model.safetensors (e.g. a .pth checkpoint). */
  weights?: string;
  labelNames?: readonly string[];
  sessionOptions?: SessionOptions;
  batchSize?: number;
  /**
   * Extension point for sources that are not local folders (a hub id, a URL): called with the
   * name when `nameOrDir` is not an existing folder, it returns the local folder that holds the
   * model (e.g. after downloading it into a cache), or a `ModelLocation` that also names the model
   * file and layout. `resolveModelSource` of @vitzoo/hub/node fits as it is; vitzoo itself never
   * downloads.
   */
  resolveSource?: (name: string, options: { signal?: AbortSignal }) => Promise<string | ModelLocation>;
  /**
   * The built-graph cache (timm-layout folders): a converted graph is stored under
   * `<cacheDir>/graphs/`, keyed by the weights' sha256, architecture, kwargs, outputs and builder
   * version, so a second load skips conversion (and reading the weights). `true`: in the default
   * cache folder (VITZOO_CACHE, else $XDG_CACHE_HOME/vitzoo, else ~/.cache/vitzoo); `{ cacheDir }`:
   * there; `false`: never. Default: on for models a `resolveSource` fetched into a cache (in that
   * cache), off for local folders.
   */
  graphCache?: boolean | { cacheDir?: string };
  /** Conversion progress (bytes of the graph written to the cache). */
  onProgress?: ProgressListener;
  signal?: AbortSignal;
}

/** `createDefaultRegistry()` of the 'vitzoo' package (every built-in architecture). */
export async function defaultRegistry(): Promise<Registry> {
  const specifier = 'vitzoo';
  try {
    const module = (await import(specifier)) as { createDefaultRegistry(): Registry };
    return module.createDefaultRegistry();
  } catch (error) {
    throw new InvalidArgumentError(
      'registry',
      `No registry given and the 'vitzoo' package (which registers every built-in architecture) could not be loaded: ${(error as Error).message}. ` +
        'Install vitzoo or pass { registry }.',
    );
  }
}

/** The best registered backend, after importing @vitzoo/runtime-node (which registers 'node'). */
export async function defaultBackend(): Promise<Backend> {
  const specifier = '@vitzoo/runtime-node';
  try {
    await import(specifier); // registers the 'node' backend
  } catch (error) {
    throw new BackendUnavailableError([{ backend: 'node', reason: `@vitzoo/runtime-node could not be loaded (${(error as Error).message})` }]);
  }
  return resolveBackend();
}

/** Where a model name or folder is: an existing folder, or what `resolveSource` returns (its folder and, when it says, model file and layout). */
export async function locateModelSource(
  nameOrDir: string,
  registry: Registry,
  options: Pick<LoadModelOptions, 'resolveSource' | 'signal'> = {},
): Promise<ModelLocation> {
  if (typeof nameOrDir !== 'string' || nameOrDir === '') throw new InvalidArgumentError('model', 'Name a model folder (or a model name with a source resolver).');
  const info = await stat(nameOrDir).catch(() => null);
  if (info?.isDirectory()) return { dir: nameOrDir };
  if (info) throw new InvalidArgumentError('model', `${nameOrDir} is a file; give the folder that holds config.json and the weights.`);
  if (options.resolveSource) {
    const resolved = await options.resolveSource(nameOrDir, { signal: options.signal });
    if (typeof resolved === 'string') return { dir: resolved };
    if (typeof resolved !== 'object' || resolved === null || typeof resolved.dir !== 'string') {
      throw new InvalidArgumentError('resolveSource', `resolveSource must return a folder path or { dir, modelFile?, layout? }, got ${JSON.stringify(resolved)}.`);
    }
    const { dir, modelFile, layout, cacheDir } = resolved;
    return { dir, ...(modelFile !== undefined ? { modelFile } : {}), ...(layout !== undefined ? { layout } : {}), ...(cacheDir !== undefined ? { cacheDir } : {}) };
  }
  const looksLikePath = isAbsolute(nameOrDir) || nameOrDir.startsWith('.') || nameOrDir.includes('\\') || /^[^:]*\/[^/]*\//.test(nameOrDir);
  if (looksLikePath) throw new FileNotFoundError(nameOrDir, 'Model folder');
  registry.resolve(nameOrDir); // an unknown name: UnknownModelError with suggestions
  throw new InvalidArgumentError(
    'model',
    `'${nameOrDir}' is a registered model, but no folder of that name exists and vitzoo does not download weights: ` +
      'give a local model folder (timm hub layout: config.json + model.safetensors), or pass a resolveSource (e.g. from @vitzoo/hub).',
  );
}

/** Where a model name or folder is: an existing folder, or the folder `resolveSource` returns. */
export async function locateModel(
  nameOrDir: string,
  registry: Registry,
  options: Pick<LoadModelOptions, 'resolveSource' | 'signal'> = {},
): Promise<string> {
  return (await locateModelSource(nameOrDir, registry, options)).dir;
}

/** The layout of a folder, from its config.json: a transformers config means the ONNX layout. */
async function folderModelLayout(dir: string): Promise<'timm' | 'onnx'> {
  const text = await readFile(join(dir, 'config.json'), 'utf8').catch(() => undefined);
  if (text === undefined) return 'timm'; // readModelFolder names the missing file
  try {
    const config = JSON.parse(text) as unknown;
    return typeof config === 'object' && config !== null && !Array.isArray(config) && isTransformersConfig(config as Record<string, unknown>) ? 'onnx' : 'timm';
  } catch {
    return 'timm'; // readModelFolder reports the bad JSON
  }
}

/** The folder of the built-graph cache, or undefined when it is off. */
function graphCacheFolder(setting: LoadModelOptions['graphCache'], location: ModelLocation): string | undefined {
  if (setting === false) return undefined;
  if (setting === undefined) return location.cacheDir;
  if (setting === true) return location.cacheDir ?? defaultCacheDir();
  if (typeof setting !== 'object' || setting === null) {
    throw new InvalidArgumentError('graphCache', `graphCache must be true, false or { cacheDir }, got ${JSON.stringify(setting)}.`);
  }
  return setting.cacheDir ?? location.cacheDir ?? defaultCacheDir();
}

/** The cache key of the graph `loadModel` builds for a timm-layout folder (see @vitzoo/hub's `graphCacheKey`). */
export async function modelGraphKey(source: Pick<ModelSource, 'architecture' | 'kwargs' | 'weights'>, outputs: readonly OutputName[]): Promise<string> {
  const info = await stat(source.weights).catch(() => null);
  if (!info?.isFile()) throw new FileNotFoundError(source.weights, 'Weights file');
  return graphCacheKey({
    weightsSha256: await fileSha256(source.weights),
    architecture: source.architecture.id,
    kwargs: source.kwargs,
    outputs,
    builderVersion: `${PRODUCER_VERSION}/${source.architecture.builderVersion ?? 'unversioned'}`,
  });
}

async function loadOnnxModel(location: ModelLocation, options: LoadModelOptions): Promise<Model> {
  const modelFile = location.modelFile !== undefined && /\.onnx$/i.test(location.modelFile) ? location.modelFile : options.weights !== undefined && /\.onnx$/i.test(options.weights) ? options.weights : undefined;
  if (options.weights !== undefined && modelFile !== options.weights) {
    throw new InvalidArgumentError('weights', `${location.dir} is an ONNX (transformers.js layout) folder: the weights option must name an .onnx file, got ${options.weights}.`);
  }
  const source = await readOnnxModelFolder(location.dir, modelFile);
  const transform = createHuggingFaceTransform(source.preprocessor);
  options.signal?.throwIfAborted();
  const backend = options.backend ?? (await defaultBackend());
  const model = await Model.create({
    graph: source.graph, // the backend opens the file itself
    backend,
    transform,
    numClasses: source.numClasses,
    labelNames: options.labelNames ?? source.labelNames,
    sessionOptions: options.sessionOptions,
    batchSize: options.batchSize,
    source: source.graph,
  });
  const missing = (options.outputs ?? ['logits']).filter((output) => !model.outputs.includes(output));
  if (missing.length > 0) {
    await model.dispose();
    throw new UnsupportedError(
      `${source.graph} gives ${model.outputs.map((name) => `'${name}'`).join(', ')}, not ${missing.map((name) => `'${name}'`).join(', ')}: ONNX-layout models run as they are; ` +
        'load the timm checkpoint to build other outputs.',
    );
  }
  return model;
}

/**
 * Loads a model: a local folder (timm hub layout, a fixture case, or the transformers.js ONNX
 * layout) or a name `options.resolveSource` turns into one. timm-layout folders are converted
 * (config, weights, ONNX graph with the requested outputs; the built graph is cached when
 * `graphCache` says so); ONNX-layout folders run their graph as it is, preprocessed as their
 * `preprocessor_config.json` says and labelled by `id2label`.
 */
export async function loadModel(nameOrDir: string, options: LoadModelOptions = {}): Promise<Model> {
  const registry = options.registry ?? (await defaultRegistry());
  const location = await locateModelSource(nameOrDir, registry, options);
  const layout = location.layout ?? (await folderModelLayout(location.dir));
  if (layout === 'onnx') return loadOnnxModel(location, options);
  const weights = options.weights ?? (location.modelFile !== undefined ? join(location.dir, location.modelFile) : undefined);
  const source = await readModelFolder(location.dir, registry, weights);
  const outputs = options.outputs ?? ['logits'];
  const convert = async () => {
    const stateDict = await loadWeights(source.weights);
    options.signal?.throwIfAborted();
    return convertCheckpoint({ architecture: source.architecture, kwargs: source.kwargs, stateDict, outputs });
  };
  const cacheDir = graphCacheFolder(options.graphCache, location);
  let graph: BuiltGraph | string;
  if (cacheDir === undefined) {
    graph = await convert();
  } else {
    // The graph file, verified against its cache entry (size + sha256) or built and written to it;
    // the backend then opens the file itself, which is faster than reading it into memory.
    graph = await cachedGraph(await modelGraphKey(source, outputs), convert, { cacheDir, onProgress: options.onProgress });
  }
  options.signal?.throwIfAborted();
  const backend = options.backend ?? (await defaultBackend());
  return Model.create({
    graph,
    backend,
    pretrained: source.pretrained,
    labelNames: options.labelNames,
    sessionOptions: options.sessionOptions,
    batchSize: options.batchSize,
  });
}
