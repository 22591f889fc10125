import { createCheckpointShapes, mlpHiddenFeatures, InvalidConfigError, KwargsReader, TRAINING_ONLY_KWARGS, type OutputCatalog } from '@vitzoo/core';

/** LayerNorm epsilon everywhere in timm's Swin (`nn.LayerNorm` default). */
export const SWIN_LAYER_NORM_EPS = 1e-5;

export type Pair = readonly [number, number];

/** Rows of a window's relative_position_bias_table: (2h-1)(2w-1). */
export const relativeTableLength = (window: Pair) => (2 * window[0] - 1) * (2 * window[1] - 1);

/** One Swin block after timm's window rule. */
export interface SwinBlockGeometry {
  /** Effective window [h, w] (the stage resolution where it is <= the configured window). */
  window: Pair;
  /** Cyclic shift [h, w]; [0, 0] for even blocks and where the window covers the resolution. */
  shift: Pair;
  /** Resolution after padding bottom/right to a multiple of the window. */
  padded: Pair;
}

/** One stage (timm `SwinTransformerStage`, `layers.<index>`). */
export interface SwinStageGeometry {
  index: number;
  /** Channels entering the stage (before patch merging). */
  inputDim: number;
  /** Channels inside the stage. */
  dim: number;
  numHeads: number;
  headDim: number;
  /** Hidden width of each block's MLP: int(dim * mlp_ratio). */
  mlpHidden: number;
  /** Stages after the first start with patch merging (`layers.<index>.downsample`). */
  downsample: boolean;
  /** Token grid [h, w] the blocks actually see (odd sizes are padded before merging). */
  resolution: Pair;
  /** The grid timm derives from img_size for its window rule and static masks (floor halving). */
  nominalResolution: Pair;
  blocks: SwinBlockGeometry[];
}

/** A parsed timm `SwinTransformer` configuration. */
export interface SwinConfig {
  imgSize: Pair;
  patchSize: Pair;
  inChans: number;
  numClasses: number;
  globalPool: 'avg' | '';
  embedDim: number;
  depths: readonly number[];
  numHeads: readonly number[];
  /** Per stage; null means dim // num_heads. */
  headDim: readonly (number | null)[];
  /** Configured window per stage (before the resolution rule). */
  windowSize: readonly Pair[];
  mlpRatio: readonly number[];
  qkvBias: boolean;
  alwaysPartition: boolean;
  strictImgSize: boolean;
  /** Patch grid [h, w] = img_size // patch_size. */
  patchGrid: Pair;
  stages: readonly SwinStageGeometry[];
  /** Channels of the final norm / head input. */
  numFeatures: number;
}

const CONTEXT = 'swin (timm SwinTransformer)';

/** Kwargs read by hand because timm accepts several shapes for them. */
const UNION_KWARGS = ['window_size', 'head_dim', 'mlp_ratio'] as const;

function isPositiveInteger(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) >= 1;
}

function isPair(value: unknown): value is [number, number] {
  return Array.isArray(value) && value.length === 2 && value.every(isPositiveInteger);
}

/** timm's to_2tuple on a per-stage window entry. */
function windowEntry(value: unknown): Pair | undefined {
  if (isPositiveInteger(value)) return [value, value];
  if (isPair(value)) return [value[0], value[1]];
  return undefined;
}

/**
 * timm: an int is used for every stage; a list or tuple of length 2 is one [h, w] window for every
 * stage (even with two stages); any other list gives one entry (int or pair) per stage.
 */
function parseWindowSize(raw: unknown, numLayers: number): Pair[] {
  const expected = `an integer >= 1, an [h, w] pair, or ${numLayers} per-stage entries (integers or pairs)`;
  if (raw === undefined || raw === null) return Array.from({ length: numLayers }, () => [7, 7] as const);
  if (isPositiveInteger(raw)) return Array.from({ length: numLayers }, () => [raw, raw] as const);
  if (Array.isArray(raw) && raw.length === 2 && raw.every(isPositiveInteger)) {
    return Array.from({ length: numLayers }, () => [raw[0] as number, raw[1] as number] as const);
  }
  if (Array.isArray(raw) && raw.length === numLayers) {
    const entries = raw.map(windowEntry);
    if (entries.every((entry): entry is Pair => entry !== undefined)) return entries;
  }
  throw new InvalidConfigError('window_size', raw, expected, CONTEXT);
}

