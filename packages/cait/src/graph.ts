import type { BuiltGraph, GraphBuildOptions, StateDict } from '@vitzoo/core';
import type { Value } from '@vitzoo/onnx';
import { applyAttention, attention, GraphLayers, produceTokenImage, splitHeads, type Shape } from '@vitzoo/onnx/layers';
import { CAIT_LAYER_NORM_EPS, type CaitConfig } from './config.js';

/** Part of the built-graph cache key: changes whenever the graphs built here change. */
export const CAIT_BUILDER_VERSION = '2';

const EPS = CAIT_LAYER_NORM_EPS;

/**
 * timm's `Cait` forward pass, in the reference's order: patch_embed → + pos_embed (patch tokens
 * only) → blocks (LayerScale, talking-heads attention) → blocks_token_only (class attention: only
 * the class token is updated) → norm(cat(cls, x)) → forward_head.
 */
export function buildCaitGraph(config: CaitConfig, weights: StateDict, options: Required<Pick<GraphBuildOptions, 'outputs'>> & GraphBuildOptions): BuiltGraph {
  const layers = new GraphLayers(weights, { ...options, architecture: 'cait', builderVersion: CAIT_BUILDER_VERSION });
  const { g } = layers;
  const dim = config.embedDim;
  const tokens = config.numPatches;
  const [gridHeight, gridWidth] = config.patchGrid;
  const [height, width] = config.imgSize;
  const pixels = g.input('pixel_values', 'float32', ['batch', config.inChans, height, width]);

  const grid = layers.conv(pixels, 'patch_embed.proj', { kernelShape: config.patchSize, strides: config.patchSize });
  let x = layers.module('patch_embed', () => layers.imageToTokens(grid, dim));
  x = layers.module('pos_embed', () => g.add(x, layers.weight('pos_embed')));

  for (let i = 0; i < config.depth; i++) {
    const b = `blocks.${i}`;
    const attended = talkingHeadAttention(layers, layers.layerNorm(x, `${b}.norm1`, EPS), `${b}.attn`, config);
    x = layers.module(b, () => g.add(x, layers.layerScale(attended, `${b}.gamma_1`)));
    const mlp = layers.mlp(layers.layerNorm(x, `${b}.norm2`, EPS), `${b}.mlp`);
    x = layers.module(b, () => g.add(x, layers.layerScale(mlp, `${b}.gamma_2`)));
    produceTokenImage(layers, `intermediates.${i}`, x, dim, gridHeight, gridWidth);
  }

  const patches = x;
  let cls = layers.module('cls_token', () => g.op('Expand', [layers.weight('cls_token'), g.concat([g.shape(pixels, 0, 1), g.ints([1, 1], 'ones')], 0)]));
  for (let i = 0; i < config.depthTokenOnly; i++) {
    const b = `blocks_token_only.${i}`;
    const classToken = cls;
    const joined = layers.module(b, () => g.concat([classToken, patches], 1));
    const attended = classAttention(layers, layers.layerNorm(joined, `${b}.norm1`, EPS), `${b}.attn`, config);
    cls = layers.module(b, () => g.add(classToken, layers.layerScale(attended, `${b}.gamma_1`)));
    const mlp = layers.mlp(layers.layerNorm(cls, `${b}.norm2`, EPS), `${b}.mlp`);
    cls = layers.module(b, () => g.add(cls, layers.layerScale(mlp, `${b}.gamma_2`)));
  }

  // forward_features: norm(cat(cls, x)); forward_head: pool ('token' | 'avg' | ''), head.
  const sequence: Shape = ['batch', tokens + 1, dim];
  const classToken = cls;
  // LayerNorm is per token: norm(cat(cls, x))[:, 0] = norm(cls). When only the class token leaves
  // the graph, the patches are not normalised.
  const classOnly = config.globalPool === 'token' && !layers.wants('features');
  let features: Value | undefined;
  const normed = () =>
    (features ??= classOnly ? layers.layerNorm(classToken, 'norm', EPS) : layers.layerNorm(layers.module('norm', () => g.concat([classToken, patches], 1)), 'norm', EPS));
  let pooled: { value: Value; shape: Shape } | undefined;
  const preLogits = () =>
    (pooled ??= layers.module('head', () => {
      switch (config.globalPool) {
        case 'token':
          return { value: g.reshape(classOnly ? normed() : g.slice(normed(), [0], [1], [1]), [-1, dim]), shape: ['batch', dim] };
        case 'avg':
          return { value: g.reduceMean(g.slice(normed(), [1], [tokens + 1], [1]), [1]), shape: ['batch', dim] };
        case '':
          return { value: normed(), shape: sequence };
      }
    }));
  return layers.finish({
    features: () => ({ value: normed(), shape: sequence }),
    pre_logits: preLogits,
    logits: () => {
      const { value, shape } = preLogits();
      if (config.numClasses === 0) return { value, shape };
      return { value: layers.linear(value, 'head'), shape: [...shape.slice(0, -1), config.numClasses] };
    },
  });
}

