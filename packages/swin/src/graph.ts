import { toFloat32, type BuiltGraph, type GraphBuildOptions, type HeadOutputName, type StateDict } from '@vitzoo/core';
import { GraphBuilder, toBuiltGraph, type Value } from '@vitzoo/onnx';
import { SWIN_LAYER_NORM_EPS, type SwinBlockGeometry, type SwinConfig, type SwinStageGeometry } from './config.js';
import { gatherRelativePositionBias, shiftedWindowMask, windowPartitionIndex, windowReverseIndex } from './windows.js';

/**
 * Builds the ONNX graph of a timm 1.0 `SwinTransformer`. Tokens flow as a [B*H*W, C] matrix in
 * row-major (b, y, x) order (timm's NHWC). Each block's cyclic shift, bottom/right padding and
 * window partition is one Gather with a build-time index (padding reads an appended zero token),
 * and the inverse (crop, roll back, window reverse) is another; attention is ONNX Runtime's fused
 * MultiHeadAttention over B*num_windows windows, with the relative-position bias (gathered at build
 * time) plus, for shifted windows, the build-time shift mask as attention bias, expanded at run time
 * to the full [B*num_windows, heads, N, N] (the shape every execution provider accepts).
 */
export function buildSwinGraph(
  config: SwinConfig,
  stateDict: StateDict,
  options: Required<Pick<GraphBuildOptions, 'outputs'>> & GraphBuildOptions,
): BuiltGraph {
  const g = new GraphBuilder({ graphName: options.graphName ?? 'swin', metadata: { architecture: 'swin' } });
  const weight = (key: string) => g.weight(key, stateDict[key]!);
  const optionalWeight = (key: string) => (stateDict[key] ? weight(key) : null);
  const linear = (x: Value, prefix: string) => g.gemmTransB(x, weight(`${prefix}.weight`), optionalWeight(`${prefix}.bias`));
  const layerNorm = (x: Value, prefix: string) =>
    g.layerNormalization(x, weight(`${prefix}.weight`), weight(`${prefix}.bias`), SWIN_LAYER_NORM_EPS);

  const [height, width] = config.imgSize;
  const pixels = g.input('pixel_values', 'float32', ['batch', config.inChans, height, width]);
  const batch = g.shape(pixels, 0, 1);

  // Patch embedding: Conv (stride = kernel = patch), NCHW -> NHWC tokens, LayerNorm.
  let x = g.scope('patch_embed', () => {
    const conv = g.conv(pixels, weight('patch_embed.proj.weight'), weight('patch_embed.proj.bias'), {
      kernelShape: config.patchSize,
      strides: config.patchSize,
    });
    const tokens = g.reshape(g.transpose(conv, [0, 2, 3, 1]), [-1, config.embedDim]);
    return layerNorm(tokens, 'patch_embed.norm');
  });

  let resolution = config.patchGrid;
  for (const stage of config.stages) {
    const prefix = `layers.${stage.index}`;
    x = g.scope(prefix, () => {
      let tokens = x;
      if (stage.downsample) tokens = g.scope('downsample', () => patchMerging(g, tokens, stage, resolution, prefix, linear, layerNorm));
      const stageMask = new Map<string, Value>();
      stage.blocks.forEach((block, index) => {
        tokens = g.scope(`blocks.${index}`, () =>
          swinBlock(g, tokens, { stage, block, prefix: `${prefix}.blocks.${index}`, batch, stateDict, stageMask, linear, layerNorm }),
        );
      });
      return tokens;
    });
    resolution = stage.resolution;
  }

  const [finalHeight, finalWidth] = resolution;
  const channels = config.numFeatures;
  const normed = g.scope('norm', () => layerNorm(x, 'norm'));
  const features = g.reshape(normed, [-1, finalHeight, finalWidth, channels]);
  const pooled = config.globalPool === 'avg';
  let preLogits: Value | undefined;
  const getPreLogits = () =>
    (preLogits ??= pooled
      ? g.scope('head/global_pool', () => g.reduceMean(g.reshape(normed, [-1, finalHeight * finalWidth, channels]), [1]))
      : features);
  const spatial = pooled ? [] : [finalHeight, finalWidth];
  const outputs: Record<HeadOutputName, () => { value: Value; shape: (number | string)[] }> = {
    features: () => ({ value: features, shape: ['batch', finalHeight, finalWidth, channels] }),
    pre_logits: () => ({ value: getPreLogits(), shape: ['batch', ...spatial, channels] }),
    logits: () => {
      if (config.numClasses === 0) return { value: getPreLogits(), shape: ['batch', ...spatial, channels] };
      const value = g.scope('head/fc', () =>
        pooled
          ? linear(getPreLogits(), 'head.fc')
          : g.reshape(linear(normed, 'head.fc'), [-1, finalHeight, finalWidth, config.numClasses]),
      );
      return { value, shape: ['batch', ...spatial, config.numClasses] };
    },
  };
  for (const name of options.outputs) {
    const { value, shape } = outputs[name as HeadOutputName]();
    g.output(value, name, 'float32', shape);
  }
  return toBuiltGraph(g.build());
}

