import type { BuiltGraph, GraphBuildOptions, StateDict } from '@vitzoo/core';
import type { Value } from '@vitzoo/onnx';
import { GraphLayers, qkvAttention, resampleGridBicubic, type Shape } from '@vitzoo/onnx/layers';
import { sequenceLength, type VisionTransformerConfig } from './config.js';

/** Part of the built-graph cache key: changes whenever the graphs built here change. */
export const VISION_TRANSFORMER_BUILDER_VERSION = '3';

export interface VisionTransformerGraphOptions extends GraphBuildOptions {
  /**
   * Compute only the pooled prefix token(s) in the last block when nothing needs the other tokens
   * there (default true): the same numbers with one block's less work.
   */
  pruneLastBlock?: boolean;
}

/** The patch grid: build-time numbers, or the input's grid read at run time (dynamic_img_size). */
interface Grid {
  /** int64 [2] value: grid height, width. */
  shape: Value;
  /** How outputs declare it. */
  labels: [number | string, number | string];
  tokens: number | string;
}

/**
 * timm's `VisionTransformer` (and `VisionTransformerDistilled`) forward pass, in the reference's
 * order: patch_embed → _pos_embed → norm_pre → blocks → norm → forward_head (pool, fc_norm, head).
 */
export function buildVisionTransformerGraph(
  architecture: string,
  config: VisionTransformerConfig,
  weights: StateDict,
  options: Required<Pick<GraphBuildOptions, 'outputs'>> & VisionTransformerGraphOptions,
): BuiltGraph {
  const layers = new GraphLayers(weights, {
    ...options,
    architecture,
    builderVersion: VISION_TRANSFORMER_BUILDER_VERSION,
  });
  const { g } = layers;
  const { embedDim: dim, layerNormEps: eps } = config;
  const [height, width] = config.dynamicImgSize ? ['height', 'width'] : config.imgSize;
  const pixels = g.input('pixel_values', 'float32', ['batch', config.inChans, height, width]);

  // patch_embed: Conv with stride = patch → [B, dim, gh, gw] → tokens [B, gh·gw, dim] (row-major).
  const patchGrid = layers.conv(pixels, 'patch_embed.proj', { kernelShape: config.patchSize, strides: config.patchSize });
  let gridShape: Value | undefined;
  const grid: Grid = {
    // Built on first use (an unused initializer would make ONNX Runtime complain).
    get shape() {
      return (gridShape ??= config.dynamicImgSize ? layers.module('patch_embed', () => g.shape(patchGrid, 2, 4)) : g.ints(config.gridSize, 'grid'));
    },
    labels: config.dynamicImgSize ? ['grid_height', 'grid_width'] : config.gridSize,
    tokens: config.dynamicImgSize ? 'tokens' : sequenceLength(config),
  };
  let x = layers.module('patch_embed', () => layers.imageToTokens(patchGrid, dim));
  x = positionEmbedding(layers, config, x, grid);
  if (config.preNorm) x = layers.layerNorm(x, 'norm_pre', eps);

  // When only pooled prefix tokens leave the graph, the last block computes only those past its keys and values.
  const pooledTokens = config.distilled ? 2 : config.globalPool === 'token' ? 1 : null;
  const last = config.depth - 1;
  const lastBlockNeeded =
    layers.wants('features') || layers.wants('rollout') || layers.wants(`intermediates.${last}`) || layers.wants(`attention.blocks.${last}.attn`);
  const prune = pooledTokens !== null && !lastBlockNeeded && (options.pruneLastBlock ?? true);
  const wantsRollout = layers.wants('rollout');
  const probabilities: Value[] = [];
  for (let i = 0; i < config.depth; i++) {
    const b = `blocks.${i}`;
    const queryTokens = prune && i === last ? pooledTokens! : undefined;
    const attended = qkvAttention(layers, layers.layerNorm(x, `${b}.norm1`, eps), `${b}.attn`, {
      heads: config.numHeads,
      dim,
      ...(config.qkNorm ? { qkNormEps: eps } : {}),
      ...(queryTokens !== undefined ? { queryTokens } : {}),
      shape: { batch: 'batch', tokens: grid.tokens },
      probabilities: wantsRollout,
    });
    if (attended.probabilities) probabilities.push(attended.probabilities);
    const residual = queryTokens === undefined ? x : layers.module(b, () => g.slice(x, [0], [queryTokens], [1]));
    x = layers.module(b, () => g.add(residual, layers.layerScale(layers.linear(attended.output, `${b}.attn.proj`), `${b}.ls1.gamma`)));
    x = layers.module(b, () => g.add(x, layers.layerScale(layers.mlp(layers.layerNorm(x, `${b}.norm2`, eps), `${b}.mlp`), `${b}.ls2.gamma`)));
    if (layers.wants(`intermediates.${i}`)) layers.produce(`intermediates.${i}`, patchTokenImage(layers, config, x, grid, `intermediates.${i}`), ['batch', dim, ...grid.labels]);
  }
  if (wantsRollout) layers.produce('rollout', rollout(layers, config, probabilities, grid), ['batch', ...grid.labels]);
  const features = config.finalNorm && !config.fcNorm ? layers.layerNorm(x, 'norm', eps) : x;

  // forward_head: pool → fc_norm → head (DeiT-distilled: the mean of head(cls) and head_dist(dist)).
  const sequence: Shape = ['batch', grid.tokens, dim];
  let pooled: { value: Value; shape: Shape } | undefined;
  const preLogits = () => (pooled ??= layers.module('head', () => pool(layers, config, features, sequence)));
  return layers.finish({
    features: () => ({ value: features, shape: sequence }),
    pre_logits: preLogits,
    logits: () => {
      const { value, shape } = preLogits();
      if (config.numClasses === 0) return { value, shape };
      if (config.distilled) {
        const token = (index: number) => g.gather(features, g.constant('int64', [], BigInt64Array.of(BigInt(index)), 'index'), 1);
        const both = g.add(layers.linear(token(0), 'head'), layers.linear(token(1), 'head_dist'));
        return { value: layers.module('head', () => g.mul(both, g.scalar(0.5, 'half'))), shape: ['batch', config.numClasses] };
      }
      return { value: layers.linear(value, 'head'), shape: [...shape.slice(0, -1), config.numClasses] };
    },
  });
}

