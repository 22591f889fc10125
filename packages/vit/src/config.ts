import { createCheckpointShapes, InvalidConfigError, KwargsReader, mlpHiddenFeatures, TRAINING_ONLY_KWARGS, type OutputCatalog, type ParseHints } from '@vitzoo/core';

export type GlobalPool = 'token' | 'avg' | 'max' | 'avgmax' | '';

/** A parsed timm `VisionTransformer` (and `VisionTransformerDistilled`) configuration. */
export interface VisionTransformerConfig {
  imgSize: [number, number];
  patchSize: [number, number];
  inChans: number;
  numClasses: number;
  globalPool: GlobalPool;
  embedDim: number;
  depth: number;
  numHeads: number;
  mlpRatio: number;
  qkvBias: boolean;
  qkNorm: boolean;
  projBias: boolean;
  /** LayerScale init value; null = no LayerScale. */
  initValues: number | null;
  classToken: boolean;
  noEmbedClass: boolean;
  regTokens: number;
  posEmbed: 'learn' | 'none';
  preNorm: boolean;
  finalNorm: boolean;
  /** Resolved: fc_norm=None means "use it when pooling is avg/max". */
  fcNorm: boolean;
  /** DeiT's distillation token and second head (deit.VisionTransformerDistilled). */
  distilled: boolean;
  /**
   * timm's dynamic_img_size: the graph takes any height and width (multiples of the patch size)
   * and resamples the position embedding for the input's grid at run time; `imgSize` is the size
   * the checkpoint's position embedding was made for.
   */
  dynamicImgSize: boolean;
  layerNormEps: number;
  /** Derived. */
  gridSize: [number, number];
  numPatches: number;
  numPrefixTokens: number;
  headDim: number;
  mlpHidden: number;
}

export function parseVisionTransformerConfig(
  raw: Readonly<Record<string, unknown>>,
  context: string,
  options: { allowDistilled: boolean; hints?: ParseHints },
): VisionTransformerConfig {
  const kwargs = new KwargsReader(raw, context, [...TRAINING_ONLY_KWARGS, 'fix_init', 'dynamic_img_pad']);
  const imgSize = kwargs.pair('img_size', 224);
  const patchSize = kwargs.pair('patch_size', 16);
  const inChans = kwargs.int('in_chans', 3, 1);
  const numClasses = kwargs.int('num_classes', 1000, 0);
  const globalPool = kwargs.oneOf<GlobalPool | 'map'>('global_pool', ['token', 'avg', 'max', 'avgmax', '', 'map'], 'token');
  if (globalPool === 'map') {
    throw new InvalidConfigError('global_pool', 'map', "'token', 'avg', 'max', 'avgmax' or '' (attention pooling 'map' is not supported yet)", context);
  }
  const embedDim = kwargs.int('embed_dim', 768, 1);
  const depth = kwargs.int('depth', 12, 0);
  const numHeads = kwargs.int('num_heads', 12, 1);
  const mlpRatio = kwargs.number('mlp_ratio', 4, { min: 0, exclusiveMin: true });
  const qkvBias = kwargs.bool('qkv_bias', true);
  const qkNorm = kwargs.bool('qk_norm', false);
  const projBias = kwargs.bool('proj_bias', true);
  const initValues = kwargs.optionalNumber('init_values', null);
  const classToken = kwargs.bool('class_token', true);
  const noEmbedClass = kwargs.bool('no_embed_class', false);
  const regTokens = kwargs.int('reg_tokens', 0, 0);
  const posEmbed = kwargs.oneOf<'learn' | 'none'>('pos_embed', ['learn', 'none'], 'learn');
  const preNorm = kwargs.bool('pre_norm', false);
  const finalNorm = kwargs.bool('final_norm', true);
  const fcNorm = kwargs.optionalBool('fc_norm') ?? ['avg', 'max', 'avgmax'].includes(globalPool);
  // DeiT: `distilled` is explicit in registered variants; otherwise the checkpoint tells.
  const distilled = options.allowDistilled
    ? (kwargs.optionalBool('distilled') ?? options.hints?.stateDict?.dist_token !== undefined)
    : false;
  const dynamicImgSize = kwargs.bool('dynamic_img_size', false);
  const layerNormEps = kwargs.number('layer_norm_eps', 1e-6, { min: 0, exclusiveMin: true });
  kwargs.finish();

  if (embedDim % numHeads !== 0) {
    throw new InvalidConfigError('num_heads', numHeads, `a divisor of embed_dim (${embedDim})`, context);
  }
  if (imgSize[0] % patchSize[0] !== 0 || imgSize[1] % patchSize[1] !== 0) {
    throw new InvalidConfigError('img_size', raw.img_size ?? 224, `a multiple of patch_size (${patchSize.join('x')})`, context);
  }
  if (distilled && (!classToken || globalPool !== 'token')) {
    throw new InvalidConfigError('global_pool', globalPool, "'token' with class_token for a distilled model", context);
  }
  if (globalPool === 'token' && !classToken) {
    throw new InvalidConfigError('global_pool', 'token', "'avg', 'max', 'avgmax' or '' when class_token is false", context);
  }
  const gridSize: [number, number] = [imgSize[0] / patchSize[0], imgSize[1] / patchSize[1]];
  return {
    imgSize,
    patchSize,
    inChans,
    numClasses,
    globalPool,
    embedDim,
    depth,
    numHeads,
    mlpRatio,
    qkvBias,
    qkNorm,
    projBias,
    initValues,
    classToken,
    noEmbedClass,
    regTokens,
    posEmbed,
    preNorm,
    finalNorm,
    fcNorm: finalNorm && fcNorm,
    distilled,
    dynamicImgSize,
    layerNormEps,
    gridSize,
    numPatches: gridSize[0] * gridSize[1],
    numPrefixTokens: (classToken ? 1 : 0) + (distilled ? 1 : 0) + regTokens,
    headDim: embedDim / numHeads,
    mlpHidden: mlpHiddenFeatures(embedDim, mlpRatio),
  };
}