/** timm's to_ntuple(num_layers) for head_dim (None or int for all stages, or one per stage). */
function parseHeadDim(raw: unknown, numLayers: number): (number | null)[] {
  if (raw === undefined || raw === null) return Array.from({ length: numLayers }, () => null);
  if (isPositiveInteger(raw)) return Array.from({ length: numLayers }, () => raw);
  if (Array.isArray(raw) && raw.length === numLayers && raw.every((v) => v === null || isPositiveInteger(v))) {
    return raw as (number | null)[];
  }
  throw new InvalidConfigError('head_dim', raw, `null, an integer >= 1, or ${numLayers} of them (one per stage)`, CONTEXT);
}

function parseMlpRatio(raw: unknown, numLayers: number): number[] {
  const ok = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;
  if (raw === undefined || raw === null) return Array.from({ length: numLayers }, () => 4);
  if (ok(raw)) return Array.from({ length: numLayers }, () => raw);
  if (Array.isArray(raw) && raw.length === numLayers && raw.every(ok)) return [...raw];
  throw new InvalidConfigError('mlp_ratio', raw, `a number > 0 or ${numLayers} of them (one per stage)`, CONTEXT);
}

const ceilTo = (value: number, multiple: number) => Math.ceil(value / multiple) * multiple;

/**
 * Parses timm `SwinTransformer` constructor kwargs (timm 1.0 names and defaults) and derives the
 * geometry of every stage and block. Throws `InvalidConfigError` on anything timm would not build
 * or that this package cannot build.
 */
export function parseSwinConfig(kwargs: Readonly<Record<string, unknown>>): SwinConfig {
  const reader = new KwargsReader(kwargs, CONTEXT, [...TRAINING_ONLY_KWARGS, ...UNION_KWARGS]);
  const imgSize = reader.pair('img_size', 224);
  const patchSize = reader.pair('patch_size', 4);
  const inChans = reader.int('in_chans', 3, 1);
  const numClasses = reader.int('num_classes', 1000, 0);
  const globalPool = reader.oneOf('global_pool', ['avg', ''] as const, 'avg');
  const embedDim = reader.int('embed_dim', 96, 1);
  const depths = reader.intList('depths', [2, 2, 6, 2], undefined, 1);
  const numLayers = depths.length;
  const numHeads = reader.intList('num_heads', [3, 6, 12, 24], numLayers, 1);
  const qkvBias = reader.bool('qkv_bias', true);
  const alwaysPartition = reader.bool('always_partition', false);
  const strictImgSize = reader.bool('strict_img_size', true);
  reader.oneOf('norm_layer', ['layernorm'] as const, 'layernorm');
  reader.finish();
  const windowSize = parseWindowSize(kwargs.window_size, numLayers);
  const headDim = parseHeadDim(kwargs.head_dim, numLayers);
  const mlpRatio = parseMlpRatio(kwargs.mlp_ratio, numLayers);

  const patchGrid: Pair = [Math.floor(imgSize[0] / patchSize[0]), Math.floor(imgSize[1] / patchSize[1])];
  if (patchGrid[0] < 1 || patchGrid[1] < 1) {
    throw new InvalidConfigError('img_size', kwargs.img_size ?? 224, `at least patch_size (${patchSize.join('x')})`, CONTEXT);
  }

  const stages: SwinStageGeometry[] = [];
  let resolution: Pair = patchGrid;
  let nominal: Pair = patchGrid;
  let inputDim = embedDim;
  for (let index = 0; index < numLayers; index++) {
    const dim = embedDim * 2 ** index;
    const downsample = index > 0;
    if (downsample) {
      // timm's PatchMerging pads odd sizes (ceil) while the stage's input_resolution halves with floor.
      resolution = [Math.ceil(resolution[0] / 2), Math.ceil(resolution[1] / 2)];
      nominal = [Math.floor(nominal[0] / 2), Math.floor(nominal[1] / 2)];
      if (nominal[0] < 1 || nominal[1] < 1) {
        throw new InvalidConfigError('depths', depths, `at most as many stages as the ${patchGrid.join('x')} patch grid can be halved`, CONTEXT);
      }
    }
    const heads = numHeads[index]!;
    const stageHeadDim = headDim[index] ?? Math.floor(dim / heads);
    if (stageHeadDim < 1) {
      throw new InvalidConfigError('num_heads', numHeads, `at most ${dim} heads in stage ${index} (dim ${dim})`, CONTEXT);
    }
    const target = windowSize[index]!;
    const targetShift: Pair = [Math.floor(target[0] / 2), Math.floor(target[1] / 2)];
    const blocks: SwinBlockGeometry[] = [];
    for (let b = 0; b < depths[index]!; b++) {
      const shifted = b % 2 === 1;
      let window: Pair;
      let shift: Pair;
      if (alwaysPartition) {
        window = target;
        shift = shifted ? targetShift : [0, 0];
      } else {
        window = [Math.min(nominal[0], target[0]), Math.min(nominal[1], target[1])];
        shift = [
          shifted && nominal[0] > target[0] ? targetShift[0] : 0,
          shifted && nominal[1] > target[1] ? targetShift[1] : 0,
        ];
      }
      const padded: Pair = [ceilTo(resolution[0], window[0]), ceilTo(resolution[1], window[1])];
      if ((shift[0] > 0 || shift[1] > 0) && strictImgSize) {
        // timm builds the shift mask once from input_resolution; it must tile the padded map.
        const maskGrid: Pair = [ceilTo(nominal[0], window[0]), ceilTo(nominal[1], window[1])];
        if (maskGrid[0] !== padded[0] || maskGrid[1] !== padded[1]) {
          throw new InvalidConfigError(
            'img_size',
            kwargs.img_size ?? 224,
            `a size whose stage-${index} grid is not odd-padded against its shifted windows (timm's static mask would not fit); ` +
              'use an img_size divisible by patch_size * 2^(stages-1), or strict_img_size=false',
            CONTEXT,
          );
        }
      }
      blocks.push({ window, shift, padded });
    }
    const mlpHidden = mlpHiddenFeatures(dim, mlpRatio[index]!);
    stages.push({
      index,
      inputDim,
      dim,
      numHeads: heads,
      headDim: stageHeadDim,
      mlpHidden,
      downsample,
      resolution,
      nominalResolution: nominal,
      blocks,
    });
    inputDim = dim;
  }
  return {
    imgSize,
    patchSize,
    inChans,
    numClasses,
    globalPool,
    embedDim,
    depths,
    numHeads,
    headDim,
    windowSize,
    mlpRatio,
    qkvBias,
    alwaysPartition,
    strictImgSize,
    patchGrid,
    stages,
    numFeatures: embedDim * 2 ** (numLayers - 1),
  };
}

