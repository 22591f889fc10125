/**
 * @vitzoo/pipeline/node: model folders on disk (timm hub layout and fixture cases), weights files
 * (safetensors, or PyTorch checkpoints through the safe reader of @vitzoo/pytorch), `loadModel`.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, isAbsolute, join, resolve } from 'node:path';
import { FileAccessError, FileNotFoundError, InvalidArgumentError, InvalidConfigError, type ProgressListener, type Registry } from '@vitzoo/core';
import { createGraphStore, defaultCacheDir, fileSha256, folderLayout, resolveModelSource, type GraphStore } from '@vitzoo/hub/node';
import { type HuggingFaceProcessorConfig } from '@vitzoo/preprocess';
import { loadWeights, readRequiredFile } from '@vitzoo/pytorch/node';
import {
  WEIGHTS_FILE_NAMES,
  loadGraph as loadGraphFrom,
  loadModel as loadModelFrom,
  parseJsonObject,
  transformersClasses,
  type LoadModelOptions as PlatformLoadModelOptions,
  type ModelFileSource,
  type ModelFiles,
  type ModelGraph,
  type ModelSourceInput,
  type OpenModelOptions,
} from './load-model.js';
import { describeModelConfig, type ModelDescription } from './model-config.js';
import type { Model } from './model.js';

export * from './index.js';
export * from './image-files.js';
export * from './node-dataset.js';
export * from './node-model-folder.js';
export * from './node-soup.js';
export * from './node-train-head.js';

/** Weights files and required files are read by @vitzoo/pytorch/node (one implementation for every package). */
export { loadWeights, readRequiredFile };

/** A model folder: what to build, with what preprocessing, and where the weights are. */
export interface ModelSource extends ModelDescription {
  /** The folder. */
  dir: string;
  /** Weights file: `--weights`, else `model.safetensors`, else `pytorch_model.bin` (timm hub names). */
  weights: string;
  /** The parsed config.json. */
  config: Record<string, unknown>;
}

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
  return parseJsonObject(await readRequiredFile(path, what), path, basename(path));
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
  return { dir, graph, config, preprocessor, ...transformersClasses(config, configPath) };
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

/** A resolver for names that are not local folders (hub ids, registry names, URLs): a folder, or where the model is in it. */
export type ResolveSource = (name: string, options: { signal?: AbortSignal } & Partial<OpenModelOptions>) => Promise<string | ModelLocation>;