/** Total token count entering the blocks. */
export function sequenceLength(config: VisionTransformerConfig): number {
  return config.numPatches + config.numPrefixTokens;
}

/** Checkpoint keys and shapes of a timm VisionTransformer with this config. */
export function visionTransformerShapes(config: VisionTransformerConfig): Record<string, readonly number[]> {
  const d = config.embedDim;
  const { shapes, set, linear, layerNorm } = createCheckpointShapes();
  set('patch_embed.proj.weight', [d, config.inChans, config.patchSize[0], config.patchSize[1]]);
  if (!config.preNorm) shapes['patch_embed.proj.bias'] = [d];
  if (config.classToken) shapes.cls_token = [1, 1, d];
  if (config.distilled) shapes.dist_token = [1, 1, d];
  if (config.regTokens > 0) shapes.reg_token = [1, config.regTokens, d];
  if (config.posEmbed === 'learn') {
    shapes.pos_embed = [1, config.noEmbedClass ? config.numPatches : sequenceLength(config), d];
  }
  const norm = (prefix: string, size = d) => layerNorm(prefix, size);
  if (config.preNorm) norm('norm_pre');
  for (let i = 0; i < config.depth; i++) {
    const b = `blocks.${i}`;
    norm(`${b}.norm1`);
    linear(`${b}.attn.qkv`, 3 * d, d, config.qkvBias);
    if (config.qkNorm) {
      norm(`${b}.attn.q_norm`, config.headDim);
      norm(`${b}.attn.k_norm`, config.headDim);
    }
    linear(`${b}.attn.proj`, d, d, config.projBias);
    if (config.initValues !== null) shapes[`${b}.ls1.gamma`] = [d];
    norm(`${b}.norm2`);
    linear(`${b}.mlp.fc1`, config.mlpHidden, d);
    linear(`${b}.mlp.fc2`, d, config.mlpHidden);
    if (config.initValues !== null) shapes[`${b}.ls2.gamma`] = [d];
  }
  if (config.finalNorm && !config.fcNorm) norm('norm');
  if (config.fcNorm) norm('fc_norm');
  if (config.numClasses > 0) {
    linear('head', config.numClasses, d);
    if (config.distilled) {
      linear('head_dist', config.numClasses, d);
    }
  }
  return shapes;
}

/**
 * The extra outputs of a config: every block's attention (`blocks.<i>.attn`), every block's output
 * as an intermediate (timm's forward_intermediates), and rollout for class-token models.
 */
export function visionTransformerOutputs(config: VisionTransformerConfig): OutputCatalog {
  return {
    attention: Array.from({ length: config.depth }, (_, i) => `blocks.${i}.attn`),
    intermediates: config.depth,
    rollout: config.classToken && config.depth > 0,
  };
}