/**
 * timm's `_pos_embed`: prefix tokens (class, distillation or registers) and the position
 * embedding, added after concatenating (or, with no_embed_class, to the patches only). With
 * dynamic_img_size the embedding is resampled to the input's grid at run time.
 */
function positionEmbedding(layers: GraphLayers, config: VisionTransformerConfig, patches: Value, grid: Grid): Value {
  const { g } = layers;
  return layers.module('pos_embed', () => {
    const batch = g.shape(patches, 0, 1);
    const expand = (key: string, count: number) => g.op('Expand', [layers.weight(key), g.concat([batch, g.ints([count, config.embedDim], 'rest')], 0)]);
    const prefix: Value[] = [];
    if (config.classToken) prefix.push(expand('cls_token', 1));
    if (config.distilled) prefix.push(expand('dist_token', 1));
    if (config.regTokens > 0) prefix.push(expand('reg_token', config.regTokens));
    const position = config.posEmbed === 'learn' ? (config.dynamicImgSize ? resampledPositions(layers, config, grid) : layers.weight('pos_embed')) : null;
    if (config.noEmbedClass) {
      const placed = position ? g.add(patches, position) : patches;
      return prefix.length > 0 ? g.concat([...prefix, placed], 1) : placed;
    }
    const sequence = prefix.length > 0 ? g.concat([...prefix, patches], 1) : patches;
    return position ? g.add(sequence, position) : sequence;
  });
}

/**
 * The position embedding resampled to the input's grid in the graph, as timm's
 * `resample_abs_pos_embed` (bicubic, antialiased, prefix tokens kept): `resampleGridBicubic` of
 * the layers, the same numbers on every execution provider.
 */