/**
 * timm's `TalkingHeadAttn` on tokens [B, N, C]: q·scale·kᵀ, `proj_l` mixing the heads of the
 * logits, softmax, `proj_w` mixing the heads of the probabilities (the output
 * `attention.<module>`), · v, `proj`. No fused kernel can mix heads, so it is plain operators.
 */
function talkingHeadAttention(layers: GraphLayers, x: Value, module: string, config: CaitConfig): Value {
  const { g } = layers;
  const { embedDim: dim, numHeads: heads, headDim } = config;
  const qkv = layers.linear(x, `${module}.qkv`);
  const [q, k, v] = layers.module(module, () => g.opMulti('Split', [qkv, g.ints([dim, dim, dim], 'split')], { axis: -1 }, { outputs: 3 })) as [Value, Value, Value];
  const probabilities = layers.module(module, () => {
    const query = g.mul(splitHeads(layers, q, heads, headDim), g.scalar(headDim ** -0.5, 'scale'));
    // proj_l's bias adds one constant per head to every logit of a row: the softmax cancels it exactly.
    const logits = headMixing(layers, g.matMul(query, splitHeads(layers, k, heads, headDim, true)), `${module}.proj_l`, heads, { bias: false });
    return headMixing(layers, g.softmax(logits, -1), `${module}.proj_w`, heads);
  });
  layers.produce(`attention.${module}`, probabilities, ['batch', heads, config.numPatches, config.numPatches]);
  return layers.linear(layers.module(module, () => applyAttention(layers, probabilities, v, heads, headDim)), `${module}.proj`);
}

/**
 * A Linear(heads, heads) over the head axis of [B, heads, N, N] as one MatMul: W · x viewed as
 * [B, heads, N·N] (faster than a 1×1 Conv, which needs its NCHWc reorders), plus the bias per head
 * unless `bias` is false.
 */
function headMixing(layers: GraphLayers, x: Value, prefix: string, heads: number, options: { bias?: boolean } = {}): Value {
  const { g } = layers;
  return layers.module(prefix, () => {
    let mixed = g.matMul(layers.weight(`${prefix}.weight`), g.reshape(x, [0, heads, -1]));
    if (options.bias !== false) mixed = g.add(mixed, layers.weight(`${prefix}.bias`, { shape: [heads, 1] }));
    return g.reshape(mixed, g.shape(x));
  });
}

/**
 * timm's `ClassAttn` on u = norm1(cat(cls, x)) [B, 1+N, C]: the query from the class token only,
 * keys and values from every token; ONNX Runtime's fused MultiHeadAttention (plain operators when
 * its map is an output), then `proj`. → [B, 1, C].
 */
function classAttention(layers: GraphLayers, u: Value, module: string, config: CaitConfig): Value {
  const { g } = layers;
  const q = layers.linear(layers.module(module, () => g.slice(u, [0], [1], [1])), `${module}.q`);
  const k = layers.linear(u, `${module}.k`);
  const v = layers.linear(u, `${module}.v`);
  const { output } = attention(layers, q, k, v, {
    module,
    heads: config.numHeads,
    headDim: config.headDim,
    scale: config.headDim ** -0.5,
    shape: { batch: 'batch', queries: 1, keys: config.numPatches + 1 },
  });
  return layers.linear(output, `${module}.proj`);
}