/** timm 1.0 `SwinTransformer` state_dict keys and shapes for a config. */
export function swinCheckpointShapes(config: SwinConfig): Record<string, readonly number[]> {
  const { shapes, set, linear, layerNorm } = createCheckpointShapes();
  set('patch_embed.proj.weight', [config.embedDim, config.inChans, ...config.patchSize]);
  set('patch_embed.proj.bias', [config.embedDim]);
  layerNorm('patch_embed.norm', config.embedDim);
  for (const stage of config.stages) {
    const prefix = `layers.${stage.index}`;
    if (stage.downsample) {
      layerNorm(`${prefix}.downsample.norm`, 4 * stage.inputDim);
      linear(`${prefix}.downsample.reduction`, stage.dim, 4 * stage.inputDim, false);
    }
    const attentionDim = stage.numHeads * stage.headDim;
    stage.blocks.forEach((block, index) => {
      const blockPrefix = `${prefix}.blocks.${index}`;
      layerNorm(`${blockPrefix}.norm1`, stage.dim);
      set(`${blockPrefix}.attn.relative_position_bias_table`, [relativeTableLength(block.window), stage.numHeads]);
      linear(`${blockPrefix}.attn.qkv`, 3 * attentionDim, stage.dim, config.qkvBias);
      linear(`${blockPrefix}.attn.proj`, stage.dim, attentionDim);
      layerNorm(`${blockPrefix}.norm2`, stage.dim);
      linear(`${blockPrefix}.mlp.fc1`, stage.mlpHidden, stage.dim);
      linear(`${blockPrefix}.mlp.fc2`, stage.dim, stage.mlpHidden);
    });
  }
  layerNorm('norm', config.numFeatures);
  if (config.numClasses > 0) linear('head.fc', config.numClasses, config.numFeatures);
  return shapes;
}

/**
 * The extra outputs of a config: every block's window attention (`layers.<i>.blocks.<j>.attn`, in
 * forward order) and one intermediate per stage (timm's forward_intermediates: the stage's output
 * as [B, C, h, w]). No rollout: Swin has no class token.
 */
export function swinOutputs(config: SwinConfig): OutputCatalog {
  return {
    attention: config.stages.flatMap((stage) => stage.blocks.map((_, block) => `layers.${stage.index}.blocks.${block}.attn`)),
    intermediates: config.stages.length,
    rollout: false,
  };
}
