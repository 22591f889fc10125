import { CheckpointMismatchError, type BuiltGraph, type GraphBuildOptions, type StateDict } from '@vitzoo/core';
import { GraphBuilder, toBuiltGraph, type Value } from '@vitzoo/onnx';
import { BLOCK_LAYER_NORM_EPSILON, POOL_LAYER_NORM_EPSILON, type FdvitConfig, type FdvitStage } from './config.js';

interface Layers {
  weight: (key: string) => Value;
  linear: (x: Value, prefix: string) => Value;
  layerNorm: (x: Value, prefix: string, epsilon: number) => Value;
}

/**
 * Builds the ONNX graph of FDViT's `PoolingTransformer` in eval mode. Token activations are 2-D
 * `[batch * tokens, channels]` tensors (row-major tokens), so every Linear is one Gemm on the
 * PyTorch `[out, in]` weight and LayerNormalization runs on the last axis.
 */
export function buildFdvitGraph(
  config: FdvitConfig,
  stateDict: StateDict,
  options: Required<Pick<GraphBuildOptions, 'outputs'>> & GraphBuildOptions,
): BuiltGraph {
  const g = new GraphBuilder({ graphName: options.graphName ?? 'fdvit', metadata: { architecture: 'fdvit' } });
  const weight = (key: string): Value => {
    const tensor = stateDict[key];
    if (!tensor) throw new CheckpointMismatchError('fdvit', { missing: [key], unexpected: [], misshaped: [] });
    return g.weight(key, tensor);
  };
  const layers: Layers = {
    weight,
    linear: (x, prefix) => g.scope(prefix, () => g.gemmTransB(x, weight(`${prefix}.weight`), weight(`${prefix}.bias`))),
    layerNorm: (x, prefix, epsilon) =>
      g.scope(prefix, () => g.layerNormalization(x, weight(`${prefix}.weight`), weight(`${prefix}.bias`), epsilon)),
  };

  const { imageSize, inChans, patchSize, stride, stages } = config;
  const pixels = g.input('pixel_values', 'float32', ['batch', inChans, imageSize, imageSize]);

  // Patch embedding (conv, padding 0) plus the channel-first position embedding.
  let image = g.scope('patch_embed', () => {
    const conv = g.scope('patch_embed.conv', () =>
      g.conv(pixels, weight('patch_embed.conv.weight'), weight('patch_embed.conv.bias'), {
        kernelShape: [patchSize, patchSize],
        strides: [stride, stride],
      }),
    );
    return g.add(conv, weight('pos_embed'));
  });

  let tokens: Value | undefined;
  stages.forEach((stage, s) => {
    tokens = g.scope(`transformers.${s}`, () => {
      let x = imageToTokens(g, image, stage.dim, stage.side);
      for (let block = 0; block < stage.depth; block++) {
        const prefix = `transformers.${s}.blocks.${block}`;
        x = g.scope(`blocks.${block}`, () => vitBlock(g, x, stage, prefix, layers));
      }
      return x;
    });
    const next = stages[s + 1];
    if (next) image = g.scope(`pools.${s}`, () => flexibleDownsampling(g, tokens!, stage, next, `pools.${s}`, layers));
  });

  const last = stages[stages.length - 1]!;
  const features = g.scope('pool', () => {
    const normed = layers.layerNorm(tokens!, 'norm', BLOCK_LAYER_NORM_EPSILON);
    return g.reduceMean(g.reshape(normed, [-1, last.side * last.side, last.dim]), [1]);
  });
  const wanted = new Set<string>(options.outputs);
  const logits = wanted.has('logits') ? (config.numClasses > 0 ? layers.linear(features, 'head') : features) : null;
  for (const name of options.outputs) {
    if (name === 'logits') g.output(logits!, 'logits', 'float32', ['batch', config.numClasses > 0 ? config.numClasses : config.numFeatures]);
    else g.output(features, name, 'float32', ['batch', config.numFeatures]);
  }
  return toBuiltGraph(g.build());
}

