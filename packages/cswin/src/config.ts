import { createCheckpointShapes, InvalidConfigError, mlpHiddenFeatures, KwargsReader, TRAINING_ONLY_KWARGS, type OutputCatalog } from '@vitzoo/core';

/** LayerNorm epsilon of every norm in the authors' model (`nn.LayerNorm` default). */
export const LAYER_NORM_EPSILON = 1e-5;

/** One attention branch of a CSWin block: stripe windows of `windowHeight x windowWidth` tokens. */
export interface CswinBranch {
  /** Channels of q, k and v this branch owns: `[channelStart, channelStart + channels)`. */
  channelStart: number;
  channels: number;
  heads: number;
  headDim: number;
  windowHeight: number;
  windowWidth: number;
  /** The factor q is multiplied by before `q k^T` (`qk_scale` or `head_dim ** -0.5`). */
  scale: number;
}

/** A stage: `depth` blocks on a `side x side` token grid of width `dim`. */
export interface CswinStage {
  dim: number;
  depth: number;
  numHeads: number;
  splitSize: number;
  /** The stage's token-grid side (the stem's output side, halved, rounded up, by each merge). */
  side: number;
  mlpHidden: number;
  /** One branch (full attention over the map) or two (column stripes, then row stripes). */
  branches: CswinBranch[];
}

/** Parsed `CSWinTransformer` constructor arguments (microsoft/CSWin-Transformer models/cswin.py). */
export interface CswinConfig {
  imgSize: number;
  inChans: number;
  numClasses: number;
  embedDim: number;
  depth: number[];
  splitSize: number[];
  numHeads: number[];
  mlpRatio: number;
  qkvBias: boolean;
  qkScale: number | null;
  /** Derived per-stage geometry, in order. */
  stages: CswinStage[];
  /** Width of the final features (8 x embed_dim). */
  numFeatures: number;
}

const CONTEXT = 'cswin (CSWinTransformer)';

/** Kwargs of the authors' constructor that only matter for training. */
const IGNORED_KWARGS = [...TRAINING_ONLY_KWARGS, 'use_chk'];

/**
 * Parses `CSWinTransformer(...)` kwargs with the authors' names and defaults and derives the
 * per-stage geometry, refusing (with `InvalidConfigError`) every config the reference code could not
 * build: grid sides that are not what the blocks assert, stripe widths that do not divide the grid
 * (the classification model does not pad), heads that do not divide the channels.
 */
export function parseCswinConfig(kwargs: Readonly<Record<string, unknown>>): CswinConfig {
  const reader = new KwargsReader(kwargs, CONTEXT, IGNORED_KWARGS);
  const imgSize = reader.int('img_size', 224, 1);
  reader.int('patch_size', 16, 1); // accepted for compatibility; the stem is hard-wired (7x7, stride 4)
  const inChans = reader.int('in_chans', 3, 1);
  const numClasses = reader.int('num_classes', 1000, 0);
  const embedDim = reader.int('embed_dim', 96, 1);
  const depth = reader.intList('depth', [2, 2, 6, 2], 4, 0);
  const splitSize = reader.intList('split_size', [3, 5, 7], undefined, 1);
  const numHeads = reader.intList('num_heads', undefined, 4, 1);
  const mlpRatio = reader.number('mlp_ratio', 4, { min: 0, exclusiveMin: true });
  const qkvBias = reader.bool('qkv_bias', true);
  const qkScale = reader.optionalNumber('qk_scale');
  if (reader.has('hybrid_backbone')) {
    throw new InvalidConfigError('hybrid_backbone', kwargs.hybrid_backbone, 'null (the classification model has no hybrid backbone)', CONTEXT);
  }
  reader.finish();
  if (splitSize.length < 3) {
    throw new InvalidConfigError('split_size', splitSize, 'a list of 3 or 4 stripe widths (stages 1-3; stage 4 always uses full attention)', CONTEXT);
  }

  // The stem conv (k7, s4, p2) must give exactly img_size // 4 (the reference's Rearrange asserts it).
  const stemSide = Math.floor((imgSize + 4 - 7) / 4) + 1;
  if (stemSide < 1 || stemSide !== Math.floor(imgSize / 4)) {
    throw new InvalidConfigError('img_size', imgSize, `a size whose 7x7 stride-4 stem output (${stemSide}) equals img_size // 4, e.g. a multiple of 32`, CONTEXT);
  }

  const stages: CswinStage[] = [];
  const scaleFor = (headDim: number) => (qkScale !== null && qkScale !== 0 ? qkScale : headDim ** -0.5); // `qk_scale or head_dim ** -0.5`
  let side = stemSide;
  for (let index = 0; index < 4; index++) {
    const dim = embedDim * 2 ** index;
    if (index > 0) side = Math.ceil(side / 2); // merge conv: k3, s2, p1
    // The blocks are built for img_size // 4, // 8, // 16, // 32 (`reso`) and assert it at run time.
    const reso = Math.floor(imgSize / 4 / 2 ** index);
    const stageDepth = depth[index]!;
    const heads = numHeads[index]!;
    // stage 4 reads split_size[-1]; stages 1-3 split_size[0..2]
    const sw = index === 3 ? splitSize[splitSize.length - 1]! : splitSize[index]!;
    const hasBlocks = stageDepth > 0;
    if (hasBlocks && side !== reso) {
      throw new InvalidConfigError(
        'img_size',
        imgSize,
        `a size for which every stage's token grid halves exactly (stage ${index + 1} gets ${side}x${side} tokens but its blocks are built for img_size // ${4 * 2 ** index} = ${reso}); use a multiple of 32`,
        CONTEXT,
      );
    }
    const single = index === 3 || reso === sw;
    const branches: CswinBranch[] = [];
    if (single) {
      if (hasBlocks && dim % heads !== 0) {
        throw new InvalidConfigError('num_heads', numHeads, `head counts dividing the stage widths (stage ${index + 1}: ${heads} heads for ${dim} channels)`, CONTEXT);
      }
      const headDim = dim / heads;
      branches.push({ channelStart: 0, channels: dim, heads, headDim, windowHeight: reso, windowWidth: reso, scale: scaleFor(headDim) });
    } else {
      const branchHeads = Math.floor(heads / 2);
      const channels = dim / 2;
      if (hasBlocks && (dim % 2 !== 0 || branchHeads < 1 || channels % branchHeads !== 0)) {
        throw new InvalidConfigError(
          'num_heads',
          numHeads,
          `per-stage head counts of at least 2 whose half divides half the stage width (stage ${index + 1}: ${heads} heads, ${dim} channels, two stripe branches)`,
          CONTEXT,
        );
      }
      if (hasBlocks && reso % sw !== 0) {
        throw new InvalidConfigError(
          'img_size',
          imgSize,
          `a size whose stage grids are multiples of the stripe widths: stage ${index + 1} has a ${reso}x${reso} token grid (img_size // ${4 * 2 ** index}), which split_size[${index}] = ${sw} does not divide (the classification model does not pad)`,
          CONTEXT,
        );
      }
      const headDim = channels / branchHeads;
      const scale = scaleFor(headDim);
      // attns.0: full-height column stripes of width sw; attns.1: full-width row stripes of height sw
      branches.push({ channelStart: 0, channels, heads: branchHeads, headDim, windowHeight: reso, windowWidth: sw, scale });
      branches.push({ channelStart: channels, channels, heads: branchHeads, headDim, windowHeight: sw, windowWidth: reso, scale });
    }
    stages.push({ dim, depth: stageDepth, numHeads: heads, splitSize: sw, side, mlpHidden: mlpHiddenFeatures(dim, mlpRatio), branches });
  }
  return { imgSize, inChans, numClasses, embedDim, depth, splitSize, numHeads, mlpRatio, qkvBias, qkScale, stages, numFeatures: embedDim * 8 };
}