function resampledPositions(layers: GraphLayers, config: VisionTransformerConfig, grid: Grid): Value {
  const { g } = layers;
  const dim = config.embedDim;
  const prefix = config.noEmbedClass ? 0 : config.numPrefixTokens;
  const table = layers.weight('pos_embed');
  const [gridHeight, gridWidth] = config.gridSize;
  const patchPart = g.slice(table, [prefix], [prefix + gridHeight * gridWidth], [1]);
  const image = g.transpose(g.reshape(patchPart, [gridHeight, gridWidth, dim]), [2, 0, 1]);
  const resized = resampleGridBicubic(layers, image, config.gridSize, grid.shape);
  const tokens = g.reshape(g.transpose(resized, [1, 2, 0]), [1, -1, dim]);
  return prefix === 0 ? tokens : g.concat([g.slice(table, [0], [prefix], [1]), tokens], 1);
}

/** Patch tokens of [B, prefix + gh·gw, dim] as an NCHW map [B, dim, gh, gw] (timm forward_intermediates). */
function patchTokenImage(layers: GraphLayers, config: VisionTransformerConfig, tokens: Value, grid: Grid, module: string): Value {
  const { g } = layers;
  return layers.module(module, () => {
    const patches = config.numPrefixTokens > 0 ? g.slice(tokens, [config.numPrefixTokens], [Number.MAX_SAFE_INTEGER], [1]) : tokens;
    return g.reshape(g.transpose(patches, [0, 2, 1]), g.concat([g.ints([0, config.embedDim], 'channels'), grid.shape], 0));
  });
}

/**
 * Attention rollout (Abnar & Zuidema 2020, mean head fusion): per block a = mean over heads,
 * a = (a + I) / 2 normalised by row, R = a · R; the class token's row over the patch tokens,
 * divided by its maximum, as a [B, gh, gw] map.
 */
function rollout(layers: GraphLayers, config: VisionTransformerConfig, probabilities: readonly Value[], grid: Grid): Value {
  const { g } = layers;
  return layers.module('rollout', () => {
    let result: Value | undefined;
    for (const block of probabilities) {
      const mean = g.reduceMean(block, [1]);
      const identity = g.op('EyeLike', [g.gather(mean, g.constant('int64', [], BigInt64Array.of(0n), 'first'), 0)]);
      const halfway = g.mul(g.add(mean, identity), g.scalar(0.5, 'half'));
      const normalised = g.div(halfway, g.reduceSum(halfway, [-1], true));
      result = result === undefined ? normalised : g.matMul(normalised, result);
    }
    const classRow = g.gather(result!, g.constant('int64', [], BigInt64Array.of(0n), 'class_row'), 1);
    const patches = g.slice(classRow, [config.numPrefixTokens], [Number.MAX_SAFE_INTEGER], [1]);
    const scaled = g.div(patches, g.reduceMax(patches, [1], true));
    return g.reshape(scaled, g.concat([g.ints([-1], 'batch'), grid.shape], 0));
  });
}

/** timm's `_pool` and `fc_norm`: the pre_logits output. */
function pool(layers: GraphLayers, config: VisionTransformerConfig, features: Value, sequence: Shape): { value: Value; shape: Shape } {
  const { g } = layers;
  const token = (index: number) => g.gather(features, g.constant('int64', [], BigInt64Array.of(BigInt(index)), 'index'), 1);
  if (config.distilled) return { value: g.mul(g.add(token(0), token(1)), g.scalar(0.5, 'half')), shape: ['batch', config.embedDim] };
  const patchTokens = () => g.slice(features, [config.numPrefixTokens], [Number.MAX_SAFE_INTEGER], [1]);
  let pooled: Value;
  switch (config.globalPool) {
    case 'token':
      pooled = token(0);
      break;
    case 'avg':
      pooled = g.reduceMean(patchTokens(), [1]);
      break;
    case 'max':
      pooled = g.reduceMax(patchTokens(), [1]);
      break;
    case 'avgmax': {
      const patches = patchTokens();
      pooled = g.mul(g.add(g.reduceMean(patches, [1]), g.reduceMax(patches, [1])), g.scalar(0.5, 'half'));
      break;
    }
    case '':
      pooled = features;
      break;
  }
  if (config.fcNorm) pooled = layers.layerNorm(pooled, 'fc_norm', config.layerNormEps);
  return { value: pooled, shape: config.globalPool === '' ? sequence : ['batch', config.embedDim] };
}
