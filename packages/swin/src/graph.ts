import { toFloat32, type BuiltGraph, type GraphBuildOptions, type StateDict } from '@vitzoo/core';
import type { Value } from '@vitzoo/onnx';
import { attention, GraphLayers, produceTokenImage } from '@vitzoo/onnx/layers';
import { SWIN_LAYER_NORM_EPS, type Pair, type SwinBlockGeometry, type SwinConfig, type SwinStageGeometry } from './config.js';
import { gatherRelativePositionBias, shiftedWindowMask, windowPartitionIndex, windowReverseIndex } from './windows.js';

/** Part of the built-graph cache key: changes whenever the graphs built here change. */
export const SWIN_BUILDER_VERSION = '3';

const EPS = SWIN_LAYER_NORM_EPS;

/**
 * timm 1.0's `SwinTransformer` forward pass, in the reference's order: patch_embed → layers
 * (PatchMerging, then SwinTransformerBlocks) → norm → forward_head. Tokens flow as a [B·H·W, C]
 * matrix in row-major (b, y, x) order (timm's NHWC). Each block's cyclic shift, bottom/right
 * padding and window partition is one Gather with a build-time index (padding reads an appended
 * zero token) and the inverse another (windows.ts); attention is ONNX Runtime's fused
 * MultiHeadAttention over B·windows windows (plain operators for a block whose probabilities are
 * an output), with the relative-position bias gathered at build time plus, for shifted windows,
 * the build-time shift mask, at the full [B·windows, heads, N, N] shape every execution provider
 * accepts.
 */
export function buildSwinGraph(config: SwinConfig, weights: StateDict, options: Required<Pick<GraphBuildOptions, 'outputs'>> & GraphBuildOptions): BuiltGraph {
  const layers = new GraphLayers(weights, { ...options, architecture: 'swin', builderVersion: SWIN_BUILDER_VERSION });
  const { g } = layers;
  const [height, width] = config.imgSize;
  const pixels = g.input('pixel_values', 'float32', ['batch', config.inChans, height, width]);
  let batch: Value | undefined;
  const imageBatch = () => (batch ??= layers.module('patch_embed', () => g.shape(pixels, 0, 1)));

  // patch_embed: Conv (kernel = stride = patch) → NHWC tokens → LayerNorm.
  const grid = layers.conv(pixels, 'patch_embed.proj', { kernelShape: config.patchSize, strides: config.patchSize });
  let x = layers.layerNorm(
    layers.module('patch_embed', () => layers.imageToTokens(grid, config.embedDim, { flat: true })),
    'patch_embed.norm',
    EPS,
  );

  let resolution: Pair = config.patchGrid;
  for (const stage of config.stages) {
    const prefix = `layers.${stage.index}`;
    if (stage.downsample) x = patchMerging(layers, x, stage, resolution, `${prefix}.downsample`);
    const masks = new Map<string, Value>();
    stage.blocks.forEach((block, index) => {
      x = swinBlock(layers, x, { stage, block, prefix: `${prefix}.blocks.${index}`, imageBatch, masks });
    });
    resolution = stage.resolution;
    produceTokenImage(layers, `intermediates.${stage.index}`, x, stage.dim, ...resolution);
  }

  // norm (forward_features, NHWC) → forward_head: ClassifierHead(pool 'avg' | '', fc).
  const channels = config.numFeatures;
  const [finalHeight, finalWidth] = resolution;
  const normed = layers.layerNorm(x, 'norm', EPS);
  let features: Value | undefined;
  const featureMap = () => (features ??= layers.module('norm', () => g.reshape(normed, [-1, finalHeight, finalWidth, channels])));
  const spatial = config.globalPool === 'avg' ? [] : [finalHeight, finalWidth];
  let pooled: Value | undefined;
  const preLogits = () =>
    (pooled ??=
      config.globalPool === 'avg'
        ? layers.module('head.global_pool', () => g.reduceMean(g.reshape(normed, [-1, finalHeight * finalWidth, channels]), [1]))
        : featureMap());
  return layers.finish({
    features: () => ({ value: featureMap(), shape: ['batch', finalHeight, finalWidth, channels] }),
    pre_logits: () => ({ value: preLogits(), shape: ['batch', ...spatial, channels] }),
    logits: () =>
      config.numClasses === 0
        ? { value: preLogits(), shape: ['batch', ...spatial, channels] }
        : { value: layers.linear(preLogits(), 'head.fc'), shape: ['batch', ...spatial, config.numClasses] },
  });
}