/** The checkpoint keys and shapes of a config, named as the authors' state_dict names them. */
export function cswinCheckpointShapes(config: CswinConfig): Record<string, readonly number[]> {
  const { shapes, linear, layerNorm: norm } = createCheckpointShapes();
  const { embedDim } = config;
  shapes['stage1_conv_embed.0.weight'] = [embedDim, config.inChans, 7, 7];
  shapes['stage1_conv_embed.0.bias'] = [embedDim];
  norm('stage1_conv_embed.2', embedDim);
  config.stages.forEach((stage, index) => {
    if (index > 0) {
      shapes[`merge${index}.conv.weight`] = [stage.dim, stage.dim / 2, 3, 3];
      shapes[`merge${index}.conv.bias`] = [stage.dim];
      norm(`merge${index}.norm`, stage.dim);
    }
    for (let block = 0; block < stage.depth; block++) {
      const prefix = `stage${index + 1}.${block}`;
      norm(`${prefix}.norm1`, stage.dim);
      linear(`${prefix}.qkv`, 3 * stage.dim, stage.dim, config.qkvBias);
      stage.branches.forEach((branch, b) => {
        shapes[`${prefix}.attns.${b}.get_v.weight`] = [branch.channels, 1, 3, 3];
        shapes[`${prefix}.attns.${b}.get_v.bias`] = [branch.channels];
      });
      linear(`${prefix}.proj`, stage.dim, stage.dim);
      norm(`${prefix}.norm2`, stage.dim);
      linear(`${prefix}.mlp.fc1`, stage.mlpHidden, stage.dim);
      linear(`${prefix}.mlp.fc2`, stage.dim, stage.mlpHidden);
    }
  });
  norm('norm', config.numFeatures);
  if (config.numClasses > 0) linear('head', config.numClasses, config.numFeatures);
  return shapes;
}

/**
 * The extra outputs of a config: every attention branch (`stage<k>.<i>.attns.<j>`, forward order)
 * and one intermediate per stage (ours: the stage's output tokens as [B, C, side, side]).
 */
export function cswinOutputs(config: CswinConfig): OutputCatalog {
  const attention: string[] = [];
  config.stages.forEach((stage, index) => {
    for (let block = 0; block < stage.depth; block++) stage.branches.forEach((_, branch) => attention.push(`stage${index + 1}.${block}.attns.${branch}`));
  });
  return { attention, intermediates: config.stages.length, rollout: false };
}
