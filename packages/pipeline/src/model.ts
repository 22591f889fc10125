import {
  InvalidArgumentError,
  positiveInteger,
  InvalidConfigError,
  UnsupportedError,
  OUTPUT_NAMES,
  isOutputName,
  sliceRows,
  createTensor,
  formatShape,
  graphBytes,
  pretrainedConfig,
  type BuiltGraph,
  type Dtype,
  type OutputName,
  type PretrainedConfig,
  type Tensor,
} from '@vitzoo/core';
import { createTransform, type ImageTransform, type RawImage } from '@vitzoo/preprocess';
import { checkPrecisionRuns, type Backend, type BackendSession, type SessionOptions } from '@vitzoo/runtime';
import { explainOutput, heatGrids, placeHeatGrids, type ExplainMethod, type Heatmap } from './explain.js';
import { resolveLabelNames } from './labels.js';
import { predictionsFromLogits, resolvePredictionFilter, type ClassifyOptions, type Prediction } from './predictions.js';

/** Default number of images per inference call in `classify` / `embed`. */
export const DEFAULT_BATCH_SIZE = 32;

/** Decoded images (preprocessed with the model's pretrained config) or an already preprocessed `[N, 3, H, W]` batch. */
export type ModelInput = RawImage | readonly RawImage[] | Tensor;

export interface ForwardOptions {
  /** Outputs to compute (default: every output the graph was built with). */
  outputs?: readonly OutputName[];
  signal?: AbortSignal;
}

export interface EmbedOptions {
  /** Divide each embedding by its L2 norm (computed in float64). Default false. */
  normalize?: boolean;
  signal?: AbortSignal;
}

export interface CreateModelOptions {
  /**
   * The model: a graph from `convertCheckpoint`, ONNX bytes with input `pixel_values`, or the path
   * of an ONNX file the backend opens itself (Node backends; faster than reading it into memory).
   */
  graph: BuiltGraph | Uint8Array | string;
  /** The runtime backend to run it on (e.g. `nodeBackend` from @vitzoo/runtime-node). */
  backend: Backend;
  /**
   * The model's pretrained config: drives preprocessing of images (input size, interpolation,
   * crop, mean/std) and names the label set. Without it, `classify` and `embed` take only
   * preprocessed tensors.
   */
  pretrained?: PretrainedConfig;
  /** Class names; win over the pretrained config's `labelNames` and `labelSet`. */
  labelNames?: readonly string[];
  sessionOptions?: SessionOptions;
  /** Images per inference call in `classify` and `embed` (default 32). */
  batchSize?: number;
  /**
   * The image preprocessing, when it does not come from a timm pretrained config (e.g. a Hugging
   * Face `preprocessor_config.json` through `createHuggingFaceTransform`); wins over `pretrained`'s.
   */
  transform?: ImageTransform;
  /** Number of classes when the graph does not say (ONNX bytes): label names are checked against it at load time. */
  numClasses?: number;
  /**
   * Where the graph came from (e.g. the path of an ONNX file), for messages. With it, a graph whose
   * input or output names are not vitzoo's is an `UnsupportedError` naming it.
   */
  source?: string;
  /** How the model was loaded (`model.details`). */
  details?: ModelDetails;
}

/** How a model was loaded (set by `loadModel`): what the demo and the CLI show. */
export interface ModelDetails {
  /** What was loaded: a folder, `org/repo@revision`, a URL, 'picked files'. */
  source: string;
  /** The backend running it ('node', 'wasm', 'webgpu', …). */
  backend: string;
  /** Why a preferred backend was not used (e.g. no WebGPU adapter), when it was not. */
  fallbackReason?: string;
  /** Precision of the weights in the graph. */
  dtype: Dtype;
  /** 'built': converted now; 'cached': the built graph came from the graph cache; 'onnx': an ONNX-layout graph run as it is. */
  graph: 'built' | 'cached' | 'onnx';
}

function isTensor(value: unknown): value is Tensor {
  return typeof value === 'object' && value !== null && 'dtype' in value && 'shape' in value && 'data' in value;
}

