import type { Value } from '../builder.js';
import type { GraphLayers, Shape } from './graph-layers.js';

export interface AttentionSpec {
  /** Reference module path (e.g. `blocks.0.attn`): its probabilities are the output `attention.<module>`. */
  module: string;
  heads: number;
  /** Width of one head of q and k. */
  headDim: number;
  /** Width of one head of v (default: headDim). */
  valueHeadDim?: number;
  /** Multiplies q before q·kᵀ (timm: head_dim ** -0.5 or qk_scale). */
  scale: number;
  /**
   * Added to the scores before the softmax, at the full shape [batch', heads, queries, keys] (the
   * only shape every execution provider's MultiHeadAttention accepts, see KERNELS.md).
   */
  bias?: Value;
  /** How the probabilities output is declared: [batch', heads, queries, keys]. */
  shape: { batch: number | string; queries: number | string; keys: number | string };
  /** Build the probabilities even when they are not an output (e.g. for rollout). */
  probabilities?: boolean;
}

export interface AttentionResult {
  /** Heads concatenated: [batch', queries, heads * valueHeadDim]. */
  output: Value;
  /** Post-softmax probabilities [batch', heads, queries, keys], when built. */
  probabilities?: Value;
}

/** [batch', seq, heads * width] → [batch', heads, seq, width] (or [batch', heads, width, seq] with `transposed`). */
export function splitHeads(layers: GraphLayers, x: Value, heads: number, width: number, transposed = false): Value {
  const { g } = layers;
  return g.transpose(g.reshape(x, [0, 0, heads, width]), transposed ? [0, 2, 3, 1] : [0, 2, 1, 3]);
}

/** [batch', heads, seq, width] → [batch', seq, heads * width]. */
export function mergeHeads(layers: GraphLayers, x: Value, heads: number, width: number): Value {
  const { g } = layers;
  return g.reshape(g.transpose(x, [0, 2, 1, 3]), [0, 0, heads * width]);
}

/** softmax(q·scale · kᵀ + bias) over keys, as plain operators: [batch', heads, queries, keys]. */
export function attentionProbabilities(layers: GraphLayers, q: Value, k: Value, spec: Pick<AttentionSpec, 'heads' | 'headDim' | 'scale' | 'bias'>): Value {
  const { g } = layers;
  const query = g.mul(splitHeads(layers, q, spec.heads, spec.headDim), g.scalar(spec.scale, 'scale'));
  let scores = g.matMul(query, splitHeads(layers, k, spec.heads, spec.headDim, true));
  if (spec.bias) scores = g.add(scores, spec.bias);
  return g.softmax(scores, -1);
}

/** probabilities [batch', heads, queries, keys] · v → [batch', queries, heads * valueHeadDim]. */
export function applyAttention(layers: GraphLayers, probabilities: Value, v: Value, heads: number, valueHeadDim: number): Value {
  return mergeHeads(layers, layers.g.matMul(probabilities, splitHeads(layers, v, heads, valueHeadDim)), heads, valueHeadDim);
}

/**
 * Multi-head attention of q [batch', queries, heads·d], k [batch', keys, heads·d],
 * v [batch', keys, heads·dv]. ONNX Runtime's fused MultiHeadAttention unless the probabilities
 * are wanted (as the output `attention.<module>` or for rollout): then plain MatMul / Softmax,
 * computing them exactly as the reference does.
 */
export function attention(layers: GraphLayers, q: Value, k: Value, v: Value, spec: AttentionSpec): AttentionResult {
  const name = `attention.${spec.module}`;
  const valueHeadDim = spec.valueHeadDim ?? spec.headDim;
  return layers.module(spec.module, () => {
    if (!layers.wants(name) && !spec.probabilities) return { output: fusedAttention(layers, q, k, v, spec) };
    const probabilities = attentionProbabilities(layers, q, k, spec);
    layers.produce(name, probabilities, attentionShape(spec));
    return { output: applyAttention(layers, probabilities, v, spec.heads, valueHeadDim), probabilities };
  });
}

