/**
 * The one model loader, platform-free: a source (a registry name, a hub id, a URL, a folder, or
 * files a user picked) becomes a `Model`. The platform is passed in as a `ModelFileSource` (Node:
 * the file system and the hub file cache; browsers: fetch and the Cache API), so this module uses
 * no Node or DOM API and runs in Node, pages and workers alike.
 */
import {
  FileAccessError,
  FileNotFoundError,
  InvalidArgumentError,
  InvalidConfigError,
  UnsupportedError,
  convertCheckpoint,
  modelAtImageSize,
  resizableArchitectures,
  resolveDtype,
  resolveQ4BlockSize,
  type Architecture,
  type BuiltGraph,
  type Dtype,
  type ImageSize,
  type OutputName,
  type PretrainedConfig,
  type ProgressListener,
  type Registry,
  type StateDict,
} from '@vitzoo/core';
import { computeGraphCacheKey, folderLayout, sha256Hex, type GraphStore } from '@vitzoo/hub';
import { PRODUCER_VERSION } from '@vitzoo/onnx';
import { createHuggingFaceTransform, type HuggingFaceProcessorConfig, type ImageTransform } from '@vitzoo/preprocess';
import { parseWeights } from '@vitzoo/pytorch';
import { checkPrecisionRuns, registeredBackends, resolveBackendChoice, type Backend, type SessionOptions } from '@vitzoo/runtime';
import { explainOutputsFor, type ExplainMethod } from './explain.js';
import { describeModelConfig } from './model-config.js';
import { Model, kwargsFacts, mergePretrainedConfig, type ModelDetails } from './model.js';

/** Where a model runs (see the pipeline README's shared options). */
export type Device = 'auto' | 'cpu' | 'wasm' | 'webgpu';
export const DEVICES: readonly Device[] = ['auto', 'cpu', 'wasm', 'webgpu'];

/**
 * The files of one model, however they are stored (a folder, a cache snapshot, files a user
 * picked). Names are '/'-separated and relative to the model ('config.json', 'onnx/model.onnx').
 */
export interface ModelFiles {
  /** What was loaded, for messages: a folder, `org/repo@revision`, a URL, 'picked files'. */
  readonly name: string;
  /** The model's files. */
  readonly files: readonly string[];
  /** 'timm' (config.json + weights, converted) or 'onnx' (transformers.js layout, run as it is); default: told from config.json. */
  readonly layout?: 'timm' | 'onnx';
  /** The weights (timm) or graph (onnx) file the source picked, e.g. an authors' release `.pth`. */
  readonly modelFile?: string;
  /** True when the files are in a cache (downloads): built graphs are cached too unless `graphCache: false`. */
  readonly cached?: boolean;
  /** A file's bytes (a `FileNotFoundError` naming it when it is missing). */
  read(file: string): Promise<Uint8Array>;
  /** A file's sha256 (lower-case hex), from the cache's records when it has them. */
  sha256(file: string): Promise<string>;
  /** A path the backend can open itself (Node files), else undefined. */
  path?(file: string): string | undefined;
}

/** What a file source is asked to open a source with (the loader's options it needs). */
export interface OpenModelOptions {
  registry: Registry;
  endpoint?: string;
  revision?: string;
  /** A registry name saying what a bare model file (a URL of weights or of an .onnx graph) is. */
  architecture?: string;
  cache?: string | false;
  progress?: ProgressListener;
  signal?: AbortSignal;
}

/**
 * A platform's file access: turns a source string into the model's files (downloading into its
 * cache as needed) and keeps built graphs. `@vitzoo/pipeline/node` (`createNodeFileSource`) and
 * `@vitzoo/pipeline/browser` (`createBrowserFileSource`) implement it.
 */
export interface ModelFileSource {
  open(source: string, options: OpenModelOptions): Promise<ModelFiles>;
  /** Where built graphs of `files` are kept for the `cache` option, or undefined when nowhere. */
  graphStore?(files: ModelFiles, options: { cache?: string | false }): GraphStore | undefined;
}

/** Files a user picked (browsers: an `<input type=file multiple>`'s FileList; Node 20+ has File too), or a map of names to blobs. */
export type PickedFiles = Blob | ArrayLike<Blob> | Iterable<Blob> | Readonly<Record<string, Blob>>;