type Linear = (x: Value, prefix: string) => Value;

/** timm 1.0 PatchMerging: pad odd sizes, (dh, dw) 2x2 neighbourhoods -> 4C channels, LayerNorm, Linear. */
function patchMerging(
  g: GraphBuilder,
  tokens: Value,
  stage: SwinStageGeometry,
  resolution: readonly [number, number],
  prefix: string,
  linear: Linear,
  layerNorm: Linear,
): Value {
  const [height, width] = resolution;
  const channels = stage.inputDim;
  let map = g.reshape(tokens, [-1, height, width, channels]);
  if (height % 2 !== 0 || width % 2 !== 0) {
    map = g.op('Pad', [map, g.ints([0, 0, 0, 0, 0, height % 2, width % 2, 0], 'pads')]);
  }
  const [outHeight, outWidth] = stage.resolution;
  // reshape(B, H/2, 2, W/2, 2, C).permute(0, 1, 3, 4, 2, 5).flatten(3): channel block = dw * 2 + dh.
  const grouped = g.reshape(map, [-1, outHeight, 2, outWidth, 2, channels]);
  const merged = g.reshape(g.transpose(grouped, [0, 1, 3, 4, 2, 5]), [-1, 4 * channels]);
  const normed = layerNorm(merged, `${prefix}.downsample.norm`);
  return linear(normed, `${prefix}.downsample.reduction`);
}

interface BlockContext {
  stage: SwinStageGeometry;
  block: SwinBlockGeometry;
  prefix: string;
  batch: Value;
  stateDict: StateDict;
  /** The stage's shift mask initializer, shared by its shifted blocks. */
  stageMask: Map<string, Value>;
  linear: Linear;
  layerNorm: Linear;
}