function checkBatchSize(value: number | undefined): number {
  return positiveInteger(value ?? DEFAULT_BATCH_SIZE, 'batchSize');
}

/** Divides each row of a `[rows, width]` matrix by its L2 norm, in place (torch.nn.functional.normalize: x / max(‖x‖, 1e-12)). */
export function normalizeRows(data: Float32Array, rows: number, width: number): void {
  for (let row = 0; row < rows; row += 1) {
    const vector = data.subarray(row * width, (row + 1) * width);
    let sum = 0;
    for (let i = 0; i < width; i += 1) sum += vector[i]! * vector[i]!;
    const norm = Math.max(Math.sqrt(sum), 1e-12);
    for (let i = 0; i < width; i += 1) vector[i] = vector[i]! / norm;
  }
}

/**
 * A runnable model: an ONNX graph in a backend session, the pretrained config that prepares its
 * inputs, and its class names. Which outputs it has (`logits`, `pre_logits`, `features`) was
 * decided when the graph was built.
 */
export class Model {
  /** Outputs the graph exposes, in graph order. */
  readonly outputs: readonly OutputName[];
  readonly pretrained: PretrainedConfig | undefined;
  readonly batchSize: number;
  /** How the model was loaded, when `loadModel` loaded it. */
  readonly details: ModelDetails | undefined;
  private readonly explicitLabels: readonly string[] | undefined;
  private labelCache: readonly string[] | undefined;
  private transformCache: ImageTransform | undefined;
  private disposed = false;

  private constructor(
    private readonly session: BackendSession,
    options: {
      pretrained?: PretrainedConfig;
      labelNames?: readonly string[];
      batchSize: number;
      numClasses?: number;
      transform?: ImageTransform;
      source?: string;
      details?: ModelDetails;
    },
  ) {
    const unknown = session.outputNames.filter((name) => !isOutputName(name));
    const inputs = session.inputNames;
    const signature = `inputs ${inputs.map((name) => `'${name}'`).join(', ') || '(none)'}, outputs ${session.outputNames.map((name) => `'${name}'`).join(', ') || '(none)'}`;
    if (options.source !== undefined && (unknown.length > 0 || inputs.length !== 1 || inputs[0] !== 'pixel_values' || session.outputNames.length === 0)) {
      throw new UnsupportedError(
        `${options.source} has ${signature}; vitzoo runs image models with one input 'pixel_values' [batch, 3, height, width] and outputs among ` +
          `${OUTPUT_NAMES.map((name) => `'${name}'`).join(', ')} (the transformers.js / optimum image-classification export: 'pixel_values' in, 'logits' out).`,
      );
    }
    if (unknown.length > 0) {
      throw new InvalidArgumentError('graph', `The model has outputs ${unknown.join(', ')}; vitzoo models expose only ${OUTPUT_NAMES.join(', ')}, attention.<module>, rollout and intermediates.<i>.`);
    }
    if (!inputs.includes('pixel_values')) {
      throw new InvalidArgumentError('graph', `The model takes ${inputs.join(', ')}; a vitzoo model takes 'pixel_values'.`);
    }
    this.outputs = session.outputNames as OutputName[];
    this.pretrained = options.pretrained;
    this.batchSize = options.batchSize;
    this.details = options.details;
    this.explicitLabels = options.labelNames;
    this.transformCache = options.transform;
    const numClasses = options.numClasses ?? options.pretrained?.numClasses;
    // Checked now, so a wrong label list fails at load time rather than at the first classify.
    if (numClasses !== undefined && this.outputs.includes('logits')) this.labelCache = resolveLabelNames(numClasses, this.pretrained, this.explicitLabels);
  }