/**
 * timm 1.0 `PatchMerging` (`layers.<i>.downsample`): pad odd sizes bottom/right, gather each 2×2
 * neighbourhood as `reshape(B, H/2, 2, W/2, 2, C).permute(0, 1, 3, 4, 2, 5).flatten(3)`
 * (channel block = dw·2 + dh), LayerNorm(4C), Linear without bias.
 */
function patchMerging(layers: GraphLayers, tokens: Value, stage: SwinStageGeometry, resolution: Pair, module: string): Value {
  const { g } = layers;
  const [height, width] = resolution;
  const channels = stage.inputDim;
  const [outHeight, outWidth] = stage.resolution;
  const merged = layers.module(module, () => {
    let map = g.reshape(tokens, [-1, height, width, channels]);
    if (height % 2 !== 0 || width % 2 !== 0) map = g.op('Pad', [map, g.ints([0, 0, 0, 0, 0, height % 2, width % 2, 0], 'pads')]);
    const grouped = g.reshape(map, [-1, outHeight, 2, outWidth, 2, channels]);
    return g.reshape(g.transpose(grouped, [0, 1, 3, 4, 2, 5]), [-1, 4 * channels]);
  });
  return layers.linear(layers.layerNorm(merged, `${module}.norm`, EPS), `${module}.reduction`);
}

interface BlockContext {
  stage: SwinStageGeometry;
  block: SwinBlockGeometry;
  /** `layers.<i>.blocks.<j>` */
  prefix: string;
  /** The image batch size as an int64 [1] value (built on first use). */
  imageBatch: () => Value;
  /** The stage's shift masks by geometry, shared by its shifted blocks. */
  masks: Map<string, Value>;
}

/** timm `SwinTransformerBlock`: x + attn(norm1(x)) (windowed), then x + mlp(norm2(x)). */
function swinBlock(layers: GraphLayers, x: Value, context: BlockContext): Value {
  const { g } = layers;
  const { prefix } = context;
  const attended = windowAttention(layers, layers.layerNorm(x, `${prefix}.norm1`, EPS), context);
  const afterAttention = layers.module(prefix, () => g.add(x, attended));
  const mlp = layers.mlp(layers.layerNorm(afterAttention, `${prefix}.norm2`, EPS), `${prefix}.mlp`);
  return layers.module(prefix, () => g.add(afterAttention, mlp));
}

/** Windows of a block: how many, and their area. */
function windowCount(block: SwinBlockGeometry): number {
  return (block.padded[0] / block.window[0]) * (block.padded[1] / block.window[1]);
}

/**
 * The block's `_attn`: roll by -shift, pad, window partition, `WindowAttention` (qkv, attention with
 * relative-position bias and shift mask, proj), window reverse, crop, roll back.
 */
