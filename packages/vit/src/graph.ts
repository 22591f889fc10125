import { toFloat32, type BuiltGraph, type GraphBuildOptions, type OutputName, type StateDict, type Tensor } from '@vitzoo/core';
import { attr, GraphBuilder, toBuiltGraph, type Value } from '@vitzoo/onnx';
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

  /**
   * PyTorch Linear on [..., in]: MatMul with the weight stored transposed ([in, out], the layout
   * ONNX Runtime's MatMul kernels are fastest with; transposed lazily while the model is written),
   * then the bias Add (which ONNX Runtime fuses with the MatMul or a following GELU).
   */
  /** A [out, in] Linear weight as an [in, out] initializer (same name), transposed while the model is written. */
  transposedWeight(key: string): Value {
    const weight = this.tensor(key);
    const [out, inner] = weight.shape as [number, number];
    return this.g.derivedWeight(key, 'float32', [inner, out], () => transpose2d(toFloat32(weight).data, out, inner));
  }

  linear(x: Value, prefix: string, options: { bias?: boolean } = {}): Value {
    return this.g.scope(prefix, () => {
      const product = this.g.matMul(x, this.transposedWeight(`${prefix}.weight`));
      const bias = options.bias === false ? null : this.optionalWeight(`${prefix}.bias`);
      return bias ? this.g.add(product, bias) : product;
    });
  }

  /**
   * residual + gamma * (branch + bias), then the LayerNorm `normPrefix` of the sum (when given).
   * Without LayerScale and with fusion on, this is one SkipLayerNormalization (com.microsoft),
   * which also returns the sum for the next residual.
   */
  residualNorm(
    residual: Value,
    branch: Value,
    biasKey: string,
    gammaKey: string,
    normPrefix: string | null,
    epsilon: number,
    fused: boolean,
  ): { residual: Value; normed: Value | null } {
    const bias = this.optionalWeight(biasKey);
    if (fused && normPrefix !== null && !this.weights[gammaKey]) {
      const [normed, , , sum] = this.g.scope(normPrefix, () =>
        this.g.opMulti(
          'SkipLayerNormalization',
          [branch, residual, this.weight(`${normPrefix}.weight`), this.optionalWeight(`${normPrefix}.bias`), bias],
          { epsilon: attr.float(epsilon) },
          { domain: 'com.microsoft', outputs: 4, omitOutputs: [1, 2] },
        ),
      ) as [Value, Value, Value, Value];
      return { residual: sum, normed };
    }
    const sum = this.g.add(residual, this.layerScale(bias ? this.g.add(branch, bias) : branch, gammaKey));
    return { residual: sum, normed: normPrefix === null ? null : this.layerNorm(sum, normPrefix, epsilon) };
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

/** [rows, cols] → [cols, rows], in cache-friendly blocks. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  const block = 32;
  for (let r0 = 0; r0 < rows; r0 += block) {
    const r1 = Math.min(r0 + block, rows);
    for (let c0 = 0; c0 < cols; c0 += block) {
      const c1 = Math.min(c0 + block, cols);
      for (let r = r0; r < r1; r++) {
        const rowOffset = r * cols;
        for (let c = c0; c < c1; c++) out[c * rows + r] = data[rowOffset + c]!;
      }
    }
  }
  return out;
}

export type AttentionKernel = 'fused' | 'unfused';

/**
 * softmax(q kᵀ · scale) v over q, k, v [batch, seq, heads*headDim] (heads in channel order), heads
 * concatenated back to [batch, seq, dim]. 'fused' uses ONNX Runtime's MultiHeadAttention kernel;
 * 'unfused' spells it with MatMul/Softmax (any runtime).
 */
export function scaledDotProductAttention(
  g: GraphBuilder,
  q: Value,
  k: Value,
  v: Value,
  shape: { seq: number; dim: number; heads: number; querySeq?: number },
  kernel: AttentionKernel,
): Value {
  const headDim = shape.dim / shape.heads;
  const querySeq = shape.querySeq ?? shape.seq;
  if (kernel === 'fused') return g.multiHeadAttention(q, k, v, shape.heads);
  const split = (value: Value, length: number) => g.transpose(g.reshape(value, [-1, length, shape.heads, headDim]), [0, 2, 1, 3]);
  const scaled = g.mul(split(q, querySeq), g.scalar(headDim ** -0.5, 'scale'));
  const keys = g.transpose(g.reshape(k, [-1, shape.seq, shape.heads, headDim]), [0, 2, 3, 1]);
  const weights = g.softmax(g.matMul(scaled, keys), -1);
  const attended = g.matMul(weights, split(v, shape.seq));
  return g.reshape(g.transpose(attended, [0, 2, 1, 3]), [-1, querySeq, shape.dim]);
}

/**
 * timm's ViT attention on tokens [batch, seq, dim]: one qkv projection split into q, k, v,
 * optional per-head q/k LayerNorm, attention. Returns the heads concatenated, before `proj`.
 * With `queryTokens`, only that many leading tokens attend (keys and values still cover all).
 */
export function vitAttention(
  layers: TransformerLayers,
  x: Value,
  prefix: string,
  shape: { seq: number; dim: number; heads: number; qkNorm: boolean; eps: number; kernel: AttentionKernel | 'packed'; queryTokens?: number },
): Value {
  const { g } = layers;
  return g.scope(prefix, () => {
    if (shape.kernel === 'packed' && !shape.qkNorm && shape.queryTokens === undefined) {
      // ONNX Runtime's Attention kernel: qkv projection (+ bias), split and attention in one node.
      return g.op('Attention', [x, layers.transposedWeight(`${prefix}.qkv.weight`), layers.optionalWeight(`${prefix}.qkv.bias`)], { num_heads: shape.heads }, { domain: 'com.microsoft' });
    }
    const qkv = layers.linear(x, `${prefix}.qkv`);
    let [q, k, v] = g.opMulti('Split', [qkv, g.ints([shape.dim, shape.dim, shape.dim], 'split')], { axis: 2 }, { outputs: 3 }) as [Value, Value, Value];
    if (shape.qkNorm) {
      const headDim = shape.dim / shape.heads;
      const perHead = (value: Value, name: string) =>
        g.reshape(layers.layerNorm(g.reshape(value, [-1, shape.seq, shape.heads, headDim]), `${prefix}.${name}`, shape.eps), [-1, shape.seq, shape.dim]);
      q = perHead(q, 'q_norm');
      k = perHead(k, 'k_norm');
    }
    // Only the first `queryTokens` tokens' outputs are needed (the last block when only pooled outputs are asked for).
    if (shape.queryTokens !== undefined) q = g.slice(q, [0], [shape.queryTokens], [1]);
    return scaledDotProductAttention(g, q, k, v, { ...shape, querySeq: shape.queryTokens }, shape.kernel === 'unfused' ? 'unfused' : 'fused');
  });
}

/** Expands a [1, n, dim] token parameter to [batch, n, dim] following `like`'s batch size. */
export function expandToBatch(g: GraphBuilder, token: Value, like: Value, rest: readonly number[]): Value {
  const batch = g.shape(like, 0, 1);
  return g.op('Expand', [token, g.concat([batch, g.ints(rest, 'rest')], 0)]);
}

export const VISION_TRANSFORMER_BUILDER_VERSION = '2';

/** Kernel choices (tuning knobs; the defaults are the fastest measured on ONNX Runtime's CPU provider). */
export interface VisionTransformerKernels {
  /** 'packed': ONNX Runtime's Attention (qkv projection fused); 'fused': MultiHeadAttention; 'unfused': plain ops. */
  attentionKernel?: AttentionKernel | 'packed';
  /** Residual + LayerNorm as com.microsoft SkipLayerNormalization (slower on ONNX Runtime 1.30's CPU provider). */
  skipLayerNorm?: boolean;
  /** Compute only the pooled tokens in the last block when `features` is not requested (default true). */
  pruneLastBlock?: boolean;
}

export function buildVisionTransformerGraph(
  architectureId: string,
  config: VisionTransformerConfig,
  weights: StateDict,
  options: Required<Pick<GraphBuildOptions, 'outputs'>> & GraphBuildOptions & VisionTransformerKernels,
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

  if (config.preNorm) tokens = layers.layerNorm(tokens, 'norm_pre', eps);
  const kernel = options.attentionKernel ?? 'packed';
  const fused = options.skipLayerNorm ?? false;
  // When only pooled outputs of prefix tokens are asked for, the last block computes only those
  // tokens past its keys and values: the same numbers with ~1/depth less work.
  const pooledTokens = config.distilled ? 2 : config.globalPool === 'token' ? 1 : null;
  const prune = pooledTokens !== null && !options.outputs.includes('features') && (options.pruneLastBlock ?? true);
  const finalNormKey = config.finalNorm && !config.fcNorm ? 'norm' : null;
  let normed: Value | null = config.depth > 0 ? layers.layerNorm(tokens, 'blocks.0.norm1', eps) : null;
  for (let i = 0; i < config.depth; i++) {
    const b = `blocks.${i}`;
    g.scope(b, () => {
      const last = prune && i === config.depth - 1;
      const attended = vitAttention(layers, normed!, `${b}.attn`, {
        seq,
        dim,
        heads: config.numHeads,
        qkNorm: config.qkNorm,
        eps,
        kernel,
        ...(last ? { queryTokens: pooledTokens! } : {}),
      });
      const projected = layers.linear(attended, `${b}.attn.proj`, { bias: false });
      const residual = last ? g.slice(tokens, [0], [pooledTokens!], [1]) : tokens;
      const afterAttention = layers.residualNorm(residual, projected, `${b}.attn.proj.bias`, `${b}.ls1.gamma`, `${b}.norm2`, eps, fused);
      const hidden = g.gelu(layers.linear(afterAttention.normed!, `${b}.mlp.fc1`));
      const mlp = layers.linear(hidden, `${b}.mlp.fc2`, { bias: false });
      const nextNorm = i + 1 < config.depth ? `blocks.${i + 1}.norm1` : finalNormKey;
      const afterMlp = layers.residualNorm(afterAttention.residual, mlp, `${b}.mlp.fc2.bias`, `${b}.ls2.gamma`, nextNorm, eps, fused);
      tokens = afterMlp.residual;
      normed = afterMlp.normed;
    });
  }
  if (finalNormKey !== null) tokens = config.depth > 0 ? normed! : layers.layerNorm(tokens, finalNormKey, eps);
  const features = tokens;

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
        results.logits = { value: layers.linear(pooled, 'head'), shape: ['batch', seq, config.numClasses] };
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