/** A model source: a name, hub id, URL or folder (given to the file source), picked files, or model files. */
export type ModelSourceInput = string | PickedFiles | ModelFiles;

export interface LoadModelOptions {
  /** The platform's file access (the `vitzoo` and `vitzoo/browser` entries pass theirs). */
  fileSource?: ModelFileSource;
  /** Architectures and variants (e.g. `createDefaultRegistry()` of 'vitzoo'). */
  registry: Registry;
  /** The backend to run on; wins over `device`. */
  backend?: Backend;
  /** 'auto' (default: the best registered backend), 'cpu' (onnxruntime-node, or wasm in browsers), 'wasm', 'webgpu' (falls back to wasm with the reason). */
  device?: Device;
  /** Precision of the weights in the built graph (default 'fp32'); part of the graph cache key. */
  dtype?: Dtype;
  /** `dtype: 'q4'`: weights per 4-bit block (16, 32, 64, 128, 256; default 32; WebGPU runs 16 and 32); part of q4 graphs' cache key. */
  q4BlockSize?: number;
  /** Graph outputs to build (default ['logits']; add 'pre_logits' to `embed`); validated by the architecture, part of the cache key. */
  outputs?: readonly string[];
  /**
   * Run the checkpoint at another image size: a side (384) or [height, width]. The architecture
   * adapts the weights as its reference does (ViT/DeiT: position embeddings resampled; Swin: windows
   * and bias tables; CSWin: square sizes), the preprocessing's input size and crop follow; CaiT and
   * FDViT refuse it (UnsupportedError). Part of the cache key (through the kwargs).
   */
  imageSize?: ImageSize;
  /**
   * Also build the outputs `Model.explain` reads with this method ('auto': rollout for class-token
   * models, else the last intermediate), decided from the architecture before building: the same
   * decision as `vitzoo explain`. A model that cannot be explained with it (an ONNX graph run as
   * it is, a method its architecture lacks) is a typed error.
   */
  explain?: ExplainMethod;
  /** Hub base URL (default HF_ENDPOINT, else https://huggingface.co). */
  endpoint?: string;
  /** Hub revision when the source names none. */
  revision?: string;
  /**
   * A registry name (`arch_variant[.tag]`) saying what a bare model file is (a URL of weights or of
   * an `.onnx` graph with no config.json beside it); default: the file's name when it is one.
   */
  architecture?: string;
  /** Where downloads and built graphs are kept (Node: a folder; browsers: a Cache API name), or false. */
  cache?: string | false;
  /** Keep the built graph (default: on for downloaded models, off for local and picked files). */
  graphCache?: boolean;
  /** `{ stage: 'download', file, loaded, total }`, `{ stage: 'build', … }`, `{ stage: 'session' }`. */
  progress?: ProgressListener;
  /**
   * What went wrong without stopping the load, in a sentence (e.g. a graph cache folder that cannot
   * be written, skipped). Default: `console.warn`.
   */
  warning?: (message: string) => void;
  /** Cancels downloads, conversion between steps, and session creation. */
  signal?: AbortSignal;
  sessionOptions?: SessionOptions;
  /** The weights file to use instead of the model's own (a file of the model; in Node also a path). */
  weights?: string;
  labelNames?: readonly string[];
  /** Images per run in `classify` / `embed` (default 32). */
  batchSize?: number;
  /** Build even when the weights hold NaN or ±Inf (refused by default, naming the tensor). */
  allowNonFinite?: boolean;
}

/** Weights file names of the timm hub layout, in order of preference. */
export const WEIGHTS_FILE_NAMES = ['model.safetensors', 'pytorch_model.bin'] as const;

/** True when a parsed config.json is a transformers model config (the transformers.js ONNX layout), not timm's. */
export function isTransformersConfig(config: Record<string, unknown>): boolean {
  return typeof config.architecture !== 'string' && (typeof config.model_type === 'string' || Array.isArray(config.architectures));
}

