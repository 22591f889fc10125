import type { BuiltGraph, GraphBuildOptions, OutputName, StateDict, Tensor } from '@vitzoo/core';
import { GraphBuilder, toBuiltGraph, type Value } from '@vitzoo/onnx';
import { sequenceLength, type VisionTransformerConfig } from './config.js';

/** Layers shared by the ViT family (and reused by other architectures' blocks). */
export class TransformerLayers {
  constructor(
    readonly g: GraphBuilder,
    private readonly weights: StateDict,
  ) {}

  tensor(key: string): Tensor {
    const tensor = this.weights[key];
    if (!tensor) throw new Error(`internal: weight '${key}' was validated but is missing`);
    return tensor;
  }

  weight(key: string): Value {
    return this.g.weight(key, this.tensor(key));
  }

  optionalWeight(key: string): Value | null {
    return this.weights[key] ? this.g.weight(key, this.weights[key]) : null;
  }

  /** PyTorch Linear on a 2-D [rows, in] value: Gemm with the [out, in] weight as stored. */
  linear(x: Value, prefix: string): Value {
    return this.g.scope(prefix, () => this.g.gemmTransB(x, this.weight(`${prefix}.weight`), this.optionalWeight(`${prefix}.bias`)));
  }

  layerNorm(x: Value, prefix: string, epsilon: number): Value {
    return this.g.scope(prefix, () => this.g.layerNormalization(x, this.weight(`${prefix}.weight`), this.optionalWeight(`${prefix}.bias`), epsilon));
  }

  /** Multiplies by a LayerScale `gamma` when the checkpoint has one. */
  layerScale(x: Value, key: string): Value {
    const gamma = this.optionalWeight(key);
    return gamma ? this.g.mul(x, gamma) : x;
  }

  /** fc1 → exact GELU → fc2 on 2-D tokens. */
  mlp(x: Value, prefix: string): Value {
    return this.g.scope(prefix, () => this.linear(this.g.gelu(this.linear(x, `${prefix}.fc1`)), `${prefix}.fc2`));
  }
}

/**
 * timm's ViT attention on 2-D tokens [batch*seq, dim]: one qkv Gemm, split into q, k, v (each
 * [batch, seq, dim], heads in channel order), optional per-head q/k LayerNorm, fused
 * MultiHeadAttention (softmax(q kᵀ · head_dim^-0.5) v), output projection.
 */
export function vitAttention(
  layers: TransformerLayers,
  x: Value,
  prefix: string,
  shape: { seq: number; dim: number; heads: number; qkNorm: boolean; eps: number },
): Value {
  const { g } = layers;
  return g.scope(prefix, () => {
    const qkv = layers.linear(x, `${prefix}.qkv`);
    let [q, k, v] = g.opMulti('Split', [qkv, g.ints([shape.dim, shape.dim, shape.dim], 'split')], { axis: 1 }, { outputs: 3 }) as [Value, Value, Value];
    if (shape.qkNorm) {
      const headDim = shape.dim / shape.heads;
      const perHead = (value: Value, name: string) =>
        g.reshape(layers.layerNorm(g.reshape(value, [-1, headDim]), `${prefix}.${name}`, shape.eps), [-1, shape.dim]);
      q = perHead(q, 'q_norm');
      k = perHead(k, 'k_norm');
    }
    const to3d = (value: Value) => g.reshape(value, [-1, shape.seq, shape.dim]);
    const attended = g.multiHeadAttention(to3d(q), to3d(k), to3d(v), shape.heads);
    return layers.linear(g.reshape(attended, [-1, shape.dim]), `${prefix}.proj`);
  });
}

/** Expands a [1, n, dim] token parameter to [batch, n, dim] following `like`'s batch size. */
export function expandToBatch(g: GraphBuilder, token: Value, like: Value, rest: readonly number[]): Value {
  const batch = g.shape(like, 0, 1);
  return g.op('Expand', [token, g.concat([batch, g.ints(rest, 'rest')], 0)]);
}

export const VISION_TRANSFORMER_BUILDER_VERSION = '1';

