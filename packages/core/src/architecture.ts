import type { DataType, Tensor } from './tensor.js';

/** A checkpoint: tensors keyed by the reference implementation's own state_dict names. */
export type StateDict = Record<string, Tensor>;

/** The outputs of a classifier's head (timm's forward_features / forward_head split). */
export type HeadOutputName = 'logits' | 'pre_logits' | 'features';
export const HEAD_OUTPUT_NAMES: readonly HeadOutputName[] = ['logits', 'pre_logits', 'features'];
/** @deprecated The head outputs; use HEAD_OUTPUT_NAMES (graphs can now give more, see OutputName). */
export const OUTPUT_NAMES = HEAD_OUTPUT_NAMES;

/**
 * The outputs a graph can expose, chosen when it is built: the head outputs, the post-softmax
 * probabilities of one attention module (`attention.<module path>`, the reference's module path,
 * e.g. `attention.blocks.0.attn`), attention `rollout` (class-token models), and the output of one
 * block or stage (`intermediates.<i>`, as timm's forward_intermediates, NCHW).
 */
export type OutputName = HeadOutputName | 'rollout' | `attention.${string}` | `intermediates.${number}`;

/** What may be requested: an output name, or a group that stands for several ('attention', 'intermediates'). */
export type OutputRequest = OutputName | 'attention' | 'intermediates';

/** The extra outputs an architecture can give for one config. */
export interface OutputCatalog {
  /** Attention modules whose probabilities can be outputs, by reference module path, in forward order. */
  attention: readonly string[];
  /** How many intermediates (`intermediates.0` … `intermediates.<n-1>`) there are. */
  intermediates: number;
  /** Whether `rollout` can be computed (class-token models). */
  rollout: boolean;
}

/** True for any well-formed output name (heads, attention.*, rollout, intermediates.<i>). */
export function isOutputName(name: string): name is OutputName {
  return (HEAD_OUTPUT_NAMES as readonly string[]).includes(name) || name === 'rollout' || /^attention\.[A-Za-z0-9_.]+$/.test(name) || /^intermediates\.(0|[1-9]\d*)$/.test(name);
}

export type Interpolation = 'nearest' | 'bilinear' | 'bicubic' | 'lanczos' | 'box' | 'hamming';
export type CropMode = 'center' | 'squash' | 'border';

/** timm's pretrained config (the fields preprocessing and postprocessing need), camel-cased. */
export interface PretrainedConfig {
  /** [channels, height, width] */
  inputSize: readonly [number, number, number];
  interpolation: Interpolation;
  cropPct: number;
  cropMode?: CropMode;
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
  numClasses: number;
  /** A bundled label set (e.g. 'imagenet-1k') when `labelNames` is not given. */
  labelSet?: string;
  labelNames?: readonly string[];
  /** Hugging Face hub repo, e.g. 'timm/vit_base_patch16_224.augreg2_in21k_ft_in1k'. */
  hfHubId?: string;
  url?: string;
  file?: string;
  license?: string;
}

/** A registered variant: constructor kwargs plus its pretrained weights' configs by tag. */
export interface VariantDefinition {
  kwargs: Readonly<Record<string, unknown>>;
  /** Ordered: the first tag is the default, as in timm. */
  pretrained: Readonly<Record<string, PretrainedConfig>>;
}

/** Precision of the weights in a built graph (see the pipeline README's shared options). */
export type Dtype = 'fp32' | 'fp16' | 'int8' | 'q4';
export const DTYPES: readonly Dtype[] = ['fp32', 'fp16', 'int8', 'q4'];

/** Block sizes `q4` graphs may use (`q4BlockSize`): powers of two that ONNX Runtime's MatMulNBits takes. */
export const Q4_BLOCK_SIZES: readonly number[] = [16, 32, 64, 128, 256];
export const DEFAULT_Q4_BLOCK_SIZE = 32;

export interface GraphBuildOptions {
  /** Outputs the graph exposes, in this order. Default: ['logits']. */
  outputs?: readonly OutputName[];
  /** Weight precision. Default 'fp32'. */
  dtype?: Dtype;
  /**
   * `q4` graphs: weights per quantization block (one scale and zero point each). Default 32.
   * WebGPU runs 16 and 32 only.
   */
  q4BlockSize?: number;
  /** Name stored in the ONNX graph. */
  graphName?: string;
}

export interface GraphValueInfo {
  name: string;
  dtype: DataType;
  /** Numbers for fixed dimensions, strings for symbolic ones (e.g. 'batch'). */
  shape: readonly (number | string)[];
}

/**
 * A built model: its ONNX protobuf bytes, produced as chunks on demand (so a large model can be
 * streamed to a file without a second copy of its weights), plus its input/output signature.
 */