function swinBlock(g: GraphBuilder, x: Value, context: BlockContext): Value {
  const { stage, block, prefix, linear, layerNorm } = context;
  const [height, width] = stage.resolution;
  const [paddedHeight, paddedWidth] = block.padded;
  const channels = stage.dim;
  const attentionDim = stage.numHeads * stage.headDim;
  const area = block.window[0] * block.window[1];
  const numWindows = (paddedHeight / block.window[0]) * (paddedWidth / block.window[1]);
  const tokensPerImage = height * width;
  const padded = paddedHeight !== height || paddedWidth !== width;
  const shifted = block.shift[0] > 0 || block.shift[1] > 0;
  const identityPartition = numWindows === 1 && !padded && !shifted;

  const attention = g.scope('attn', () => {
    const normed = layerNorm(x, `${prefix}.norm1`);
    let windows = normed;
    if (!identityPartition) {
      let sequence = g.reshape(normed, [-1, tokensPerImage, channels]);
      if (padded) sequence = g.op('Pad', [sequence, g.ints([0, 0, 0, 0, 1, 0], 'pads')]);
      const index = windowPartitionIndex(stage.resolution, block.padded, block.window, block.shift);
      const gathered = g.gather(sequence, g.constant('int32', [index.length], index, 'window_partition'), 1);
      windows = g.reshape(gathered, [-1, channels]);
    }
    const qkv = linear(windows, `${prefix}.attn.qkv`);
    const [q, k, v] = g.opMulti('Split', [qkv, g.ints([attentionDim, attentionDim, attentionDim], 'split')], { axis: 1 }, { outputs: 3 });
    const asWindows = (value: Value) => g.reshape(value, [-1, area, attentionDim]);
    const query = asWindows(q!);
    const attended = g.multiHeadAttention(query, asWindows(k!), asWindows(v!), stage.numHeads, {
      scale: stage.headDim ** -0.5,
      attentionBias: attentionBias(g, context, query, area, numWindows, shifted),
    });
    let merged = g.reshape(attended, [-1, attentionDim]);
    if (!identityPartition) {
      const index = windowReverseIndex(stage.resolution, block.padded, block.window, block.shift);
      const sequence = g.reshape(attended, [-1, numWindows * area, attentionDim]);
      merged = g.reshape(g.gather(sequence, g.constant('int32', [index.length], index, 'window_reverse'), 1), [-1, attentionDim]);
    }
    return linear(merged, `${prefix}.attn.proj`);
  });
  const afterAttention = g.add(x, attention);
  const mlp = g.scope('mlp', () => {
    const hidden = g.gelu(linear(layerNorm(afterAttention, `${prefix}.norm2`), `${prefix}.mlp.fc1`));
    return linear(hidden, `${prefix}.mlp.fc2`);
  });
  return g.add(afterAttention, mlp);
}

/**
 * The attention bias at the full shape MultiHeadAttention sees, [B*num_windows, heads, N, N]:
 * onnxruntime-web's WebGPU kernel accepts only that shape (ONNX Runtime's CPU kernel would also
 * broadcast a [1, heads, N, N] bias, but expanding costs nothing measurable there: swin_tiny at 224,
 * 1 thread, batch 1 and 4, within ±1%). Unshifted blocks expand the block's [1, heads, N, N]
 * relative-position bias to the query's batch; shifted blocks add the stage's [num_windows, 1, N, N]
 * shift mask and expand over the image batch.
 */
function attentionBias(g: GraphBuilder, context: BlockContext, query: Value, area: number, numWindows: number, shifted: boolean): Value {
  const { stage, block, prefix, stateDict, batch, stageMask } = context;
  const tableKey = `${prefix}.attn.relative_position_bias_table`;
  const table = stateDict[tableKey]!;
  const heads = stage.numHeads;
  const bias = g.derivedWeight(`${prefix}.attn.relative_position_bias`, 'float32', [1, heads, area, area], () =>
    gatherRelativePositionBias(toFloat32(table).data, heads, block.window),
  );
  if (!shifted) return g.op('Expand', [bias, g.concat([g.shape(query, 0, 1), g.ints([1, 1, 1], 'ones')], 0)]);
  const maskKey = `${block.window.join('x')}|${block.shift.join('x')}|${block.padded.join('x')}`;
  let mask = stageMask.get(maskKey);
  if (!mask) {
    mask = g.derivedWeight(`layers.${stage.index}.attn_mask${stageMask.size === 0 ? '' : `_${stageMask.size}`}`, 'float32', [numWindows, 1, area, area], () =>
      shiftedWindowMask(block.padded, block.window, block.shift),
    );
    stageMask.set(maskKey, mask);
  }
  const combined = g.add(g.reshape(bias, [1, 1, heads, area, area]), g.reshape(mask, [1, numWindows, 1, area, area]));
  const expanded = g.op('Expand', [combined, g.concat([batch, g.ints([1, 1, 1, 1], 'ones')], 0)]);
  return g.reshape(expanded, [-1, heads, area, area]);
}
