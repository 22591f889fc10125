import { CheckpointMismatchError, type BuiltGraph, type GraphBuildOptions, type StateDict } from '@vitzoo/core';
import { GraphBuilder, toBuiltGraph, type Value } from '@vitzoo/onnx';
import { LAYER_NORM_EPSILON, type CswinBranch, type CswinConfig, type CswinStage } from './config.js';

/**
 * Builds the ONNX graph of `CSWinTransformer` in eval mode. Token activations are kept as 2-D
 * `[batch * tokens, channels]` tensors (row-major tokens), so Linear layers are single Gemm nodes
 * reading the PyTorch `[out, in]` weights as they are and LayerNormalization runs on the last axis.
 */
export function buildCswinGraph(
  config: CswinConfig,
  stateDict: StateDict,
  options: Required<Pick<GraphBuildOptions, 'outputs'>> & GraphBuildOptions,
): BuiltGraph {
  const g = new GraphBuilder({ graphName: options.graphName ?? 'cswin', metadata: { architecture: 'cswin' } });
  const weight = (key: string): Value => {
    const tensor = stateDict[key];
    if (!tensor) throw new CheckpointMismatchError('cswin', { missing: [key], unexpected: [], misshaped: [] });
    return g.weight(key, tensor);
  };
  const optionalWeight = (key: string): Value | null => (stateDict[key] ? weight(key) : null);
  const linear = (x: Value, prefix: string): Value =>
    g.scope(prefix, () => g.gemmTransB(x, weight(`${prefix}.weight`), optionalWeight(`${prefix}.bias`)));
  const layerNorm = (x: Value, prefix: string): Value =>
    g.scope(prefix, () => g.layerNormalization(x, weight(`${prefix}.weight`), weight(`${prefix}.bias`), LAYER_NORM_EPSILON));

  const { imgSize, inChans, embedDim } = config;
  const pixels = g.input('pixel_values', 'float32', ['batch', inChans, imgSize, imgSize]);

  // Stem: conv 7x7 stride 4 padding 2 -> tokens -> LayerNorm.
  const firstSide = config.stages[0]!.resolution;
  let x = g.scope('stage1_conv_embed', () => {
    const image = g.scope('stage1_conv_embed.0', () =>
      g.conv(pixels, weight('stage1_conv_embed.0.weight'), weight('stage1_conv_embed.0.bias'), {
        kernelShape: [7, 7],
        strides: [4, 4],
        pads: [2, 2, 2, 2],
      }),
    );
    return imageToTokens(g, image, embedDim, firstSide);
  });
  x = layerNorm(x, 'stage1_conv_embed.2');

  config.stages.forEach((stage, index) => {
    if (index > 0) x = g.scope(`merge${index}`, () => merge(g, x, config.stages[index - 1]!, stage, `merge${index}`, weight, layerNorm));
    for (let block = 0; block < stage.depth; block++) {
      const prefix = `stage${index + 1}.${block}`;
      x = g.scope(prefix, () => cswinBlock(g, x, stage, prefix, { weight, linear, layerNorm }));
    }
  });

  const last = config.stages[config.stages.length - 1]!;
  const features = g.scope('pool', () => {
    const normed = layerNorm(x, 'norm');
    const tokens = g.reshape(normed, [-1, last.resolution * last.resolution, config.numFeatures]);
    return g.reduceMean(tokens, [1]);
  });
  const wanted = new Set<string>(options.outputs);
  const logits = wanted.has('logits') ? (config.numClasses > 0 ? linear(features, 'head') : features) : null;
  for (const name of options.outputs) {
    if (name === 'logits') g.output(logits!, 'logits', 'float32', ['batch', config.numClasses > 0 ? config.numClasses : config.numFeatures]);
    else g.output(features, name, 'float32', ['batch', config.numFeatures]);
  }
  return toBuiltGraph(g.build());
}

interface Layers {
  weight: (key: string) => Value;
  linear: (x: Value, prefix: string) => Value;
  layerNorm: (x: Value, prefix: string) => Value;
}

/** `[B, C, side, side]` image -> `[B * side * side, C]` row-major tokens. */
function imageToTokens(g: GraphBuilder, image: Value, channels: number, side: number): Value {
  const flat = g.reshape(image, [-1, channels, side * side]);
  return g.reshape(g.transpose(flat, [0, 2, 1]), [-1, channels]);
}

/** `[B * side * side, C]` row-major tokens -> `[B, C, side, side]` image. */
function tokensToImage(g: GraphBuilder, tokens: Value, channels: number, side: number): Value {
  return g.transpose(g.reshape(tokens, [-1, side, side, channels]), [0, 3, 1, 2]);
}