export interface BuiltGraph {
  /**
   * The weight precision the graph was built with (set by `@vitzoo/onnx/layers`); undefined for
   * graphs built another way, which `convertCheckpoint` then only accepts as fp32.
   */
  dtype?: Dtype;
  /** q4 graphs: the block size asked for (a Linear whose K it does not divide uses a smaller one). */
  q4BlockSize?: number;
  inputs: readonly GraphValueInfo[];
  outputs: readonly GraphValueInfo[];
  /** Total size of the ONNX bytes. */
  byteLength: number;
  /** The ONNX bytes in order; each call starts over. */
  chunks(): Iterable<Uint8Array>;
}

/** The ONNX bytes of a built graph in one buffer. */
export function graphBytes(graph: BuiltGraph): Uint8Array {
  const out = new Uint8Array(graph.byteLength);
  let offset = 0;
  for (const chunk of graph.chunks()) {
    out.set(chunk, offset);
    offset += chunk.byteLength;
  }
  if (offset !== graph.byteLength) throw new RangeError(`Graph produced ${offset} bytes, announced ${graph.byteLength}.`);
  return out;
}

/** What `parseConfig` may consult besides kwargs (e.g. to tell DeiT's distilled form from its checkpoint). */
export interface ParseHints {
  stateDict?: StateDict;
}

/**
 * An architecture plugin (specification v1). Third parties implement this interface and register
 * it; nothing else in vitzoo special-cases an architecture.
 */
export interface Architecture<Config = unknown> {
  readonly specificationVersion: 'v1';
  /** Short id used in fixture configs and `arch` fields, e.g. 'vit'. */
  readonly id: string;
  readonly description?: string;
  /**
   * Changes whenever the graphs this architecture builds change (new ops, new layout): it is part
   * of the built-graph cache key, so a cached graph from an older builder is never reused.
   */
  readonly builderVersion?: string;
  /** Registered variants by timm-style name, e.g. 'vit_tiny_patch16_224'. */
  readonly variants: Readonly<Record<string, VariantDefinition>>;
  /**
   * Validates constructor kwargs (timm's names) and fills defaults. Throws `InvalidConfigError`
   * naming the field on anything it cannot build.
   */
  parseConfig(kwargs: Readonly<Record<string, unknown>>, hints?: ParseHints): Config;
  /** Expected checkpoint keys and shapes (after `filterCheckpoint`) for a config. */
  checkpointShapes(config: Config): Record<string, readonly number[]>;
  /**
   * Pure function adapting foreign checkpoint layouts (other repos, older timm) to the keys
   * `checkpointShapes` names. Must not mutate its input.
   */
  filterCheckpoint?(stateDict: StateDict, config: Config): StateDict;
  /** Builds the ONNX graph; `stateDict` has been filtered and validated. */
  buildGraph(config: Config, stateDict: StateDict, options: Required<Pick<GraphBuildOptions, 'outputs'>> & GraphBuildOptions): BuiltGraph;
  /** The head outputs this architecture can produce (default: all of HEAD_OUTPUT_NAMES). */
  readonly supportedOutputs?: readonly HeadOutputName[];
  /** The attention modules, intermediates and rollout a config can give (default: none). */
  outputCatalog?(config: Config): OutputCatalog;
  /**
   * The kwargs that run a checkpoint at another image size `[height, width]` (the `imageSize`
   * option), as the reference does it (e.g. ViT: `img_size`, position embeddings resampled when the
   * checkpoint is loaded). Throws `InvalidArgumentError` for a size it cannot take. Absent: the
   * architecture runs only at its configured size (imageSize is refused).
   */
  withImageSize?(kwargs: Readonly<Record<string, unknown>>, size: readonly [number, number]): Record<string, unknown>;
}

export const IMAGENET_DEFAULT_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_DEFAULT_STD = [0.229, 0.224, 0.225] as const;
export const IMAGENET_INCEPTION_MEAN = [0.5, 0.5, 0.5] as const;
export const IMAGENET_INCEPTION_STD = [0.5, 0.5, 0.5] as const;

/** A pretrained config with timm's defaults (bicubic, ImageNet-1k, ImageNet mean/std) overridden by `overrides`. */
export function pretrainedConfig(
  overrides: Partial<PretrainedConfig> & { size?: number | readonly [number, number]; inception?: boolean },
): PretrainedConfig {
  const { size, inception, ...rest } = overrides;
  const [height, width] = typeof size === 'number' ? [size, size] : (size ?? [224, 224]);
  const numClasses = rest.numClasses ?? 1000;
  return {
    inputSize: [3, height, width],
    interpolation: 'bicubic',
    cropPct: height >= 384 ? 1 : 0.9,
    mean: inception ? IMAGENET_INCEPTION_MEAN : IMAGENET_DEFAULT_MEAN,
    std: inception ? IMAGENET_INCEPTION_STD : IMAGENET_DEFAULT_STD,
    numClasses,
    labelSet: numClasses === 1000 ? 'imagenet-1k' : numClasses === 21843 ? 'imagenet-21k-goog' : numClasses === 21841 ? 'imagenet-22k-ms' : undefined,
    license: 'apache-2.0',
    ...rest,
  };
}