/** `[B, C, side, side]` image -> `[B * side * side, C]` row-major tokens. */
function imageToTokens(g: GraphBuilder, image: Value, channels: number, side: number): Value {
  return g.reshape(g.transpose(g.reshape(image, [-1, channels, side * side]), [0, 2, 1]), [-1, channels]);
}

/** `[B * side * side, C]` row-major tokens -> `[B, C, side, side]` image. */
function tokensToImage(g: GraphBuilder, tokens: Value, channels: number, side: number): Value {
  return g.transpose(g.reshape(tokens, [-1, side, side, channels]), [0, 3, 1, 2]);
}

/**
 * The repo's own ViT block: pre-norm (eps 1e-6), full multi-head attention over the stage's tokens
 * plus LePE (a depthwise 3x3 conv on v laid out as an image), exact-GELU MLP.
 */
function vitBlock(g: GraphBuilder, x: Value, stage: FdvitStage, prefix: string, layers: Layers): Value {
  const { dim, side } = stage;
  const tokenCount = side * side;
  const y = layers.layerNorm(x, `${prefix}.norm1`, BLOCK_LAYER_NORM_EPSILON);
  const attended = g.scope('attn', () => {
    const qkv = layers.linear(y, `${prefix}.attn.qkv`);
    const [q, k, v] = g.opMulti('Split', [g.reshape(qkv, [-1, tokenCount, 3 * dim]), g.ints([dim, dim, dim], 'split')], { axis: 2 }, { outputs: 3 });
    // softmax((q k^T) * base_dim^-0.5) v; heads own consecutive base_dim-wide channel blocks.
    const attention = g.multiHeadAttention(q!, k!, v!, stage.heads, { scale: stage.headDim ** -0.5 });
    const lepe = g.scope('get_v', () => {
      const vImage = g.reshape(g.transpose(v!, [0, 2, 1]), [-1, dim, side, side]);
      const conv = g.conv(vImage, layers.weight(`${prefix}.attn.get_v.weight`), layers.weight(`${prefix}.attn.get_v.bias`), {
        kernelShape: [3, 3],
        pads: [1, 1, 1, 1],
        group: dim,
      });
      return g.transpose(g.reshape(conv, [-1, dim, tokenCount]), [0, 2, 1]);
    });
    return g.reshape(g.add(attention, lepe), [-1, dim]);
  });
  x = g.add(x, layers.linear(attended, `${prefix}.attn.proj`));
  const hidden = g.scope('mlp', () => g.gelu(layers.linear(layers.layerNorm(x, `${prefix}.norm2`, BLOCK_LAYER_NORM_EPSILON), `${prefix}.mlp.fc1`)));
  return g.add(x, layers.linear(hidden, `${prefix}.mlp.fc2`));
}

/**
 * `bilinear_conv_pooling`: LayerNorm (eps 1e-5) -> image -> bilinear resampling to
 * `out_size[s+1]` on align-corners coordinates (what the reference's constant `grid_sample` grid
 * computes) -> 3x3 conv to the next stage's width. Returns the next stage's input image.
 */
function flexibleDownsampling(g: GraphBuilder, tokens: Value, stage: FdvitStage, next: FdvitStage, prefix: string, layers: Layers): Value {
  const normed = layers.layerNorm(tokens, `${prefix}.ln`, POOL_LAYER_NORM_EPSILON);
  const image = tokensToImage(g, normed, stage.dim, stage.side);
  const target = next.side;
  let resampled: Value;
  if (target === stage.side) {
    resampled = image; // align-corners resampling to the same size is the identity
  } else if (target === 1) {
    // grid [-1]: the top-left token
    resampled = g.slice(image, [0, 0], [1, 1], [2, 3]);
  } else {
    const sizes = g.concat([g.shape(image, 0, 2), g.ints([target, target], 'out_size')], 0);
    resampled = g.op('Resize', [image, null, null, sizes], { mode: 'linear', coordinate_transformation_mode: 'align_corners' });
  }
  return g.scope(`${prefix}.conv`, () =>
    g.conv(resampled, layers.weight(`${prefix}.conv.weight`), layers.weight(`${prefix}.conv.bias`), { kernelShape: [3, 3], pads: [1, 1, 1, 1] }),
  );
}