/**
 * ONNX Runtime's MultiHeadAttention. Its `scale` attribute reaches WebGPU's kernel truncated to an
 * integer (KERNELS.md rule 2), so it is never a fraction: the default 1/√head_dim is left to the
 * kernel, and any other scale (e.g. CSWin's qk_scale) multiplies q, with `scale = 1`.
 */
function fusedAttention(layers: GraphLayers, q: Value, k: Value, v: Value, spec: AttentionSpec): Value {
  const { g } = layers;
  const bias = spec.bias ? { attentionBias: spec.bias } : {};
  if (spec.scale === spec.headDim ** -0.5) return g.multiHeadAttention(q, k, v, spec.heads, bias);
  return g.multiHeadAttention(g.mul(q, g.scalar(spec.scale, 'scale')), k, v, spec.heads, { scale: 1, ...bias });
}

export function attentionShape(spec: Pick<AttentionSpec, 'heads' | 'shape'>): Shape {
  return [spec.shape.batch, spec.heads, spec.shape.queries, spec.shape.keys];
}

export interface QkvAttentionSpec {
  heads: number;
  /** Model width (q, k and v are each this wide). */
  dim: number;
  /** Per-head LayerNorm of q and k (timm qk_norm) with this epsilon. */
  qkNormEps?: number;
  /** Only the first `queryTokens` tokens attend (their keys and values still cover every token). */
  queryTokens?: number;
  scale?: number;
  shape: { batch: number | string; tokens: number | string };
  probabilities?: boolean;
}

/**
 * timm's `Attention` module before `proj` on tokens [B, N, dim]: the `{prefix}.qkv` Linear split into
 * q, k, v (q first), optional per-head q/k LayerNorm, attention. In fp32/fp16 graphs with nothing
 * special asked for it is ONNX Runtime's `Attention` kernel (projection, split and attention in one
 * node; its CPU kernel requires the bias input, so a checkpoint without `qkv.bias` gets zeros).
 */
export function qkvAttention(layers: GraphLayers, x: Value, prefix: string, spec: QkvAttentionSpec): AttentionResult {
  const { g } = layers;
  const headDim = spec.dim / spec.heads;
  const scale = spec.scale ?? headDim ** -0.5;
  const module = prefix;
  const packed =
    (layers.dtype === 'fp32' || layers.dtype === 'fp16') &&
    spec.qkNormEps === undefined &&
    spec.queryTokens === undefined &&
    !spec.probabilities &&
    !layers.wants(`attention.${module}`) &&
    spec.scale === undefined;
  if (packed) {
    return layers.module(module, () => {
      const weight = layers.transposedWeight(`${prefix}.qkv.weight`);
      const bias = layers.has(`${prefix}.qkv.bias`)
        ? layers.weight(`${prefix}.qkv.bias`)
        : layers.constant([3 * spec.dim], new Float32Array(3 * spec.dim), 'qkv_zero_bias');
      return { output: g.op('Attention', [x, weight, bias], { num_heads: spec.heads }, { domain: 'com.microsoft' }) };
    });
  }
  const qkv = layers.linear(x, `${prefix}.qkv`);
  let [q, k, v] = layers.module(module, () => g.opMulti('Split', [qkv, g.ints([spec.dim, spec.dim, spec.dim], 'split')], { axis: -1 }, { outputs: 3 })) as [Value, Value, Value];
  if (spec.qkNormEps !== undefined) {
    const eps = spec.qkNormEps;
    const perHead = (value: Value, name: string) => g.reshape(layers.layerNorm(g.reshape(value, [0, 0, spec.heads, headDim]), `${prefix}.${name}`, eps), [0, 0, spec.dim]);
    q = perHead(q, 'q_norm');
    k = perHead(k, 'k_norm');
  }
  if (spec.queryTokens !== undefined) q = layers.module(module, () => g.slice(q, [0], [spec.queryTokens!], [1]));
  return attention(layers, q, k, v, {
    module,
    heads: spec.heads,
    headDim,
    scale,
    shape: { batch: spec.shape.batch, queries: spec.queryTokens ?? spec.shape.tokens, keys: spec.shape.tokens },
    ...(spec.probabilities ? { probabilities: true } : {}),
  });
}