/** Where a model name or folder is: an existing folder, or what `resolveSource` returns (its folder and, when it says, model file and layout). */
export async function locateModelSource(
  nameOrDir: string,
  registry: Registry,
  options: { resolveSource?: ResolveSource; signal?: AbortSignal } & Partial<OpenModelOptions> = {},
): Promise<ModelLocation> {
  if (typeof nameOrDir !== 'string' || nameOrDir === '') throw new InvalidArgumentError('model', 'Name a model folder (or a model name with a source resolver).');
  const info = await stat(nameOrDir).catch(() => null);
  if (info?.isDirectory()) return { dir: nameOrDir };
  if (info) throw new InvalidArgumentError('model', `${nameOrDir} is a file; give the folder that holds config.json and the weights.`);
  if (options.resolveSource) {
    const { resolveSource, ...rest } = options;
    const resolved = await resolveSource(nameOrDir, rest);
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
  options: { resolveSource?: ResolveSource; signal?: AbortSignal } & Partial<OpenModelOptions> = {},
): Promise<string> {
  return (await locateModelSource(nameOrDir, registry, options)).dir;
}

/** Model files in a folder on disk (what the Node file source opens). */
export interface NodeModelFiles extends ModelFiles {
  readonly dir: string;
  /** The cache folder the files are in (downloads): built graphs are kept there too. */
  readonly cacheDir?: string;
}

function describeFile(file: string): string {
  if (basename(file) === 'config.json') return 'Model config';
  return /\.(safetensors|pth|pt|bin)$/i.test(file) ? 'Weights file' : 'Model file';
}

/** The files of a model folder: read from disk; a file outside it may be named by its path (e.g. `weights`). */
export async function nodeModelFiles(location: ModelLocation, name = location.dir): Promise<NodeModelFiles> {
  const { dir } = location;
  const path = (file: string) => (isAbsolute(file) ? file : join(dir, file));
  return {
    name,
    dir,
    files: await listModelFiles(dir),
    ...(location.layout !== undefined ? { layout: location.layout } : {}),
    ...(location.modelFile !== undefined ? { modelFile: location.modelFile } : {}),
    cached: location.cacheDir !== undefined,
    ...(location.cacheDir !== undefined ? { cacheDir: location.cacheDir } : {}),
    read: (file) => readRequiredFile(path(file), describeFile(file)),
    async sha256(file) {
      const info = await stat(path(file)).catch(() => null);
      if (!info?.isFile()) throw new FileNotFoundError(path(file), describeFile(file));
      try {
        return await fileSha256(path(file));
      } catch (error) {
        throw FileAccessError.from(error, 'read', { path: path(file) });
      }
    },
    path,
  };
}

export interface NodeFileSourceOptions {
  /** Base for relative folder names. Default process.cwd(). */
  cwd?: string;
  /**
   * Download hub repos (`org/repo[@revision]`), registry names and URLs into the cache with
   * @vitzoo/hub/node's `resolveModelSource` (what `vitzoo`'s loadModel does). Default false: only
   * local folders, and names `resolveSource` resolves.
   */
  download?: boolean;
  /** Resolves names that are not local folders (e.g. after downloading them); wins over `download`. */
  resolveSource?: ResolveSource;
}

/**
 * The Node file source of the loader: local folders (timm hub layout, fixture cases,
 * transformers.js ONNX layout), and with `download` (or a `resolveSource`) hub repos, registry
 * names and URLs fetched into the cache. Built graphs go to `<cache>/graphs/` (@vitzoo/hub/node):
 * the cache the files came from, else the `cache` option's folder, else the default cache folder.
 */
export function createNodeFileSource(settings: NodeFileSourceOptions = {}): ModelFileSource {
  const cwd = settings.cwd ?? process.cwd();
  return {
    async open(source, options) {
      if (settings.resolveSource || !settings.download) {
        const local = settings.cwd !== undefined && (await stat(resolve(cwd, source)).catch(() => null))?.isDirectory() ? resolve(cwd, source) : source;
        const location = await locateModelSource(local, options.registry, { ...options, ...(settings.resolveSource ? { resolveSource: settings.resolveSource } : {}) });
        return nodeModelFiles(location, location.cacheDir === undefined ? location.dir : source);
      }
      const local = await stat(resolve(cwd, source)).catch(() => null);
      if (!local && options.cache === false) {
        throw new InvalidArgumentError('cache', `'${source}' must be downloaded, which needs the cache folder; drop cache: false (built graphs then go to the cache too unless graphCache: false).`);
      }
      options.signal?.throwIfAborted();
      const resolved = await resolveModelSource(source, {
        cwd,
        registry: options.registry,
        ...(options.revision !== undefined ? { revision: options.revision } : {}),
        ...(options.architecture !== undefined ? { architecture: options.architecture } : {}),
        ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
        ...(typeof options.cache === 'string' ? { cacheDir: resolve(cwd, options.cache) } : {}),
        ...(options.progress ? { progress: options.progress } : {}),
      });
      options.signal?.throwIfAborted();
      return nodeModelFiles(resolved, resolved.cacheDir === undefined ? resolved.dir : (resolved.name ?? resolved.source));
    },
    graphStore(files, options): GraphStore | undefined {
      if (options.cache === false) return undefined;
      const cacheDir = typeof options.cache === 'string' ? resolve(cwd, options.cache) : ((files as Partial<NodeModelFiles>).cacheDir ?? defaultCacheDir());
      return createGraphStore({ cacheDir });
    },
  };
}

export interface LoadModelOptions extends Omit<PlatformLoadModelOptions, 'registry' | 'graphCache'> {
  /** Architectures and variants, e.g. `createDefaultRegistry()` of 'vitzoo' (whose own loadModel passes it). */
  registry?: Registry;
  /**
   * Extension point for sources that are not local folders (a hub id, a URL): called with the
   * name when it is not an existing folder, it returns the local folder that holds the model (e.g.
   * after downloading it into a cache), or a `ModelLocation` that also names the model file,
   * layout and cache folder. `resolveModelSource` of @vitzoo/hub/node fits as it is.
   */
  resolveSource?: ResolveSource;
  /**
   * The built-graph cache: `true` (in the resolver's cache, else the default cache folder),
   * `{ cacheDir }` (there), `false` (never). Default: on for models a `resolveSource` fetched into
   * a cache, off for local folders.
   */
  graphCache?: boolean | { cacheDir?: string };
  /** @deprecated Use `progress` (the same events). */
  onProgress?: ProgressListener;
}

/**
 * Loads a model on Node: a local folder (timm hub layout, a fixture case, or the transformers.js
 * ONNX layout), a name `options.resolveSource` turns into one, or picked files, through the one
 * loader of `@vitzoo/pipeline` with the Node file source. It never downloads by itself: `vitzoo`'s
 * `loadModel` does (hub ids, registry names, URLs) and fills in the registry and backend.
 */
export async function loadModel(source: ModelSourceInput, options: LoadModelOptions = {}): Promise<Model> {
  return loadModelFrom(source, platformOptions(options));
}

/**
 * The graph `loadModel` would run, without a session (Node file source, hub resolver, graph cache
 * as `loadModel`): e.g. to build a model into the graph cache ahead of time.
 */
export async function loadGraph(source: ModelSourceInput, options: LoadModelOptions = {}): Promise<ModelGraph> {
  return loadGraphFrom(source, platformOptions(options));
}

/** Node's options as the platform-free loader's: the Node file source, the graph cache folder. */
function platformOptions(options: LoadModelOptions): PlatformLoadModelOptions {
  const { resolveSource, graphCache, onProgress, ...rest } = options;
  if (graphCache !== undefined && typeof graphCache !== 'boolean' && (typeof graphCache !== 'object' || graphCache === null)) {
    throw new InvalidArgumentError('graphCache', `graphCache must be true, false or { cacheDir }, got ${JSON.stringify(graphCache)}.`);
  }
  const cacheDir = typeof graphCache === 'object' ? graphCache.cacheDir : undefined;
  const progress = rest.progress ?? onProgress;
  return {
    ...rest,
    registry: rest.registry as Registry,
    fileSource: rest.fileSource ?? createNodeFileSource({ ...(resolveSource ? { resolveSource } : {}) }),
    ...(graphCache !== undefined ? { graphCache: graphCache !== false } : {}),
    ...(cacheDir !== undefined ? { cache: cacheDir } : {}),
    ...(progress ? { progress } : {}),
  };
}