export function buildVisionTransformerGraph(
  architectureId: string,
  config: VisionTransformerConfig,
  weights: StateDict,
  options: Required<Pick<GraphBuildOptions, 'outputs'>> & GraphBuildOptions,
): BuiltGraph {
  const g = new GraphBuilder({
    graphName: options.graphName ?? architectureId,
    metadata: { 'vitzoo.architecture': architectureId, 'vitzoo.builder_version': VISION_TRANSFORMER_BUILDER_VERSION },
  });
  const layers = new TransformerLayers(g, weights);
  const { embedDim: dim, layerNormEps: eps } = config;
  const seq = sequenceLength(config);
  const pixels = g.input('pixel_values', 'float32', ['batch', config.inChans, config.imgSize[0], config.imgSize[1]]);

  // Patch embedding: Conv(stride = patch) → [B, dim, gh, gw] → tokens [B, patches, dim] (row-major).
  const patches = g.scope('patch_embed', () => {
    const conv = g.conv(pixels, layers.weight('patch_embed.proj.weight'), layers.optionalWeight('patch_embed.proj.bias'), {
      kernelShape: config.patchSize,
      strides: config.patchSize,
    });
    return g.transpose(g.reshape(conv, [0, dim, config.numPatches]), [0, 2, 1]);
  });

  // Prefix tokens and position embedding (timm's _pos_embed).
  let tokens = g.scope('pos_embed', () => {
    const prefixKeys = [config.classToken ? 'cls_token' : null, config.distilled ? 'dist_token' : null, config.regTokens > 0 ? 'reg_token' : null].filter(
      (key): key is string => key !== null,
    );
    const prefix = prefixKeys.map((key) => expandToBatch(g, layers.weight(key), patches, [key === 'reg_token' ? config.regTokens : 1, dim]));
    const position = config.posEmbed === 'learn' ? layers.weight('pos_embed') : null;
    if (config.noEmbedClass) {
      const placed = position ? g.add(patches, position) : patches;
      return prefix.length > 0 ? g.concat([...prefix, placed], 1) : placed;
    }
    const sequence = prefix.length > 0 ? g.concat([...prefix, patches], 1) : patches;
    return position ? g.add(sequence, position) : sequence;
  });

  // The residual stream is kept 2-D [batch*seq, dim] so every Linear is one Gemm.
  tokens = g.reshape(tokens, [-1, dim]);
  if (config.preNorm) tokens = layers.layerNorm(tokens, 'norm_pre', eps);
  for (let i = 0; i < config.depth; i++) {
    const b = `blocks.${i}`;
    tokens = g.scope(b, () => {
      const attention = vitAttention(layers, layers.layerNorm(tokens, `${b}.norm1`, eps), `${b}.attn`, {
        seq,
        dim,
        heads: config.numHeads,
        qkNorm: config.qkNorm,
        eps,
      });
      const afterAttention = g.add(tokens, layers.layerScale(attention, `${b}.ls1.gamma`));
      const mlp = layers.mlp(layers.layerNorm(afterAttention, `${b}.norm2`, eps), `${b}.mlp`);
      return g.add(afterAttention, layers.layerScale(mlp, `${b}.ls2.gamma`));
    });
  }
  if (config.finalNorm && !config.fcNorm) tokens = layers.layerNorm(tokens, 'norm', eps);
  const features = g.reshape(tokens, [-1, seq, dim]);

  const wants = new Set<OutputName>(options.outputs);
  const results: Partial<Record<OutputName, { value: Value; shape: (number | string)[] }>> = {};
  if (wants.has('features')) results.features = { value: features, shape: ['batch', seq, dim] };

  if (wants.has('logits') || wants.has('pre_logits')) {
    g.scope('head', () => {
      const token = (index: number) => g.gather(features, g.constant('int64', [], BigInt64Array.of(BigInt(index)), 'index'), 1);
      if (config.distilled) {
        const cls = token(0);
        const dist = token(1);
        const half = g.scalar(0.5, 'half');
        results.pre_logits = { value: g.mul(g.add(cls, dist), half), shape: ['batch', dim] };
        if (config.numClasses > 0) {
          const logits = g.mul(g.add(layers.linear(cls, 'head'), layers.linear(dist, 'head_dist')), half);
          results.logits = { value: logits, shape: ['batch', config.numClasses] };
        } else {
          results.logits = results.pre_logits;
        }
        return;
      }
      let pooled: Value;
      let pooledShape: (number | string)[] = ['batch', dim];
      const patchTokens = () => g.slice(features, [config.numPrefixTokens], [seq], [1]);
      switch (config.globalPool) {
        case 'token':
          pooled = token(0);
          break;
        case 'avg':
          pooled = g.reduceMean(patchTokens(), [1]);
          break;
        case 'max':
          pooled = g.op('ReduceMax', [patchTokens()], { axes: [1], keepdims: 0 });
          break;
        case 'avgmax': {
          const patch = patchTokens();
          const sum = g.add(g.reduceMean(patch, [1]), g.op('ReduceMax', [patch], { axes: [1], keepdims: 0 }));
          pooled = g.mul(sum, g.scalar(0.5, 'half'));
          break;
        }
        case '':
          pooled = features;
          pooledShape = ['batch', seq, dim];
          break;
      }
      if (config.fcNorm) pooled = layers.layerNorm(pooled, 'fc_norm', eps);
      results.pre_logits = { value: pooled, shape: pooledShape };
      if (config.numClasses === 0) {
        results.logits = results.pre_logits;
      } else if (config.globalPool === '') {
        const flat = layers.linear(g.reshape(pooled, [-1, dim]), 'head');
        results.logits = { value: g.reshape(flat, [-1, seq, config.numClasses]), shape: ['batch', seq, config.numClasses] };
      } else {
        results.logits = { value: layers.linear(pooled, 'head'), shape: ['batch', config.numClasses] };
      }
    });
  }
  for (const name of options.outputs) {
    const result = results[name]!;
    g.output(result.value, name, 'float32', result.shape);
  }
  return toBuiltGraph(g.build());
}