  /** Creates a session for the graph on `backend`. */
  static async create(options: CreateModelOptions): Promise<Model> {
    const batchSize = checkBatchSize(options.batchSize);
    if (!options.backend || typeof options.backend.createSession !== 'function') {
      throw new InvalidArgumentError('backend', 'createModel needs a backend (e.g. nodeBackend from @vitzoo/runtime-node).');
    }
    const graph = options.graph;
    if (typeof graph === 'string' ? graph === '' : !(graph instanceof Uint8Array) && (typeof graph !== 'object' || graph === null || typeof graph.chunks !== 'function')) {
      throw new InvalidArgumentError('graph', 'createModel needs a graph: a BuiltGraph from convertCheckpoint, ONNX bytes, or the path of an ONNX file.');
    }
    const model = typeof graph === 'string' || graph instanceof Uint8Array ? graph : graphBytes(graph);
    let numClasses: number | undefined;
    if (typeof graph !== 'string' && !(graph instanceof Uint8Array)) {
      const classes = graph.outputs.find((output) => output.name === 'logits')?.shape[1];
      if (typeof classes === 'number') numClasses = classes;
    }
    if (options.numClasses !== undefined) {
      const given = positiveInteger(options.numClasses, 'numClasses'); // checked even when the graph says it
      numClasses ??= given;
    }
    if (typeof graph !== 'string' && !(graph instanceof Uint8Array)) checkPrecisionRuns(options.backend.name, graph);
    const session = await options.backend.createSession(model, options.sessionOptions);
    try {
      return new Model(session, {
        pretrained: options.pretrained,
        labelNames: options.labelNames,
        batchSize,
        numClasses,
        transform: options.transform,
        source: options.source,
        details: options.details,
      });
    } catch (error) {
      await session.dispose();
      throw error;
    }
  }

  /** Class names by index (known once the number of classes is: from the graph, the config or the first run). */
  get labels(): readonly string[] | undefined {
    return this.labelCache;
  }

  /** The preprocessing: the one given when the model was created, else the pretrained config's (timm's eval transform). */
  get transform(): ImageTransform {
    if (this.transformCache) return this.transformCache;
    if (!this.pretrained) {
      throw new InvalidArgumentError(
        'images',
        'This model has no pretrained config, so it cannot preprocess images: pass `pretrained` (or a `transform`) when creating it, or give a preprocessed [N, 3, H, W] tensor.',
      );
    }
    return (this.transformCache ??= createTransform(this.pretrained));
  }

  /** Runs the graph on preprocessed pixels `[N, 3, H, W]`. */
  async forward(pixelValues: Tensor, options: ForwardOptions = {}): Promise<Partial<Record<OutputName, Tensor>>> {
    this.checkOpen();
    if (!isTensor(pixelValues) || pixelValues.shape.length !== 4 || pixelValues.shape[1] !== 3) {
      throw new InvalidArgumentError(
        'pixelValues',
        `pixel_values must be a [batch, 3, height, width] tensor, got ${isTensor(pixelValues) ? formatShape(pixelValues.shape) : typeof pixelValues}.`,
      );
    }
    const outputs = options.outputs ?? this.outputs;
    for (const output of outputs) {
      if (!this.outputs.includes(output)) {
        throw new InvalidArgumentError(
          'outputs',
          `This model was built with outputs ${this.outputs.join(', ')}; '${output}' must be requested when the graph is built (e.g. buildModel({ outputs: [${[...this.outputs, output].map((o) => `'${o}'`).join(', ')}] })).`,
        );
      }
    }
    return this.session.run({ pixel_values: pixelValues }, { outputs, signal: options.signal });
  }

  /**
   * Classifies images: preprocessing from the pretrained config, softmax in float64, the best
   * `topK` classes per image (default 5) as `{ index, label, score }`, best first. One list per image,
   * in input order (a single image gives a list of one list).
   */
  async classify(images: ModelInput, options: ClassifyOptions & { signal?: AbortSignal } = {}): Promise<Prediction[][]> {
    this.checkOpen();
    if (!this.outputs.includes('logits')) {
      throw new InvalidArgumentError('outputs', `This model was built without 'logits' (outputs: ${this.outputs.join(', ')}); rebuild it with 'logits' to classify.`);
    }
    if (this.labelCache) resolvePredictionFilter(options, this.labelCache); // bad options fail before any work
    const results: Prediction[][] = [];
    for await (const batch of this.batches(images)) {
      const { logits } = await this.forward(batch, { outputs: ['logits'], signal: options.signal });
      results.push(...this.predictionsFromLogits(logits, options));
    }
    return results;
  }