/** `id2label` (`{ "0": "cat", "1": "dog" }`) as a list by index; every index 0..n-1 exactly once. */
export function labelsFromId2Label(value: unknown, context: string): string[] {
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

/** Class names and count from a transformers config.json (`id2label`, else `num_labels`). */
export function transformersClasses(config: Record<string, unknown>, context: string): { labelNames?: string[]; numClasses?: number } {
  if (config.id2label !== undefined && config.id2label !== null) {
    const labelNames = labelsFromId2Label(config.id2label, context);
    return { labelNames, numClasses: labelNames.length };
  }
  if (config.num_labels !== undefined) {
    if (!Number.isSafeInteger(config.num_labels) || (config.num_labels as number) < 1) throw new InvalidConfigError('num_labels', config.num_labels, 'a positive integer', context);
    return { numClasses: config.num_labels as number };
  }
  return {};
}

/** Parses a JSON object file, naming it in errors. */
export function parseJsonObject(bytes: Uint8Array, context: string, field = context.split('/').pop() ?? context): Record<string, unknown> {
  const text = new TextDecoder().decode(bytes);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new InvalidConfigError(field, text.slice(0, 40), `valid JSON (${(error as Error).message})`, context);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidConfigError(field, value, 'a JSON object', context);
  return value as Record<string, unknown>;
}

function isBlob(value: unknown): value is Blob {
  return typeof Blob !== 'undefined' && value instanceof Blob;
}

function isModelFiles(value: unknown): value is ModelFiles {
  return typeof value === 'object' && value !== null && typeof (value as ModelFiles).read === 'function' && Array.isArray((value as ModelFiles).files);
}

const CHECKPOINT_FILE = /\.(safetensors|pth|pt|bin)$/i;

/**
 * Model files from blobs a user picked: `File`s (named by `webkitRelativePath` below its folder,
 * else by name) or a map of names to blobs. They must include `config.json`, plus the weights
 * (`model.safetensors`, a `.pth` / `.pt` / `.bin` checkpoint) or an ONNX graph.
 */
export function modelFilesFromBlobs(picked: PickedFiles, name = 'picked files'): ModelFiles {
  const byName = new Map<string, Blob>();
  const add = (file: string, blob: Blob) => {
    if (byName.has(file)) throw new InvalidArgumentError('files', `Two picked files are named '${file}'; pick each model file once.`);
    byName.set(file, blob);
  };
  const fileName = (blob: Blob): string => {
    const file = blob as Blob & { name?: unknown; webkitRelativePath?: unknown };
    const relative = typeof file.webkitRelativePath === 'string' && file.webkitRelativePath.includes('/') ? file.webkitRelativePath.slice(file.webkitRelativePath.indexOf('/') + 1) : '';
    if (relative) return relative;
    if (typeof file.name === 'string' && file.name !== '') return file.name;
    throw new InvalidArgumentError('files', 'A picked Blob has no file name; pass File objects (or a { name: Blob } map) so config.json and the weights can be told apart.');
  };
  if (isBlob(picked)) add(fileName(picked), picked);
  else if (typeof (picked as Iterable<Blob>)[Symbol.iterator] === 'function' || typeof (picked as ArrayLike<Blob>).length === 'number') {
    for (const blob of Array.from(picked as ArrayLike<Blob>)) {
      if (!isBlob(blob)) throw new InvalidArgumentError('files', `Picked files must be File/Blob objects, got ${typeof blob}.`);
      add(fileName(blob), blob);
    }
  } else {
    for (const [file, blob] of Object.entries(picked as Record<string, Blob>)) {
      if (!isBlob(blob)) throw new InvalidArgumentError('files', `'${file}' must be a File/Blob, got ${typeof blob}.`);
      add(file, blob);
    }
  }
  const files = [...byName.keys()].sort();
  if (!byName.has('config.json')) {
    throw new InvalidArgumentError(
      'files',
      `The picked files (${files.join(', ') || 'none'}) have no config.json: pick the model's config.json together with its weights (model.safetensors or a .pth checkpoint).`,
    );
  }
  const found = folderLayout(files);
  const read = async (file: string) => {
    const blob = byName.get(file);
    if (!blob) throw new FileNotFoundError(`${name}: ${file}`, 'Model file');
    return new Uint8Array(await blob.arrayBuffer());
  };
  return {
    name,
    files,
    ...(found ? { modelFile: found.modelFile } : {}),
    cached: false,
    read,
    sha256: async (file) => sha256Hex(await read(file)),
  };
}

async function openModelFiles(source: ModelSourceInput, options: LoadModelOptions): Promise<ModelFiles> {
  if (typeof source === 'string') {
    if (source.trim() === '') throw new InvalidArgumentError('model', 'Name a model: a registry name, a hub repo (org/repo[@revision]), a URL or a folder.');
    if (!options.fileSource) {
      throw new InvalidArgumentError('fileSource', `Cannot open '${source}' without a file source: use loadModel of 'vitzoo' (Node) or 'vitzoo/browser', or pass { fileSource }.`);
    }
    return options.fileSource.open(source, {
      registry: options.registry,
      ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
      ...(options.revision !== undefined ? { revision: options.revision } : {}),
      ...(options.architecture !== undefined ? { architecture: options.architecture } : {}),
      ...(options.cache !== undefined ? { cache: options.cache } : {}),
      ...(options.progress ? { progress: options.progress } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }
  if (isModelFiles(source)) return source;
  if (typeof source === 'object' && source !== null) return modelFilesFromBlobs(source as PickedFiles);
  throw new InvalidArgumentError('model', `A model source must be a name, a hub id, a URL, a folder or picked files, got ${source === null ? 'null' : typeof source}.`);
}

/** The backend for `backend` / `device`, with the reason a preferred one was skipped. */
export async function chooseBackend(options: Pick<LoadModelOptions, 'backend' | 'device'>): Promise<{ backend: Backend; fallbackReason?: string }> {
  if (options.backend) {
    if (typeof options.backend.createSession !== 'function') throw new InvalidArgumentError('backend', 'backend must be a Backend (e.g. nodeBackend of @vitzoo/runtime-node).');
    return { backend: options.backend };
  }
  const device = options.device ?? 'auto';
  if (!DEVICES.includes(device)) throw new InvalidArgumentError('device', `Unknown device ${JSON.stringify(device)}; choose from ${DEVICES.join(', ')}.`);
  const registered = registeredBackends();
  const wanted: Record<Device, readonly string[]> = {
    auto: registered,
    cpu: ['node', 'wasm'].filter((name) => registered.includes(name)),
    wasm: ['wasm'],
    webgpu: ['webgpu', 'wasm'],
  };
  const names = wanted[device].length > 0 ? wanted[device] : ['node', 'wasm'];
  const resolved = await resolveBackendChoice(names);
  return { backend: resolved.backend, ...(resolved.fallbackReason ? { fallbackReason: resolved.fallbackReason } : {}) };
}

/** The weights file of a timm-layout model: the `weights` option, the source's pick, `model.safetensors`, `pytorch_model.bin`, else a checkpoint file. */
function weightsFile(files: ModelFiles, weights: string | undefined): string {
  if (weights !== undefined) return weights;
  if (files.modelFile !== undefined && CHECKPOINT_FILE.test(files.modelFile)) return files.modelFile;
  for (const name of WEIGHTS_FILE_NAMES) if (files.files.includes(name)) return name;
  const checkpoint = files.files.filter((file) => !file.includes('/') && CHECKPOINT_FILE.test(file)).sort()[0];
  if (checkpoint) return checkpoint;
  throw new FileNotFoundError(
    files.name,
    `Weights (model.safetensors, pytorch_model.bin or a .pth checkpoint beside config.json; the model has ${files.files.join(', ') || 'no files'})`,
  );
}

function checkAborted(signal: AbortSignal | undefined): void {
  signal?.throwIfAborted();
}

/**
 * A model's graph, ready for a runtime session: built from a checkpoint (or taken from the graph
 * cache), or an ONNX-layout graph run as it is, with what prepares its inputs and names its classes.
 */
export interface ModelGraph {
  /** A built graph, ONNX bytes, or the path of an ONNX file (Node backends open it themselves). */
  graph: BuiltGraph | Uint8Array | string;
  /** 'built': converted now; 'cached': from the graph cache; 'onnx': an ONNX-layout graph. */
  status: ModelDetails['graph'];
  /** What was loaded, for messages. */
  source: string;
  dtype: Dtype;
  /** q4 graphs: the block size they were built with. */
  q4BlockSize?: number;
  /** The outputs asked for. */
  outputs: readonly string[];
  /** timm layout: the architecture id the graph was built by. */
  architecture?: string;
  /** timm layout: the pretrained config (preprocessing, labels). */
  pretrained?: PretrainedConfig;
  /** ONNX layout: the Hugging Face processor's transform, class count and names, and the graph file (for signature errors). */
  transform?: ImageTransform;
  numClasses?: number;
  labelNames?: readonly string[];
  graphName?: string;
}

async function onnxLayoutGraph(files: ModelFiles, config: Record<string, unknown>, options: LoadModelOptions): Promise<ModelGraph> {
  const pick = [options.weights, files.modelFile].find((file) => file !== undefined && /\.onnx$/i.test(file));
  if (options.weights !== undefined && pick !== options.weights) {
    throw new InvalidArgumentError('weights', `${files.name} is an ONNX (transformers.js layout) model: the weights option must name an .onnx file, got ${options.weights}.`);
  }
  const graphFile = pick ?? (folderLayout(files.files)?.layout === 'onnx' ? folderLayout(files.files)!.modelFile : 'onnx/model.onnx');
  const processorContext = `${files.name}/preprocessor_config.json`;
  if (!files.files.includes('preprocessor_config.json')) throw new FileNotFoundError(processorContext, 'Image preprocessor config (preprocessor_config.json, transformers.js layout)');
  const preprocessor = parseJsonObject(await files.read('preprocessor_config.json'), processorContext) as HuggingFaceProcessorConfig;
  const transform = createHuggingFaceTransform(preprocessor);
  const classes = transformersClasses(config, `${files.name}/config.json`);
  return graphAsIs(files, graphFile, options, 'ONNX model (transformers.js layout: onnx/model.onnx)', { transform, ...classes });
}

/** A graph file of the model run as it is (an ONNX-layout graph, or an `.onnx` file beside a timm config.json). */
async function graphAsIs(files: ModelFiles, graphFile: string, options: LoadModelOptions, what: string, extra: Partial<ModelGraph>): Promise<ModelGraph> {
  const graphName = files.path?.(graphFile) ?? `${files.name}/${graphFile}`;
  if (!files.files.includes(graphFile) && !(options.weights !== undefined && files.path)) throw new FileNotFoundError(graphName, what);
  checkAborted(options.signal);
  return {
    graph: files.path?.(graphFile) ?? (await files.read(graphFile)),
    status: 'onnx',
    source: files.name,
    dtype: 'fp32',
    outputs: options.outputs ?? ['logits'],
    graphName,
    ...extra,
  };
}

/** What `checkpointGraph` builds: an architecture's config and its weights. */
export interface CheckpointGraphOptions extends Pick<LoadModelOptions, 'dtype' | 'q4BlockSize' | 'outputs' | 'progress' | 'warning' | 'signal' | 'allowNonFinite'> {
  architecture: Architecture;
  kwargs: Readonly<Record<string, unknown>>;
  pretrained?: PretrainedConfig;
  /** The weights, read when the graph must be built (not when it comes from the graph cache). */
  stateDict: () => Promise<StateDict> | StateDict;
  /** For messages and `model.details.source`. */
  source: string;
  /** Where the built graph is kept; needs `weightsSha256`. */
  graphStore?: GraphStore;
  weightsSha256?: () => Promise<string>;
}

/** A graph's precision options, checked: the dtype, and the block size of q4 graphs (both part of the graph cache key). */
export function graphPrecision(options: Pick<LoadModelOptions, 'dtype' | 'q4BlockSize'>): { dtype: Dtype; q4BlockSize?: number } {
  const dtype = resolveDtype(options.dtype);
  const q4BlockSize = resolveQ4BlockSize(options.q4BlockSize);
  return dtype === 'q4' ? { dtype, q4BlockSize } : { dtype };
}

/**
 * The conversion step of every loader: the graph from the graph store when it holds it (keyed by
 * the weights' sha256, architecture, kwargs, outputs, dtype (q4: and block size) and builder version), else built by
 * `convertCheckpoint` (reporting `{ stage: 'build' }`) and stored.
 */
export async function checkpointGraph(options: CheckpointGraphOptions): Promise<ModelGraph> {
  const { architecture, kwargs } = options;
  const precision = graphPrecision(options);
  // Output names are opaque here: the architecture checks (and expands) them while building; the
  // cache key holds them as asked.
  const outputs = [...(options.outputs ?? ['logits'])];
  const build = async (): Promise<BuiltGraph> => {
    options.progress?.({ stage: 'build' });
    const stateDict = await options.stateDict();
    checkAborted(options.signal);
    return convertCheckpoint({ architecture, kwargs, stateDict, outputs, ...precision, ...(options.allowNonFinite ? { allowNonFinite: true } : {}) });
  };
  const result = { source: options.source, ...precision, outputs, architecture: architecture.id, ...(options.pretrained ? { pretrained: options.pretrained } : {}) };
  if (!options.graphStore || !options.weightsSha256) return { ...result, graph: await build(), status: 'built' };
  const key = await computeGraphCacheKey({
    weightsSha256: await options.weightsSha256(),
    architecture: architecture.id,
    kwargs,
    outputs,
    builderVersion: `${PRODUCER_VERSION}/${architecture.builderVersion ?? 'unversioned'}`,
    options: precision,
  });
  // The graph cache is optional: one that cannot be used (a file in its folder's place, no
  // permission, a read-only HOME) is skipped with a warning, the graph built once either way.
  const skipped = (error: unknown): boolean => {
    if (!FileAccessError.isInstance(error)) return false;
    (options.warning ?? ((message: string) => console.warn(`vitzoo: ${message}`)))(`the graph cache was skipped: ${error.message}`);
    return true;
  };
  let cached: Awaited<ReturnType<GraphStore['get']>>;
  try {
    cached = await options.graphStore.get(key);
  } catch (error) {
    if (!skipped(error)) throw error;
    return { ...result, graph: await build(), status: 'built' };
  }
  if (cached !== undefined) return { ...result, graph: cached, status: 'cached' };
  const built = await build();
  try {
    return { ...result, graph: await options.graphStore.put(key, built, options.progress ? { progress: options.progress } : {}), status: 'built' };
  } catch (error) {
    if (!skipped(error)) throw error;
    return { ...result, graph: built, status: 'built' };
  }
}

/** Where and how a graph runs. */
export type SessionChoice = Pick<LoadModelOptions, 'backend' | 'device' | 'signal' | 'progress' | 'sessionOptions' | 'batchSize' | 'labelNames'>;

/**
 * Opens a graph in a runtime session: the backend from `backend` / `device` (with the reason a
 * preferred one was skipped), `{ stage: 'session' }` reported, the Model created. An ONNX-layout
 * graph that lacks an asked-for output is refused.
 */
export async function modelFromGraph(loaded: ModelGraph, options: SessionChoice): Promise<Model> {
  checkAborted(options.signal);
  const { backend, fallbackReason } = await chooseBackend(options);
  checkAborted(options.signal);
  // A precision this backend would compute wrong (q4 blocks over 32 on WebGPU) is refused before any session.
  checkPrecisionRuns(backend.name, loaded);
  options.progress?.({ stage: 'session' });
  const model = await Model.create({
    graph: loaded.graph,
    backend,
    ...(loaded.pretrained ? { pretrained: loaded.pretrained } : {}),
    ...(loaded.transform ? { transform: loaded.transform } : {}),
    ...(loaded.numClasses !== undefined ? { numClasses: loaded.numClasses } : {}),
    labelNames: options.labelNames ?? loaded.labelNames,
    sessionOptions: options.sessionOptions,
    batchSize: options.batchSize,
    ...(loaded.graphName !== undefined ? { source: loaded.graphName } : {}),
    details: { source: loaded.source, backend: backend.name, ...(fallbackReason ? { fallbackReason } : {}), dtype: loaded.dtype, graph: loaded.status },
  });
  const missing = loaded.status === 'onnx' ? loaded.outputs.filter((output) => !model.outputs.includes(output as OutputName)) : [];
  if (missing.length > 0) {
    await model.dispose();
    throw new UnsupportedError(
      `${loaded.graphName ?? loaded.source} gives ${model.outputs.map((name) => `'${name}'`).join(', ')}, not ${missing.map((name) => `'${name}'`).join(', ')}: ONNX-layout models run as they are; ` +
        'load the timm checkpoint to build other outputs.',
    );
  }
  return model;
}

/**
 * The graph `loadModel` would open, without a session: what `vitzoo convert` writes and the
 * conformance runner runs. Same sources and options as `loadModel`.
 */
/** The build options a graph run as it is cannot honour (`graph`: what it is) are refused, naming what to load `instead`. */
function refuseRebuild(graph: string, instead: string, options: Pick<LoadModelOptions, 'imageSize' | 'explain'>, dtype: Dtype): void {
  if (dtype !== 'fp32') throw new UnsupportedError(`${graph}: it runs as it is, so dtype '${dtype}' cannot be built; load ${instead} instead.`);
  if (options.imageSize !== undefined) throw new UnsupportedError(`${graph}: it runs as it is, so imageSize cannot be changed; load ${instead} instead.`);
  if (options.explain !== undefined) throw new UnsupportedError(`${graph} run as it is, which gives only its logits; heat maps (explain) need ${instead}.`);
}

/** A model description at `options.imageSize` (unchanged without it); see `modelAtImageSize` of @vitzoo/core. */
function atImageSize<D extends { architecture: Architecture; kwargs: Readonly<Record<string, unknown>>; pretrained?: PretrainedConfig | undefined }>(
  description: D,
  options: { registry: Registry; imageSize?: ImageSize | undefined },
): D {
  if (options.imageSize === undefined) return description;
  const { registry } = options;
  const resizable = resizableArchitectures(registry.architectureIds().map((id) => registry.architecture(id)));
  const { kwargs, pretrained } = modelAtImageSize(description.architecture, description.kwargs, description.pretrained, options.imageSize, resizable);
  return { ...description, kwargs, ...(pretrained ? { pretrained } : {}) };
}

export async function loadGraph(source: ModelSourceInput, options: LoadModelOptions): Promise<ModelGraph> {
  if (typeof options !== 'object' || options === null) throw new InvalidArgumentError('options', 'loadModel needs options with a registry (the vitzoo package passes its own).');
  const { registry } = options;
  if (!registry || typeof registry.resolve !== 'function') {
    throw new InvalidArgumentError('registry', "loadModel needs a registry: use loadModel of 'vitzoo' (every architecture registered) or pass { registry: createDefaultRegistry() }.");
  }
  const { dtype } = graphPrecision(options);
  checkAborted(options.signal);
  const files = await openModelFiles(source, options);
  checkAborted(options.signal);
  const configContext = `${files.name}/config.json`;
  if (!files.files.includes('config.json')) throw new FileNotFoundError(configContext, 'Model config');
  const config = parseJsonObject(await files.read('config.json'), configContext, 'config.json');
  const layout = files.layout ?? (isTransformersConfig(config) ? 'onnx' : 'timm');
  if (layout === 'onnx') {
    refuseRebuild(`${files.name} is an ONNX-layout model`, 'the timm checkpoint', options, dtype);
    return onnxLayoutGraph(files, config, options);
  }
  const described = describeModelConfig(config, registry, configContext);
  const graphFile = [options.weights, files.modelFile].find((file) => file !== undefined && /\.onnx$/i.test(file));
  if (graphFile !== undefined) {
    // A graph built elsewhere (`vitzoo convert`, a bare .onnx URL): run as it is, preprocessed by config.json.
    refuseRebuild(`${files.name} names an ONNX graph`, 'the checkpoint', options, dtype);
    return graphAsIs(files, graphFile, options, 'ONNX model', { architecture: described.architecture.id, pretrained: described.pretrained });
  }
  const description = atImageSize(described, options);
  const weights = weightsFile(files, options.weights);
  const cacheGraph = options.cache !== false && (options.graphCache ?? files.cached === true);
  const store = cacheGraph ? options.fileSource?.graphStore?.(files, { cache: options.cache }) : undefined;
  // explain: the outputs Model.explain reads, besides those asked for.
  const outputs = options.explain === undefined ? options.outputs : [...new Set([...(options.outputs ?? ['logits']), ...explainOutputsFor(description, options.explain).outputs])];
  return checkpointGraph({
    ...options,
    ...description,
    ...(outputs !== undefined ? { outputs } : {}),
    dtype,
    source: files.name,
    stateDict: async () => parseWeights(await files.read(weights), files.path?.(weights) ?? weights),
    ...(store ? { graphStore: store, weightsSha256: () => files.sha256(weights) } : {}),
  });
}

/**
 * Loads a model from `source`: a registry name (`deit_tiny_patch16_224.fb_in1k`), a hub repo
 * (`org/repo[@revision]`), a URL or a folder (through `options.fileSource`), or files a user
 * picked (`File`s / a `FileList`: config.json + model.safetensors or a .pth). timm-layout models
 * are converted (the graph built with `outputs` and `dtype`, kept in the graph cache when it is
 * on); transformers.js ONNX-layout models run as they are. Progress goes to `options.progress`.
 */
export async function loadModel(source: ModelSourceInput, options: LoadModelOptions): Promise<Model> {
  return modelFromGraph(await loadGraph(source, options), options);
}

export interface BuildModelOptions {
  /** Where architectures and variants are registered (e.g. `createDefaultRegistry()` from 'vitzoo'). */
  registry: Registry;
  /** A registered variant name, optionally with a pretrained tag: 'vit_tiny_patch16_224' or 'deit_tiny_patch16_224.fb_in1k'. */
  variant?: string;
  /** An architecture (or its id) when no variant is named; `kwargs` then say everything. */
  architecture?: Architecture | string;
  /** Constructor kwargs (timm names), over the variant's own. */
  kwargs?: Readonly<Record<string, unknown>>;
  /** The weights (timm state_dict names, or a layout the architecture's checkpoint filter adapts). */
  stateDict: StateDict;
  /** Pretrained-config fields over the variant's (the tag's) config. */
  pretrained?: Partial<PretrainedConfig>;
  labelNames?: readonly string[];
  /** The backend to run on; wins over `device`. */
  backend?: Backend;
  device?: Device;
  /** Outputs to build into the graph (default ['logits']; add 'pre_logits' to `embed`). */
  outputs?: readonly string[];
  /** Weight precision of the graph (default 'fp32'). */
  dtype?: Dtype;
  /** `dtype: 'q4'`: weights per 4-bit block (default 32). */
  q4BlockSize?: number;
  /** Run the weights at another image size (see `LoadModelOptions.imageSize`). */
  imageSize?: ImageSize;
  sessionOptions?: SessionOptions;
  batchSize?: number;
  progress?: ProgressListener;
  signal?: AbortSignal;
}

/**
 * Builds a model from weights: resolves the variant (or architecture), runs `convertCheckpoint`
 * (config parse, checkpoint filter, shape validation, ONNX graph) and opens a session, through the
 * same steps as `loadModel` (`checkpointGraph`, `modelFromGraph`).
 */
export async function buildModel(options: BuildModelOptions): Promise<Model> {
  const { registry } = options;
  if (!registry || typeof registry.resolve !== 'function') {
    throw new InvalidArgumentError('registry', "buildModel needs a registry (e.g. createDefaultRegistry() from 'vitzoo').");
  }
  let architecture: Architecture;
  let kwargs: Record<string, unknown>;
  let base: PretrainedConfig | undefined;
  if (options.variant !== undefined) {
    if (options.architecture !== undefined) {
      throw new InvalidArgumentError('architecture', 'Give either a variant name or an architecture, not both.');
    }
    const resolved = registry.resolve(options.variant);
    architecture = resolved.architecture;
    kwargs = { ...resolved.kwargs, ...(options.kwargs ?? {}) };
    base = resolved.pretrained;
  } else if (options.architecture !== undefined) {
    architecture = typeof options.architecture === 'string' ? registry.architecture(options.architecture) : options.architecture;
    kwargs = { ...(options.kwargs ?? {}) };
  } else {
    throw new InvalidArgumentError('variant', "buildModel needs a variant name (e.g. 'vit_tiny_patch16_224') or an architecture with kwargs.");
  }
  const facts = kwargsFacts(kwargs, `model ${options.variant ?? architecture.id}`);
  const sized = atImageSize({ architecture, kwargs, pretrained: mergePretrainedConfig(base, options.pretrained, facts) }, options);
  const { pretrained } = sized;
  const { stateDict, dtype, q4BlockSize, outputs, progress, signal } = options;
  const graph = await checkpointGraph({
    architecture,
    kwargs: sized.kwargs,
    ...(pretrained ? { pretrained } : {}),
    stateDict: () => stateDict,
    source: options.variant ?? architecture.id,
    ...(dtype !== undefined ? { dtype } : {}),
    ...(q4BlockSize !== undefined ? { q4BlockSize } : {}),
    ...(outputs !== undefined ? { outputs } : {}),
    ...(progress ? { progress } : {}),
    ...(signal ? { signal } : {}),
  });
  return modelFromGraph(graph, options);
}
