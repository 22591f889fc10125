import type { BuiltGraph, GraphBuildOptions, HeadOutputName, StateDict, Tensor } from '@vitzoo/core';
import { GraphBuilder, toBuiltGraph, type Value } from '@vitzoo/onnx';
import { CAIT_LAYER_NORM_EPS, type CaitConfig } from './config.js';

/**
 * Builds the ONNX graph of a timm `Cait`. Self-attention blocks use talking-heads attention, which
 * mixes the heads of the attention logits before and after the softmax (`proj_l`, `proj_w`): a
 * fused attention kernel cannot express that, so they are MatMul / Softmax with the two head
 * mixings as 1x1 convolutions over the [B, heads, N, N] map (the Linear weights viewed as
 * [heads, heads, 1, 1], no copy). Class-attention blocks (one query, the class token) use ONNX
 * Runtime's fused MultiHeadAttention.
 */
export function buildCaitGraph(
  config: CaitConfig,
  stateDict: StateDict,
  options: Required<Pick<GraphBuildOptions, 'outputs'>> & GraphBuildOptions,
): BuiltGraph {
  const g = new GraphBuilder({ graphName: options.graphName ?? 'cait', metadata: { architecture: 'cait' } });
  const dim = config.embedDim;
  const tokens = config.numPatches;
  const heads = config.numHeads;
  const headDim = config.headDim;
  const weight = (key: string) => g.weight(key, stateDict[key]!);
  const optionalWeight = (key: string) => (stateDict[key] ? weight(key) : null);
  const linear = (x: Value, prefix: string) => g.gemmTransB(x, weight(`${prefix}.weight`), optionalWeight(`${prefix}.bias`));
  const layerNorm = (x: Value, prefix: string) =>
    g.layerNormalization(x, weight(`${prefix}.weight`), weight(`${prefix}.bias`), CAIT_LAYER_NORM_EPS);
  const mlp = (x: Value, prefix: string) => g.scope('mlp', () => linear(g.gelu(linear(x, `${prefix}.mlp.fc1`)), `${prefix}.mlp.fc2`));
  /** A [heads, heads] Linear over the head axis as a 1x1 Conv on [B, heads, N, N]. */
  const headMixing = (x: Value, prefix: string) => {
    const linearWeight: Tensor = stateDict[`${prefix}.weight`]!;
    const asKernel = g.weight(`${prefix}.weight`, { ...linearWeight, shape: [heads, heads, 1, 1] });
    return g.conv(x, asKernel, weight(`${prefix}.bias`), { kernelShape: [1, 1] });
  };

  const [height, width] = config.imgSize;
  const pixels = g.input('pixel_values', 'float32', ['batch', config.inChans, height, width]);

  // Patch embedding + position embedding (patch tokens only). x: [B*N, D] rows in (b, token) order.
  let x = g.scope('patch_embed', () => {
    const conv = g.conv(pixels, weight('patch_embed.proj.weight'), weight('patch_embed.proj.bias'), {
      kernelShape: config.patchSize,
      strides: config.patchSize,
    });
    const sequence = g.transpose(g.reshape(conv, [-1, dim, tokens]), [0, 2, 1]);
    return g.reshape(g.add(sequence, weight('pos_embed')), [-1, dim]);
  });

  for (let i = 0; i < config.depth; i++) {
    const prefix = `blocks.${i}`;
    x = g.scope(prefix, () => {
      const attention = g.scope('attn', () => {
        const qkv = linear(layerNorm(x, `${prefix}.norm1`), `${prefix}.attn.qkv`);
        const [q, k, v] = g.opMulti('Split', [qkv, g.ints([dim, dim, dim], 'split')], { axis: 1 }, { outputs: 3 });
        const split = (value: Value, perm: number[]) => g.transpose(g.reshape(value, [-1, tokens, heads, headDim]), perm);
        const query = split(g.mul(q!, g.scalar(headDim ** -0.5, 'scale')), [0, 2, 1, 3]);
        const keyTransposed = split(k!, [0, 2, 3, 1]);
        const value = split(v!, [0, 2, 1, 3]);
        let scores = g.matMul(query, keyTransposed); // [B, heads, N, N]
        scores = headMixing(scores, `${prefix}.attn.proj_l`);
        let weights = g.softmax(scores, -1);
        weights = headMixing(weights, `${prefix}.attn.proj_w`);
        const context = g.transpose(g.matMul(weights, value), [0, 2, 1, 3]);
        return linear(g.reshape(context, [-1, dim]), `${prefix}.attn.proj`);
      });
      const afterAttention = g.add(x, g.mul(weight(`${prefix}.gamma_1`), attention));
      return g.add(afterAttention, g.mul(weight(`${prefix}.gamma_2`), mlp(layerNorm(afterAttention, `${prefix}.norm2`), prefix)));
    });
  }

  const patchTokens = g.reshape(x, [-1, tokens, dim]);
  const batch = g.shape(pixels, 0, 1);
  // cls: [B, D]
  let cls = g.reshape(g.op('Expand', [weight('cls_token'), g.concat([batch, g.ints([1, 1], 'ones')], 0)]), [-1, dim]);
  for (let i = 0; i < config.depthTokenOnly; i++) {
    const prefix = `blocks_token_only.${i}`;
    cls = g.scope(prefix, () => {
      const attention = g.scope('attn', () => {
        const joined = g.concat([g.reshape(cls, [-1, 1, dim]), patchTokens], 1);
        const normed = layerNorm(joined, `${prefix}.norm1`);
        const normedClass = g.gather(normed, g.constant('int64', [], [0], 'class_index'), 1); // [B, D]
        const rows = g.reshape(normed, [-1, dim]);
        const query = g.reshape(linear(normedClass, `${prefix}.attn.q`), [-1, 1, dim]);
        const key = g.reshape(linear(rows, `${prefix}.attn.k`), [-1, tokens + 1, dim]);
        const value = g.reshape(linear(rows, `${prefix}.attn.v`), [-1, tokens + 1, dim]);
        const attended = g.multiHeadAttention(query, key, value, heads, { scale: headDim ** -0.5 });
        return linear(g.reshape(attended, [-1, dim]), `${prefix}.attn.proj`);
      });
      const afterAttention = g.add(cls, g.mul(weight(`${prefix}.gamma_1`), attention));
      return g.add(afterAttention, g.mul(weight(`${prefix}.gamma_2`), mlp(layerNorm(afterAttention, `${prefix}.norm2`), prefix)));
    });
  }

  const features = g.scope('norm', () => layerNorm(g.concat([g.reshape(cls, [-1, 1, dim]), patchTokens], 1), 'norm'));
  let preLogits: Value | undefined;
  const getPreLogits = () =>
    (preLogits ??= g.scope('head/pool', () => {
      if (config.globalPool === 'token') return g.gather(features, g.constant('int64', [], [0], 'class_index'), 1);
      if (config.globalPool === 'avg') return g.reduceMean(g.slice(features, [1], [tokens + 1], [1]), [1]);
      return features;
    }));
  const pooled = config.globalPool !== '';
  const sequence = pooled ? [] : [tokens + 1];
  const outputs: Record<HeadOutputName, () => { value: Value; shape: (number | string)[] }> = {
    features: () => ({ value: features, shape: ['batch', tokens + 1, dim] }),
    pre_logits: () => ({ value: getPreLogits(), shape: ['batch', ...sequence, dim] }),
    logits: () => {
      if (config.numClasses === 0) return { value: getPreLogits(), shape: ['batch', ...sequence, dim] };
      const value = g.scope('head', () =>
        pooled
          ? linear(getPreLogits(), 'head')
          : g.reshape(linear(g.reshape(features, [-1, dim]), 'head'), [-1, tokens + 1, config.numClasses]),
      );
      return { value, shape: ['batch', ...sequence, config.numClasses] };
    },
  };
  for (const name of options.outputs) {
    const { value, shape } = outputs[name as HeadOutputName]();
    g.output(value, name, 'float32', shape);
  }
  return toBuiltGraph(g.build());
}