/** Merge_Block: tokens -> image -> conv 3x3 stride 2 padding 1 -> tokens -> LayerNorm. */
function merge(
  g: GraphBuilder,
  x: Value,
  previous: CswinStage,
  stage: CswinStage,
  prefix: string,
  weight: (key: string) => Value,
  layerNorm: (x: Value, prefix: string) => Value,
): Value {
  const image = tokensToImage(g, x, previous.dim, previous.resolution);
  const conv = g.scope(`${prefix}.conv`, () =>
    g.conv(image, weight(`${prefix}.conv.weight`), weight(`${prefix}.conv.bias`), { kernelShape: [3, 3], strides: [2, 2], pads: [1, 1, 1, 1] }),
  );
  return layerNorm(imageToTokens(g, conv, stage.dim, stage.resolution), `${prefix}.norm`);
}

/** Pre-norm CSWin block on `[B * R * R, dim]` tokens. */
function cswinBlock(g: GraphBuilder, x: Value, stage: CswinStage, prefix: string, layers: Layers): Value {
  const y = layers.layerNorm(x, `${prefix}.norm1`);
  const qkv = layers.linear(y, `${prefix}.qkv`);
  // q, k, v are consecutive dim-wide blocks; each branch owns a contiguous channel range of each.
  const branchCount = stage.branches.length;
  const widths = stage.branches.map((branch) => branch.channels);
  const pieces = g.opMulti('Split', [qkv, g.ints([...widths, ...widths, ...widths], 'split')], { axis: 1 }, { outputs: 3 * branchCount });
  const outputs = stage.branches.map((branch, b) =>
    g.scope(`attns.${b}`, () =>
      stripeAttention(g, pieces[b]!, pieces[branchCount + b]!, pieces[2 * branchCount + b]!, branch, stage.resolution, `${prefix}.attns.${b}`, layers.weight),
    ),
  );
  const attended = outputs.length === 1 ? outputs[0]! : g.concat(outputs, 1);
  x = g.add(x, layers.linear(attended, `${prefix}.proj`));
  const hidden = g.scope('mlp', () => g.gelu(layers.linear(layers.layerNorm(x, `${prefix}.norm2`), `${prefix}.mlp.fc1`)));
  return g.add(x, layers.linear(hidden, `${prefix}.mlp.fc2`));
}

/**
 * One LePEAttention branch. q, k, v: `[B * R * R, Cb]` row-major tokens. Windows of
 * `windowHeight x windowWidth` tokens are moved into the batch axis (batch-major, then window
 * row, then window column; tokens row-major inside a window), attended with the fused
 * MultiHeadAttention kernel, and LePE (a depthwise 3x3 conv over each window image on its own,
 * zero-padded at the stripe borders) is added before the windows are scattered back.
 */
function stripeAttention(
  g: GraphBuilder,
  q: Value,
  k: Value,
  v: Value,
  branch: CswinBranch,
  side: number,
  prefix: string,
  weight: (key: string) => Value,
): Value {
  const { channels, windowHeight, windowWidth } = branch;
  const windowTokens = windowHeight * windowWidth;
  const rows = side / windowHeight;
  const columns = side / windowWidth;
  // [B*R*R, Cb] viewed as [B, rows, windowHeight, columns, windowWidth, Cb].
  const gridShape = [-1, rows, windowHeight, columns, windowWidth, channels];
  const contiguous = columns === 1; // windows span whole rows: partitioning is a plain reshape
  const toWindows = (t: Value): Value =>
    contiguous
      ? g.reshape(t, [-1, windowTokens, channels])
      : g.reshape(g.transpose(g.reshape(t, gridShape), [0, 1, 3, 2, 4, 5]), [-1, windowTokens, channels]);

  const attended = g.multiHeadAttention(toWindows(q), toWindows(k), toWindows(v), branch.heads, { scale: branch.scale });

  // LePE on each window image [B*nW, Cb, Hsp, Wsp], straight from the token layout.
  const lepe = g.scope('get_v', () => {
    const windowImages = g.reshape(g.transpose(g.reshape(v, gridShape), [0, 1, 3, 5, 2, 4]), [-1, channels, windowHeight, windowWidth]);
    const conv = g.conv(windowImages, weight(`${prefix}.get_v.weight`), weight(`${prefix}.get_v.bias`), {
      kernelShape: [3, 3],
      pads: [1, 1, 1, 1],
      group: channels,
    });
    // [B*nW, Cb, Hsp, Wsp] -> [B*nW, Hsp*Wsp, Cb]
    return g.transpose(g.reshape(conv, [-1, channels, windowTokens]), [0, 2, 1]);
  });
  const windows = g.add(attended, lepe);
  if (contiguous) return g.reshape(windows, [-1, channels]);
  const grid = g.reshape(windows, [-1, rows, columns, windowHeight, windowWidth, channels]);
  return g.reshape(g.transpose(grid, [0, 1, 3, 2, 4, 5]), [-1, channels]);
}
