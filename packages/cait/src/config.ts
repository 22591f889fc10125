import { InvalidConfigError, KwargsReader, TRAINING_ONLY_KWARGS } from '@vitzoo/core';

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
    mlpHidden: Math.floor(embedDim * mlpRatio),
    mlpHiddenTokenOnly: Math.floor(embedDim * mlpRatioTokenOnly),
  };
}