  /** Each row's predictions from a batch's logits [batch, classes]. */
  private predictionsFromLogits(logits: Tensor | undefined, options: ClassifyOptions): Prediction[][] {
    if (!logits || logits.shape.length !== 2) throw new InvalidArgumentError('logits', `Expected logits [batch, classes], got ${logits ? formatShape(logits.shape) : 'none'}.`);
    const [rows, classes] = logits.shape as [number, number];
    const labels = (this.labelCache ??= resolveLabelNames(classes, this.pretrained, this.explicitLabels));
    if (labels.length !== classes) {
      throw new InvalidConfigError('labelNames', `${labels.length} names`, `one name per class: the graph gives ${classes} logits`, 'classify');
    }
    const filter = resolvePredictionFilter(options, labels);
    const values = logits.data as Float32Array;
    return Array.from({ length: rows }, (_, row) => predictionsFromLogits(values.subarray(row * classes, (row + 1) * classes), labels, filter));
  }

  /** Image embeddings: the `pre_logits` output `[N, D]` (timm's forward_head(pre_logits=True)), optionally L2-normalised. */
  async embed(images: ModelInput, options: EmbedOptions = {}): Promise<Tensor<'float32'>> {
    this.checkOpen();
    if (!this.outputs.includes('pre_logits')) {
      throw new InvalidArgumentError(
        'outputs',
        `This model was built without 'pre_logits' (outputs: ${this.outputs.join(', ')}); build it with outputs ['logits', 'pre_logits'] to embed.`,
      );
    }
    const parts: Float32Array[] = [];
    let width = 0;
    let rows = 0;
    for await (const batch of this.batches(images)) {
      const { pre_logits: embedding } = await this.forward(batch, { outputs: ['pre_logits'], signal: options.signal });
      if (!embedding || embedding.shape.length !== 2) throw new InvalidArgumentError('pre_logits', 'Expected pre_logits [batch, features].');
      width = embedding.shape[1]!;
      rows += embedding.shape[0]!;
      parts.push(embedding.data as Float32Array);
    }
    const data = new Float32Array(rows * width);
    let offset = 0;
    for (const part of parts) {
      data.set(part, offset);
      offset += part.length;
    }
    if (options.normalize) normalizeRows(data, rows, width);
    return createTensor('float32', [rows, width], data);
  }

  /**
   * Heat maps of what the model looked at, one per image, in each image's own coordinates (values in
   * [0, 1]): `rollout` for class-token models, else the first principal component of the last
   * intermediate (`pca`); see @vitzoo/pipeline's explain.ts for the exact definitions. The model must
   * have been built with the output the method reads ('rollout', or an intermediate such as
   * 'intermediates.-1'). With `classify` (the options of `classify`), each heat map also carries the
   * image's `predictions`, from the same run.
   */
  async explain(
    images: RawImage | readonly RawImage[],
    options: { method?: ExplainMethod; signal?: AbortSignal; classify?: ClassifyOptions } = {},
  ): Promise<Heatmap[]> {
    this.checkOpen();
    const { method, output } = explainOutput(this.outputs, options.method ?? 'auto');
    const classify = options.classify;
    if (classify !== undefined) {
      if (!this.outputs.includes('logits')) throw new InvalidArgumentError('outputs', `This model was built without 'logits' (outputs: ${this.outputs.join(', ')}); build it with 'logits' to classify while explaining.`);
      if (this.labelCache) resolvePredictionFilter(classify, this.labelCache); // bad options fail before any work
    }
    const list: readonly RawImage[] = Array.isArray(images) ? images : [images as RawImage];
    if (list.length === 0) throw new InvalidArgumentError('images', 'No images given.');
    const transform = this.transform;
    const outputs = (classify !== undefined ? [output, 'logits'] : [output]) as OutputName[];
    const heatmaps: Heatmap[] = [];
    for (let start = 0; start < list.length; start += this.batchSize) {
      const batch = list.slice(start, start + this.batchSize);
      const result = await this.forward(transform.applyBatch(batch), { outputs, signal: options.signal });
      const placed = placeHeatGrids(method, heatGrids(method, result[output as OutputName]!), batch, transform);
      if (classify !== undefined) {
        const predictions = this.predictionsFromLogits(result.logits, classify);
        placed.forEach((heatmap, index) => (heatmap.predictions = predictions[index]!));
      }
      heatmaps.push(...placed);
    }
    return heatmaps;
  }

