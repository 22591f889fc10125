import type { BuiltGraph, GraphBuildOptions, StateDict } from '@vitzoo/core';
import type { Value } from '@vitzoo/onnx';
import { attention, finishMeanPooled, GraphLayers, produceTokenImage } from '@vitzoo/onnx/layers';
import { LAYER_NORM_EPSILON as eps, type CswinBranch, type CswinConfig, type CswinStage } from './config.js';

/** Part of the built-graph cache key: changes whenever the graphs built here change. */
export const CSWIN_BUILDER_VERSION = '2';

/**
 * `CSWinTransformer.forward` (models/cswin.py) in eval mode, in the reference's order:
 * stage1_conv_embed → stage1 → merge1 → stage2 → merge2 → stage3 → merge3 → stage4 → norm → mean
 * over tokens → head. Tokens are `[B, N, C]`, row-major.
 *
 * Extra outputs: `attention.stage<k>.<i>.attns.<j>` (each branch's probabilities, windows in the
 * batch axis) and `intermediates.<k>` (ours: stage k+1's output tokens as `[B, C, side, side]`,
 * before the next merge and without the final norm).
 */
export function buildCswinGraph(config: CswinConfig, weights: StateDict, options: Required<Pick<GraphBuildOptions, 'outputs'>> & GraphBuildOptions): BuiltGraph {
  const layers = new GraphLayers(weights, { ...options, architecture: 'cswin', builderVersion: CSWIN_BUILDER_VERSION });
  const { g } = layers;
  const pixels = g.input('pixel_values', 'float32', ['batch', config.inChans, config.imgSize, config.imgSize]);

  // stage1_conv_embed: Conv2d(k7, s4, p2) → Rearrange to tokens → LayerNorm.
  const stem = layers.conv(pixels, 'stage1_conv_embed.0', { kernelShape: [7, 7], strides: [4, 4], pads: [2, 2, 2, 2] });
  let x = layers.layerNorm(
    layers.module('stage1_conv_embed.1', () => layers.imageToTokens(stem, config.embedDim)),
    'stage1_conv_embed.2',
    eps,
  );
  config.stages.forEach((stage, index) => {
    if (index > 0) x = merge(layers, x, config.stages[index - 1]!, stage, `merge${index}`);
    for (let block = 0; block < stage.depth; block++) x = cswinBlock(layers, x, stage, `stage${index + 1}.${block}`);
    produceTokenImage(layers, `intermediates.${index}`, x, stage.dim, stage.side, stage.side);
  });

  // forward_features: norm, then the mean over tokens; forward: head.
  return finishMeanPooled(layers, x, { channels: config.numFeatures, numClasses: config.numClasses, epsilon: eps });
}

/** Merge_Block: tokens → image → Conv2d(k3, s2, p1) → tokens → LayerNorm. */
function merge(layers: GraphLayers, x: Value, previous: CswinStage, stage: CswinStage, prefix: string): Value {
  const image = layers.module(prefix, () => layers.tokensToImage(x, previous.dim, previous.side, previous.side));
  const merged = layers.conv(image, `${prefix}.conv`, { kernelShape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] });
  return layers.layerNorm(layers.module(prefix, () => layers.imageToTokens(merged, stage.dim)), `${prefix}.norm`, eps);
}

/** CSWinBlock: x + proj(branches(qkv(norm1(x)))), then x + mlp(norm2(x)). */
function cswinBlock(layers: GraphLayers, x: Value, stage: CswinStage, prefix: string): Value {
  const { g } = layers;
  const qkv = layers.linear(layers.layerNorm(x, `${prefix}.norm1`, eps), `${prefix}.qkv`);
  // q, k, v are consecutive dim-wide blocks; branch j owns a contiguous channel range of each.
  const count = stage.branches.length;
  const widths = stage.branches.map((branch) => branch.channels);
  const parts = layers.module(prefix, () => g.opMulti('Split', [qkv, g.ints([...widths, ...widths, ...widths], 'split')], { axis: -1 }, { outputs: 3 * count }));
  const branches = stage.branches.map((branch, j) => lepeAttention(layers, parts[j]!, parts[count + j]!, parts[2 * count + j]!, branch, stage.side, `${prefix}.attns.${j}`));
  const attended = count === 1 ? branches[0]! : layers.module(prefix, () => g.concat(branches, -1));
  x = layers.module(prefix, () => g.add(x, layers.linear(attended, `${prefix}.proj`)));
  return layers.module(prefix, () => g.add(x, layers.mlp(layers.layerNorm(x, `${prefix}.norm2`, eps), `${prefix}.mlp`)));
}

/**
 * LePEAttention on q, k, v `[B, side², Cb]`: windows of `windowHeight × windowWidth` tokens moved
 * into the batch axis (batch-major, then window row, then window column; row-major inside a
 * window), softmax(q·scale·kᵀ)·v per window and head, plus LePE (`get_v`, a depthwise 3×3 conv of
 * each window's v on its own, zero-padded at the stripe borders), scattered back to `[B, side², Cb]`.
 */
function lepeAttention(layers: GraphLayers, q: Value, k: Value, v: Value, branch: CswinBranch, side: number, module: string): Value {
  const { g } = layers;
  const { channels, windowHeight, windowWidth } = branch;
  const rows = side / windowHeight;
  const columns = side / windowWidth;
  const windowTokens = windowHeight * windowWidth;
  // Windows that span whole rows of the map (row stripes, full attention) are a plain reshape.
  const contiguous = columns === 1;
  const grid = [-1, rows, windowHeight, columns, windowWidth, channels];
  const toWindows = (t: Value) => (contiguous ? g.reshape(t, [-1, windowTokens, channels]) : g.reshape(g.transpose(g.reshape(t, grid), [0, 1, 3, 2, 4, 5]), [-1, windowTokens, channels]));
  const [qw, kw, vw] = layers.module(module, () => [toWindows(q), toWindows(k), toWindows(v)]);
  const windows = rows * columns;
  const { output } = attention(layers, qw!, kw!, vw!, {
    module,
    heads: branch.heads,
    headDim: branch.headDim,
    scale: branch.scale,
    shape: { batch: windows === 1 ? 'batch' : `batch*${windows}`, queries: windowTokens, keys: windowTokens },
  });
  const lepe = layers.conv(layers.module(module, () => layers.tokensToImage(vw!, channels, windowHeight, windowWidth)), `${module}.get_v`, {
    kernelShape: [3, 3],
    pads: [1, 1, 1, 1],
    group: channels,
  });
  return layers.module(module, () => {
    const sum = g.add(output, layers.imageToTokens(lepe, channels));
    if (contiguous) return g.reshape(sum, [-1, side * side, channels]);
    return g.reshape(g.transpose(g.reshape(sum, [-1, rows, columns, windowHeight, windowWidth, channels]), [0, 1, 3, 2, 4, 5]), [-1, side * side, channels]);
  });
}
