import type { BuiltGraph, GraphBuildOptions, StateDict } from '@vitzoo/core';
import type { Value } from '@vitzoo/onnx';
import { attention, finishMeanPooled, GraphLayers, produceTokenImage } from '@vitzoo/onnx/layers';
import { BLOCK_LAYER_NORM_EPSILON, POOL_LAYER_NORM_EPSILON, type FdvitConfig, type FdvitStage } from './config.js';

/** Part of the built-graph cache key: changes whenever the graphs built here change. */
export const FDVIT_BUILDER_VERSION = '2';

/**
 * `PoolingTransformer.forward` (fdvit.py) in eval mode, in the reference's order: patch_embed +
 * pos_embed → transformers.0 → pools.0 → transformers.1 → … → norm → mean over tokens → head.
 * Token sequences are `[B, N, D]`, row-major.
 *
 * Extra outputs: `attention.transformers.<s>.blocks.<i>.attn` `[B, heads, N, N]` and
 * `intermediates.<s>` (ours: stage s's output tokens as `[B, D_s, side, side]`, before the next
 * downsampling and without the final norm).
 */
export function buildFdvitGraph(config: FdvitConfig, weights: StateDict, options: Required<Pick<GraphBuildOptions, 'outputs'>> & GraphBuildOptions): BuiltGraph {
  const layers = new GraphLayers(weights, { ...options, architecture: 'fdvit', builderVersion: FDVIT_BUILDER_VERSION });
  const { g } = layers;
  const { stages } = config;
  const pixels = g.input('pixel_values', 'float32', ['batch', config.inChans, config.imageSize, config.imageSize]);

  // patch_embed: Conv2d(kernel patch_size, stride, padding 0), then the channel-first pos_embed.
  const patches = layers.conv(pixels, 'patch_embed.conv', { kernelShape: [config.patchSize, config.patchSize], strides: [config.stride, config.stride] });
  let image = layers.module('pos_embed', () => g.add(patches, layers.weight('pos_embed')));
  let x!: Value;
  stages.forEach((stage, s) => {
    x = layers.module(`transformers.${s}`, () => layers.imageToTokens(image, stage.dim));
    for (let i = 0; i < stage.depth; i++) x = block(layers, x, stage, `transformers.${s}.blocks.${i}`);
    produceTokenImage(layers, `intermediates.${s}`, x, stage.dim, stage.side, stage.side);
    const next = stages[s + 1];
    if (next) image = flexibleDownsampling(layers, x, stage, next, `pools.${s}`);
  });

  // forward_features (eval): norm, then the mean over tokens; forward: head.
  return finishMeanPooled(layers, x, { channels: config.numFeatures, numClasses: config.numClasses, epsilon: BLOCK_LAYER_NORM_EPSILON });
}

/** The repo's `vision_transformer.Block`: x + attn(norm1(x)), then x + mlp(norm2(x)); LayerNorm eps 1e-6. */
function block(layers: GraphLayers, x: Value, stage: FdvitStage, prefix: string): Value {
  const { g } = layers;
  x = layers.module(prefix, () => g.add(x, lepeAttention(layers, layers.layerNorm(x, `${prefix}.norm1`, BLOCK_LAYER_NORM_EPSILON), stage, `${prefix}.attn`)));
  return layers.module(prefix, () => g.add(x, layers.mlp(layers.layerNorm(x, `${prefix}.norm2`, BLOCK_LAYER_NORM_EPSILON), `${prefix}.mlp`)));
}

/**
 * The repo's `vision_transformer.Attention`: qkv (q, k, v consecutive D-wide blocks, head j owning
 * channels [j·base_dim, (j+1)·base_dim) of each), softmax(q·kᵀ·base_dim^-0.5)·v over all tokens,
 * plus LePE (`get_v`, a depthwise 3×3 conv of v laid out as the stage's image), then proj.
 */
function lepeAttention(layers: GraphLayers, x: Value, stage: FdvitStage, module: string): Value {
  const { g } = layers;
  const { dim, side } = stage;
  const qkv = layers.linear(x, `${module}.qkv`);
  const [q, k, v] = layers.module(module, () => g.opMulti('Split', [qkv, g.ints([dim, dim, dim], 'split')], { axis: -1 }, { outputs: 3 }));
  const tokens = side * side;
  const { output } = attention(layers, q!, k!, v!, { module, heads: stage.heads, headDim: stage.headDim, scale: stage.headDim ** -0.5, shape: { batch: 'batch', queries: tokens, keys: tokens } });
  const lepe = layers.conv(layers.module(module, () => layers.tokensToImage(v!, dim, side, side)), `${module}.get_v`, { kernelShape: [3, 3], pads: [1, 1, 1, 1], group: dim });
  return layers.linear(layers.module(module, () => g.add(output, layers.imageToTokens(lepe, dim))), `${module}.proj`);
}

/**
 * The flexible downsampling layer `pools.s`: LayerNorm (eps 1e-5) → image → bilinear resampling to
 * `out_size[s+1]` on align-corners coordinates (what the reference's `grid_sample` on the constant
 * grid linspace(-1, 1, o)² computes: ONNX Resize, linear, align_corners) → Conv2d(k3, p1). Returns
 * the next stage's input image.
 */
function flexibleDownsampling(layers: GraphLayers, x: Value, stage: FdvitStage, next: FdvitStage, prefix: string): Value {
  const { g } = layers;
  const normed = layers.layerNorm(x, `${prefix}.ln`, POOL_LAYER_NORM_EPSILON);
  const resampled = layers.module(prefix, () => {
    const image = layers.tokensToImage(normed, stage.dim, stage.side, stage.side);
    const target = next.side;
    // Same size: align-corners sampling at p = j is the identity.
    if (target === stage.side) return image;
    // One output pixel: the grid is [-1], the top-left token (Resize's align_corners divides by o - 1).
    if (target === 1) return g.slice(image, [0, 0], [1, 1], [2, 3]);
    const sizes = g.concat([g.shape(image, 0, 2), g.ints([target, target], 'out_size')], 0);
    return g.op('Resize', [image, null, null, sizes], { mode: 'linear', coordinate_transformation_mode: 'align_corners' });
  });
  return layers.conv(resampled, `${prefix}.conv`, { kernelShape: [3, 3], pads: [1, 1, 1, 1] });
}
