import { createCheckpointShapes, mlpHiddenFeatures, InvalidConfigError, KwargsReader, TRAINING_ONLY_KWARGS, type OutputCatalog } from '@vitzoo/core';

/** LayerNorm epsilon of timm's CaiT (`partial(nn.LayerNorm, eps=1e-6)`). */
export const CAIT_LAYER_NORM_EPS = 1e-6;

/** A parsed timm `Cait` configuration. */
export interface CaitConfig {
  imgSize: readonly [number, number];
  patchSize: readonly [number, number];
  inChans: number;
  numClasses: number;
  globalPool: 'token' | 'avg' | '';
  embedDim: number;
  depth: number;
  numHeads: number;
  headDim: number;
  mlpRatio: number;
  qkvBias: boolean;
  /** LayerScale init value: only sets the initial gamma, accepted for completeness. */
  initValues: number;
  depthTokenOnly: number;
  mlpRatioTokenOnly: number;
  /** Patch grid [h, w] = img_size // patch_size. */
  patchGrid: readonly [number, number];
  numPatches: number;
  /** int(dim * mlp_ratio) for the self-attention blocks and the class-attention blocks. */
  mlpHidden: number;
  mlpHiddenTokenOnly: number;
}

const CONTEXT = 'cait (timm Cait)';

/**
 * Parses timm `Cait` constructor kwargs (timm names and defaults). Throws `InvalidConfigError` on
 * anything timm would not build or this package cannot build (e.g. custom block classes).
 */
export function parseCaitConfig(kwargs: Readonly<Record<string, unknown>>): CaitConfig {
  const reader = new KwargsReader(kwargs, CONTEXT, TRAINING_ONLY_KWARGS);
  const imgSize = reader.pair('img_size', 224);
  const patchSize = reader.pair('patch_size', 16);
  const inChans = reader.int('in_chans', 3, 1);
  const numClasses = reader.int('num_classes', 1000, 0);
  const globalPool = reader.oneOf('global_pool', ['token', 'avg', ''] as const, 'token');
  const embedDim = reader.int('embed_dim', 768, 1);
  const depth = reader.int('depth', 12, 0);
  const numHeads = reader.int('num_heads', 12, 1);
  const mlpRatio = reader.number('mlp_ratio', 4, { min: 0, exclusiveMin: true });
  const qkvBias = reader.bool('qkv_bias', true);
  const initValues = reader.number('init_values', 1e-4);
  const depthTokenOnly = reader.int('depth_token_only', 2, 0);
  const mlpRatioTokenOnly = reader.number('mlp_ratio_token_only', 4, { min: 0, exclusiveMin: true });
  reader.finish();
  if (embedDim % numHeads !== 0) {
    throw new InvalidConfigError('num_heads', numHeads, `a divisor of embed_dim (${embedDim})`, CONTEXT);
  }
  const patchGrid = [Math.floor(imgSize[0] / patchSize[0]), Math.floor(imgSize[1] / patchSize[1])] as const;
  if (patchGrid[0] < 1 || patchGrid[1] < 1) {
    throw new InvalidConfigError('img_size', kwargs.img_size ?? 224, `at least patch_size (${patchSize.join('x')})`, CONTEXT);
  }
  const mlpHidden = mlpHiddenFeatures(embedDim, mlpRatio);
  const mlpHiddenTokenOnly = mlpHiddenFeatures(embedDim, mlpRatioTokenOnly);
  return {
    imgSize,
    patchSize,
    inChans,
    numClasses,
    globalPool,
    embedDim,
    depth,
    numHeads,
    headDim: embedDim / numHeads,
    mlpRatio,
    qkvBias,
    initValues,
    depthTokenOnly,
    mlpRatioTokenOnly,
    patchGrid,
    numPatches: patchGrid[0] * patchGrid[1],
    mlpHidden,
    mlpHiddenTokenOnly,
  };
}

/** timm `Cait` state_dict keys and shapes for a config. */
export function caitCheckpointShapes(config: CaitConfig): Record<string, readonly number[]> {
  const { shapes, set, linear, layerNorm } = createCheckpointShapes();
  const dim = config.embedDim;
  set('cls_token', [1, 1, dim]);
  set('pos_embed', [1, config.numPatches, dim]);
  set('patch_embed.proj.weight', [dim, config.inChans, ...config.patchSize]);
  set('patch_embed.proj.bias', [dim]);
  // LayerScaleBlock and LayerScaleBlockClassAttn: the same parameters around different attention modules.
  const block = (prefix: string, mlpHidden: number, attention: (prefix: string) => void) => {
    set(`${prefix}.gamma_1`, [dim]);
    set(`${prefix}.gamma_2`, [dim]);
    layerNorm(`${prefix}.norm1`, dim);
    attention(`${prefix}.attn`);
    linear(`${prefix}.attn.proj`, dim, dim);
    layerNorm(`${prefix}.norm2`, dim);
    linear(`${prefix}.mlp.fc1`, mlpHidden, dim);
    linear(`${prefix}.mlp.fc2`, dim, mlpHidden);
  };
  for (let i = 0; i < config.depth; i++) {
    block(`blocks.${i}`, config.mlpHidden, (attn) => {
      linear(`${attn}.qkv`, 3 * dim, dim, config.qkvBias);
      linear(`${attn}.proj_l`, config.numHeads, config.numHeads);
      linear(`${attn}.proj_w`, config.numHeads, config.numHeads);
    });
  }
  for (let i = 0; i < config.depthTokenOnly; i++) {
    block(`blocks_token_only.${i}`, config.mlpHiddenTokenOnly, (attn) => {
      for (const name of ['q', 'k', 'v']) linear(`${attn}.${name}`, dim, dim, config.qkvBias);
    });
  }
  layerNorm('norm', dim);
  if (config.numClasses > 0) linear('head', config.numClasses, dim);
  return shapes;
}

/**
 * The extra outputs of a config: the talking-heads attention of every block (`blocks.<i>.attn`,
 * after proj_w) and the class attention of every class-attention block
 * (`blocks_token_only.<i>.attn`, one query), in forward order; one intermediate per block (timm's
 * forward_intermediates: the patch tokens as [B, C, h, w]; the class token joins only later). No
 * rollout: the class token does not take part in the self-attention blocks.
 */
export function caitOutputs(config: CaitConfig): OutputCatalog {
  return {
    attention: [
      ...Array.from({ length: config.depth }, (_, i) => `blocks.${i}.attn`),
      ...Array.from({ length: config.depthTokenOnly }, (_, i) => `blocks_token_only.${i}.attn`),
    ],
    intermediates: config.depth,
    rollout: false,
  };
}