  /** Releases the runtime session. The model cannot be used afterwards. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    await this.session.dispose();
  }

  private checkOpen(): void {
    if (this.disposed) throw new InvalidArgumentError('model', 'This model has been disposed.');
  }

  /** Preprocessed batches of at most `batchSize` images. */
  private async *batches(images: ModelInput): AsyncGenerator<Tensor> {
    if (isTensor(images)) {
      const rows = images.shape[0];
      if (images.shape.length !== 4 || rows === undefined || rows < 1) {
        throw new InvalidArgumentError('images', `A pixel tensor must be [batch, 3, height, width] with batch >= 1, got ${formatShape(images.shape)}.`);
      }
      for (let start = 0; start < rows; start += this.batchSize) yield sliceRows(images, start, Math.min(this.batchSize, rows - start));
      return;
    }
    const list: readonly RawImage[] = Array.isArray(images) ? images : [images as RawImage];
    if (list.length === 0) throw new InvalidArgumentError('images', 'No images given.');
    const transform = this.transform;
    for (let start = 0; start < list.length; start += this.batchSize) {
      yield transform.applyBatch(list.slice(start, start + this.batchSize));
    }
  }
}

/** Creates a model from a built graph or ONNX bytes and a backend (see `Model.create`). */
export function createModel(options: CreateModelOptions): Promise<Model> {
  return Model.create(options);
}

/** What the constructor kwargs say about a model's data config. */
export interface KwargsFacts {
  numClasses?: number;
  /** `img_size` as [height, width]. */
  imageSize?: readonly [number, number];
}

/** `num_classes` and `img_size` from timm constructor kwargs, when present and well-formed. */
export function kwargsFacts(kwargs: Readonly<Record<string, unknown>>, context: string): KwargsFacts {
  const facts: KwargsFacts = {};
  const numClasses = kwargs.num_classes;
  if (numClasses !== undefined) {
    if (!(typeof numClasses === 'number' && Number.isSafeInteger(numClasses) && numClasses >= 0)) {
      throw new InvalidConfigError('num_classes', numClasses, 'a non-negative integer', context);
    }
    facts.numClasses = numClasses;
  }
  const size = kwargs.img_size;
  if (typeof size === 'number' && Number.isSafeInteger(size) && size > 0) facts.imageSize = [size, size];
  else if (Array.isArray(size) && size.length === 2 && size.every((side) => Number.isSafeInteger(side) && side > 0)) {
    facts.imageSize = [size[0] as number, size[1] as number];
  }
  return facts;
}

/**
 * The pretrained config of a model built from `base` (a variant's config) with kwargs and config
 * overrides: fields in `overrides` win; a kwargs `img_size` other than the base's input size
 * becomes the input size (unless `overrides` names one); a changed `num_classes` drops the
 * base's label set and names (they no longer fit). Without a base, timm's defaults are the base.
 */
export function mergePretrainedConfig(
  base: PretrainedConfig | undefined,
  overrides: Partial<PretrainedConfig> | undefined,
  facts: KwargsFacts = {},
): PretrainedConfig | undefined {
  if (!base && !overrides) return undefined;
  const start = base ?? pretrainedConfig({ numClasses: facts.numClasses, ...(facts.imageSize ? { size: facts.imageSize } : {}) });
  const merged: PretrainedConfig = { ...start, ...(overrides ?? {}) };
  if (facts.imageSize && overrides?.inputSize === undefined) merged.inputSize = [start.inputSize[0], facts.imageSize[0], facts.imageSize[1]];
  if (facts.numClasses !== undefined) merged.numClasses = facts.numClasses;
  if (merged.numClasses !== start.numClasses) {
    if (overrides?.labelSet === undefined) delete merged.labelSet;
    if (overrides?.labelNames === undefined) delete merged.labelNames;
  }
  return merged;
}
