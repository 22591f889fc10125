import { createCheckpointShapes, InvalidConfigError, mlpHiddenFeatures, KwargsReader, TRAINING_ONLY_KWARGS, type OutputCatalog } from '@vitzoo/core';

/** LayerNorm epsilon of the transformer blocks and the final norm (`partial(nn.LayerNorm, eps=1e-6)`). */
export const BLOCK_LAYER_NORM_EPSILON = 1e-6;
/** LayerNorm epsilon of the flexible downsampling layers (`pools.s.ln`, PyTorch's default). */
export const POOL_LAYER_NORM_EPSILON = 1e-5;

/** A stage: `depth` ViT blocks with LePE attention on a `side x side` token grid. */
export interface FdvitStage {
  /** Per-head width (`base_dims[s]`). */
  headDim: number;
  heads: number;
  /** Stage width `base_dims[s] * heads[s]`. */
  dim: number;
  depth: number;
  /** Token-grid side (`out_size[s]`; the patch grid for stage 0). */
  side: number;
  mlpHidden: number;
}

/** Parsed `PoolingTransformer` constructor arguments (AMD-AIG-AIMA/AMD_FDViT fdvit.py). */
export interface FdvitConfig {
  imageSize: number;
  patchSize: number;
  stride: number;
  inChans: number;
  numClasses: number;
  baseDims: number[];
  depth: number[];
  heads: number[];
  channels: number[];
  outSize: number[];
  mlpRatio: number;
  /** Side of the patch-embedding output, `floor((image_size - patch_size) / stride) + 1`. */
  patchGrid: number;
  stages: FdvitStage[];
  /** Width of the final features. */
  numFeatures: number;
}

const CONTEXT = 'fdvit (PoolingTransformer)';

/** `mask_thre` only drives the training-time masked auto-encoder branch. */
const IGNORED_KWARGS = [...TRAINING_ONLY_KWARGS, 'mask_thre'];

/**
 * Parses `PoolingTransformer(...)` kwargs with the authors' names. Everything except `num_classes`
 * and `in_chans` is a required positional argument there, so it is required here too. Checks what
 * the reference code silently relies on: `channels[s] == base_dims[s] * heads[s]` and
 * `out_size[0]` equal to the patch grid.
 */
export function parseFdvitConfig(kwargs: Readonly<Record<string, unknown>>): FdvitConfig {
  const reader = new KwargsReader(kwargs, CONTEXT, IGNORED_KWARGS);
  const imageSize = reader.int('image_size', undefined, 1);
  const patchSize = reader.int('patch_size', undefined, 1);
  const stride = reader.int('stride', undefined, 1);
  const baseDims = reader.intList('base_dims', undefined, undefined, 1);
  const depth = reader.intList('depth', undefined, undefined, 0);
  const heads = reader.intList('heads', undefined, undefined, 1);
  const channels = reader.intList('channels', undefined, undefined, 1);
  const outSize = reader.intList('out_size', undefined, undefined, 1);
  const mlpRatio = reader.number('mlp_ratio', undefined, { min: 0, exclusiveMin: true });
  const numClasses = reader.int('num_classes', 1000, 0);
  const inChans = reader.int('in_chans', 3, 1);
  reader.finish();

  const stageCount = depth.length;
  const sameLength = (name: string, list: number[]) => {
    if (list.length !== stageCount) {
      throw new InvalidConfigError(name, list, `one entry per stage (${stageCount}, the length of depth)`, CONTEXT);
    }
  };
  sameLength('base_dims', baseDims);
  sameLength('heads', heads);
  sameLength('channels', channels);
  sameLength('out_size', outSize);

  if (patchSize > imageSize) {
    throw new InvalidConfigError('patch_size', patchSize, `at most image_size (${imageSize})`, CONTEXT);
  }
  const patchGrid = Math.floor((imageSize - patchSize) / stride) + 1;
  const mismatched = channels.findIndex((width, s) => width !== baseDims[s]! * heads[s]!);
  if (mismatched !== -1) {
    throw new InvalidConfigError(
      'channels',
      channels,
      `channels[s] == base_dims[s] * heads[s] for every stage (stage ${mismatched}: ${channels[mismatched]} != ${baseDims[mismatched]} * ${heads[mismatched]} = ${baseDims[mismatched]! * heads[mismatched]!})`,
      CONTEXT,
    );
  }
  if (outSize[0] !== patchGrid) {
    throw new InvalidConfigError(
      'out_size',
      outSize,
      `out_size[0] equal to the patch grid side floor((image_size - patch_size) / stride) + 1 = floor((${imageSize} - ${patchSize}) / ${stride}) + 1 = ${patchGrid}`,
      CONTEXT,
    );
  }
  const stages = depth.map((stageDepth, s): FdvitStage => {
    const dim = baseDims[s]! * heads[s]!;
    return { headDim: baseDims[s]!, heads: heads[s]!, dim, depth: stageDepth, side: outSize[s]!, mlpHidden: mlpHiddenFeatures(dim, mlpRatio) };
  });
  const numFeatures = stages[stages.length - 1]!.dim;
  return { imageSize, patchSize, stride, inChans, numClasses, baseDims, depth, heads, channels, outSize, mlpRatio, patchGrid, stages, numFeatures };
}

/** Checkpoint keys and shapes for inference, as the authors' state_dict names them (no `decoders.*`). */
export function fdvitCheckpointShapes(config: FdvitConfig): Record<string, readonly number[]> {
  const { shapes, linear, layerNorm: norm } = createCheckpointShapes();
  const first = config.stages[0]!;
  shapes['pos_embed'] = [1, first.dim, config.patchGrid, config.patchGrid];
  shapes['patch_embed.conv.weight'] = [first.dim, config.inChans, config.patchSize, config.patchSize];
  shapes['patch_embed.conv.bias'] = [first.dim];
  config.stages.forEach((stage, s) => {
    for (let block = 0; block < stage.depth; block++) {
      const prefix = `transformers.${s}.blocks.${block}`;
      norm(`${prefix}.norm1`, stage.dim);
      linear(`${prefix}.attn.qkv`, 3 * stage.dim, stage.dim);
      shapes[`${prefix}.attn.get_v.weight`] = [stage.dim, 1, 3, 3];
      shapes[`${prefix}.attn.get_v.bias`] = [stage.dim];
      linear(`${prefix}.attn.proj`, stage.dim, stage.dim);
      norm(`${prefix}.norm2`, stage.dim);
      linear(`${prefix}.mlp.fc1`, stage.mlpHidden, stage.dim);
      linear(`${prefix}.mlp.fc2`, stage.dim, stage.mlpHidden);
    }
    const next = config.stages[s + 1];
    if (next) {
      norm(`pools.${s}.ln`, stage.dim);
      shapes[`pools.${s}.conv.weight`] = [next.dim, stage.dim, 3, 3];
      shapes[`pools.${s}.conv.bias`] = [next.dim];
    }
  });
  norm('norm', config.numFeatures);
  if (config.numClasses > 0) linear('head', config.numClasses, config.numFeatures);
  return shapes;
}

/**
 * The extra outputs of a config: every block's attention (`transformers.<s>.blocks.<i>.attn`,
 * forward order) and one intermediate per stage (ours: the stage's output tokens as
 * `[B, D_s, side, side]`, before the next downsampling and without the final norm).
 */
export function fdvitOutputs(config: FdvitConfig): OutputCatalog {
  return {
    attention: config.stages.flatMap((stage, s) => Array.from({ length: stage.depth }, (_, i) => `transformers.${s}.blocks.${i}.attn`)),
    intermediates: config.stages.length,
    rollout: false,
  };
}