function windowAttention(layers: GraphLayers, normed: Value, context: BlockContext): Value {
  const { g } = layers;
  const { stage, block, prefix } = context;
  const module = `${prefix}.attn`;
  const channels = stage.dim;
  const attentionDim = stage.numHeads * stage.headDim;
  const area = block.window[0] * block.window[1];
  const numWindows = windowCount(block);
  const [height, width] = stage.resolution;
  const padded = block.padded[0] !== height || block.padded[1] !== width;
  const shifted = block.shift[0] > 0 || block.shift[1] > 0;
  const identity = numWindows === 1 && !padded && !shifted;

  const windows = identity
    ? normed
    : layers.module(prefix, () => {
        let sequence = g.reshape(normed, [-1, height * width, channels]);
        if (padded) sequence = g.op('Pad', [sequence, g.ints([0, 0, 0, 0, 1, 0], 'pads')]);
        const index = windowPartitionIndex(stage.resolution, block.padded, block.window, block.shift);
        return g.reshape(g.gather(sequence, g.constant('int32', [index.length], index, 'window_partition'), 1), [-1, channels]);
      });
  const qkv = layers.linear(windows, `${module}.qkv`);
  const [q, k, v] = layers.module(module, () =>
    g.opMulti('Split', [qkv, g.ints([attentionDim, attentionDim, attentionDim], 'split')], { axis: -1 }, { outputs: 3 }).map((part) => g.reshape(part, [-1, area, attentionDim])),
  ) as [Value, Value, Value];
  const attended = attention(layers, q, k, v, {
    module,
    heads: stage.numHeads,
    headDim: stage.headDim,
    scale: stage.headDim ** -0.5,
    bias: attentionBias(layers, q, context),
    shape: { batch: numWindows === 1 ? 'batch' : `batch*${numWindows}`, queries: area, keys: area },
  }).output;
  const merged = identity
    ? g.reshape(attended, [-1, attentionDim])
    : layers.module(prefix, () => {
        const index = windowReverseIndex(stage.resolution, block.padded, block.window, block.shift);
        const sequence = g.reshape(attended, [-1, numWindows * area, attentionDim]);
        return g.reshape(g.gather(sequence, g.constant('int32', [index.length], index, 'window_reverse'), 1), [-1, attentionDim]);
      });
  return layers.linear(merged, `${module}.proj`);
}

/**
 * The scores' bias at the full shape [B·windows, heads, N, N] (onnxruntime-web's WebGPU
 * MultiHeadAttention accepts no broadcast bias; see KERNELS.md): the block's relative-position
 * bias [1, heads, N, N] (gathered from its table at build time) expanded to the query batch, or,
 * for shifted windows, plus the stage's shift mask [windows, 1, N, N] and expanded over the images.
 */
function attentionBias(layers: GraphLayers, query: Value, context: BlockContext): Value {
  const { g } = layers;
  const { stage, block, prefix } = context;
  const module = `${prefix}.attn`;
  const heads = stage.numHeads;
  const area = block.window[0] * block.window[1];
  const tableKey = `${module}.relative_position_bias_table`;
  const table = layers.tensor(tableKey);
  const bias = layers.floatInitializer(`${module}.relative_position_bias`, [1, heads, area, area], () =>
    gatherRelativePositionBias(toFloat32(table).data, heads, block.window),
  );
  return layers.module(module, () => {
    if (block.shift[0] === 0 && block.shift[1] === 0) return g.op('Expand', [bias, g.concat([g.shape(query, 0, 1), g.ints([1, 1, 1], 'ones')], 0)]);
    const numWindows = windowCount(block);
    const maskKey = `${block.window.join('x')}|${block.shift.join('x')}|${block.padded.join('x')}`;
    let mask = context.masks.get(maskKey);
    if (!mask) {
      const name = `layers.${stage.index}.attn_mask${context.masks.size === 0 ? '' : `_${context.masks.size}`}`;
      mask = g.derivedWeight(name, 'float32', [numWindows, 1, area, area], () => shiftedWindowMask(block.padded, block.window, block.shift));
      context.masks.set(maskKey, mask);
    }
    const combined = g.add(g.reshape(bias, [1, 1, heads, area, area]), g.reshape(mask, [1, numWindows, 1, area, area]));
    const expanded = g.op('Expand', [combined, g.concat([context.imageBatch(), g.ints([1, 1, 1, 1], 'ones')], 0)]);
    return g.reshape(expanded, [-1, heads, area, area]);
  });
}
