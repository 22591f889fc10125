/**
 * Inputs and float64 references for the kernel contract probes (kernel-contracts.ts): seeded
 * random tensors, and plain loop implementations of attention, layer norm, convolution, PyTorch's
 * bilinear/bicubic resampling, dynamic uint8 quantization and 4/8-bit block quantization. They share
 * no code with the graph builder or ONNX Runtime.
 */
import { createTensor, float32ToFloat16, toFloat32, type Tensor } from '@vitzoo/core';
import { gelu } from './reference.js';

// ---- deterministic inputs -------------------------------------------------------------------

/** Deterministic uniform samples in [-scale, scale) (mulberry32). */
export function uniforms(seed: number, count: number, scale = 1): Float32Array {
  let state = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = ((((t ^ (t >>> 14)) >>> 0) / 4294967296) * 2 - 1) * scale;
  }
  return out;
}

export function integers(seed: number, count: number, low: number, high: number): number[] {
  return Array.from(uniforms(seed, count), (u) => Math.min(high, low + Math.floor(((u + 1) / 2) * (high - low + 1))));
}

export const size = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);

export function float32(shape: readonly number[], seed: number, scale = 1): Tensor<'float32'> {
  return createTensor('float32', shape, uniforms(seed, size(shape), scale));
}

/** A float32 tensor rounded to float16 values, and the same values as float16. */
export function halfPair(shape: readonly number[], seed: number, scale = 1): { wide: Tensor<'float32'>; half: Tensor<'float16'> } {
  const half = Uint16Array.from(uniforms(seed, size(shape), scale), float32ToFloat16);
  const halfTensor = createTensor('float16', shape, half);
  return { wide: toFloat32(halfTensor), half: halfTensor };
}

// ---- float64 references ---------------------------------------------------------------------

/** torch.nn.GELU() (exact): the reference module's `gelu`. */
export const geluReference = gelu;

/** x [rows, k] · w [k, n] (+ bias [n]). */
export function matMulReference(x: ArrayLike<number>, w: ArrayLike<number>, rows: number, k: number, n: number, bias?: ArrayLike<number>): Float64Array {
  const out = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < n; c++) {
      let sum = bias ? bias[c]! : 0;
      for (let i = 0; i < k; i++) sum += x[r * k + i]! * w[i * n + c]!;
      out[r * n + c] = sum;
    }
  }
  return out;
}

export interface AttentionShape {
  batch: number;
  queryLength: number;
  keyLength: number;
  heads: number;
  headSize: number;
  valueHeadSize?: number;
  scale?: number;
  /** Added to q kᵀ·scale; dims [batch | 1, heads | 1, queryLength, keyLength]. */
  bias?: { values: ArrayLike<number>; dims: readonly [number, number, number, number] };
}

/** softmax(q kᵀ · scale + bias) v per head; q [B, S, N*H], k [B, T, N*H], v [B, T, N*Hv] → [B, S, N*Hv]. */
export function attentionReference(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, shape: AttentionShape): Float64Array {
  const { batch, queryLength: s, keyLength: t, heads, headSize: h } = shape;
  const hv = shape.valueHeadSize ?? h;
  const scale = shape.scale ?? 1 / Math.sqrt(h);
  const out = new Float64Array(batch * s * heads * hv);
  const scores = new Float64Array(t);
  for (let b = 0; b < batch; b++) {
    for (let n = 0; n < heads; n++) {
      for (let i = 0; i < s; i++) {
        let max = -Infinity;
        for (let j = 0; j < t; j++) {
          let dot = 0;
          for (let d = 0; d < h; d++) dot += q[(b * s + i) * heads * h + n * h + d]! * k[(b * t + j) * heads * h + n * h + d]!;
          let score = dot * scale;
          if (shape.bias) {
            const [b0, h0] = shape.bias.dims;
            score += shape.bias.values[(((b0 === 1 ? 0 : b) * h0 + (h0 === 1 ? 0 : n)) * s + i) * t + j]!;
          }
          scores[j] = score;
          if (score > max) max = score;
        }
        let total = 0;
        for (let j = 0; j < t; j++) total += scores[j] = Math.exp(scores[j]! - max);
        for (let d = 0; d < hv; d++) {
          let sum = 0;
          for (let j = 0; j < t; j++) sum += scores[j]! * v[(b * t + j) * heads * hv + n * hv + d]!;
          out[(b * s + i) * heads * hv + n * hv + d] = sum / total;
        }
      }
    }
  }
  return out;
}

/** Normalises every row of `width` values; scale/bias [width]. */
export function layerNormReference(
  x: ArrayLike<number>,
  width: number,
  scale: ArrayLike<number>,
  bias: ArrayLike<number> | undefined,
  epsilon: number,
): Float64Array {
  const out = new Float64Array(x.length);
  for (let row = 0; row < x.length / width; row++) {
    let mean = 0;
    for (let i = 0; i < width; i++) mean += x[row * width + i]!;
    mean /= width;
    let variance = 0;
    for (let i = 0; i < width; i++) variance += (x[row * width + i]! - mean) ** 2;
    variance /= width;
    const inverse = 1 / Math.sqrt(variance + epsilon);
    for (let i = 0; i < width; i++) out[row * width + i] = (x[row * width + i]! - mean) * inverse * scale[i]! + (bias ? bias[i]! : 0);
  }
  return out;
}

/** NCHW convolution with `group` groups, square stride and symmetric padding. */
export function convReference(
  x: ArrayLike<number>,
  [n, c, height, width]: readonly number[],
  w: ArrayLike<number>,
  [m, cPerGroup, kh, kw]: readonly number[],
  bias: ArrayLike<number> | undefined,
  { group, stride, pad }: { group: number; stride: number; pad: number },
): { values: Float64Array; shape: number[] } {
  const oh = Math.floor((height! + 2 * pad - kh!) / stride) + 1;
  const ow = Math.floor((width! + 2 * pad - kw!) / stride) + 1;
  const out = new Float64Array(n! * m! * oh * ow);
  const outPerGroup = m! / group;
  for (let b = 0; b < n!; b++) {
    for (let o = 0; o < m!; o++) {
      const g = Math.floor(o / outPerGroup);
      for (let y = 0; y < oh; y++) {
        for (let xx = 0; xx < ow; xx++) {
          let sum = bias ? bias[o]! : 0;
          for (let ci = 0; ci < cPerGroup!; ci++) {
            const channel = g * cPerGroup! + ci;
            for (let i = 0; i < kh!; i++) {
              for (let j = 0; j < kw!; j++) {
                const iy = y * stride - pad + i;
                const ix = xx * stride - pad + j;
                if (iy < 0 || ix < 0 || iy >= height! || ix >= width!) continue;
                sum += x[((b * c! + channel) * height! + iy) * width! + ix]! * w[((o * cPerGroup! + ci) * kh! + i) * kw! + j]!;
              }
            }
          }
          out[((b * m! + o) * oh + y) * ow + xx] = sum;
        }
      }
    }
  }
  return { values: out, shape: [n!, m!, oh, ow] };
}

/** Interpolation taps along one axis: for each output index, (input index, weight) pairs. */
export type Taps = { index: number; weight: number }[][];

/** Linear with align_corners (PyTorch `align_corners=True`, ONNX 'align_corners'). */
export function linearAlignCornersTaps(inLength: number, outLength: number): Taps {
  return Array.from({ length: outLength }, (_, o) => {
    const real = outLength > 1 ? (o * (inLength - 1)) / (outLength - 1) : 0;
    const low = Math.min(Math.floor(real), inLength - 1);
    const high = Math.min(low + 1, inLength - 1);
    const t = real - low;
    return [
      { index: low, weight: 1 - t },
      { index: high, weight: t },
    ];
  });
}

/**
 * PyTorch's bicubic (`F.interpolate(mode='bicubic', align_corners=False)`, as timm's
 * resample_abs_pos_embed uses it): half-pixel source coordinates, A = -0.75, taps clamped to the edge.
 */
export function bicubicTaps(inLength: number, outLength: number): Taps {
  const a = -0.75;
  const near = (x: number) => ((a + 2) * x - (a + 3)) * x * x + 1;
  const far = (x: number) => ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
  return Array.from({ length: outLength }, (_, o) => {
    const real = ((o + 0.5) * inLength) / outLength - 0.5;
    const base = Math.floor(real);
    const t = real - base;
    const weights = [far(t + 1), near(t), near(1 - t), far(2 - t)];
    return weights.map((weight, i) => ({ index: Math.min(Math.max(base - 1 + i, 0), inLength - 1), weight }));
  });
}

/**
 * PyTorch's antialiased bicubic (`F.interpolate(mode='bicubic', antialias=True)`, as timm's
 * resample_abs_pos_embed calls it; Pillow's algorithm): A = -0.5, the kernel stretched by the
 * downscale factor, only taps inside the input, weights normalised to sum 1.
 */
export function antialiasedBicubicTaps(inLength: number, outLength: number): Taps {
  const a = -0.5;
  const cubic = (value: number) => {
    const x = Math.abs(value);
    if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
    if (x < 2) return ((a * x - 5 * a) * x + 8 * a) * x - 4 * a;
    return 0;
  };
  const scale = inLength / outLength;
  const stretch = Math.max(scale, 1);
  const support = 2 * stretch;
  return Array.from({ length: outLength }, (_, o) => {
    const center = (o + 0.5) * scale;
    const first = Math.max(Math.trunc(center - support + 0.5), 0);
    const end = Math.min(Math.trunc(center + support + 0.5), inLength);
    const taps = Array.from({ length: end - first }, (_, i) => ({ index: first + i, weight: cubic((first + i - center + 0.5) / stretch) }));
    const total = taps.reduce((sum, tap) => sum + tap.weight, 0);
    return taps.map((tap) => ({ index: tap.index, weight: tap.weight / total }));
  });
}

/** Separable resampling of NCHW planes. */
export function resampleReference(x: ArrayLike<number>, [n, c, h, w]: readonly number[], rows: Taps, columns: Taps): Float64Array {
  const oh = rows.length;
  const ow = columns.length;
  const out = new Float64Array(n! * c! * oh * ow);
  for (let plane = 0; plane < n! * c!; plane++) {
    for (let y = 0; y < oh; y++) {
      for (let xx = 0; xx < ow; xx++) {
        let sum = 0;
        for (const row of rows[y]!) for (const column of columns[xx]!) sum += row.weight * column.weight * x[(plane * h! + row.index) * w! + column.index]!;
        out[(plane * oh + y) * ow + xx] = sum;
      }
    }
  }
  return out;
}

/** Round half to even, as ONNX Runtime's quantizers do. */
export function roundEven(x: number): number {
  const floor = Math.floor(x);
  const diff = x - floor;
  if (diff > 0.5) return floor + 1;
  if (diff < 0.5) return floor;
  return floor % 2 === 0 ? floor : floor + 1;
}

/** DynamicQuantizeLinear in float32 arithmetic: uint8 values, scale, zero point. */
export function dynamicQuantizeReference(x: Float32Array): { values: Uint8Array; scale: number; zeroPoint: number } {
  let min = 0;
  let max = 0;
  for (const value of x) {
    if (value < min) min = value;
    if (value > max) max = value;
  }
  const scale = Math.fround((max - min) / 255);
  const zeroPoint = Math.min(255, Math.max(0, roundEven(Math.fround(0 - min / scale))));
  const values = Uint8Array.from(x, (value) => Math.min(255, Math.max(0, roundEven(Math.fround(value / scale)) + zeroPoint)));
  return { values, scale, zeroPoint };
}

/** (qa - aZero) · (qb - bZero[col]) · aScale · bScale[col] (+ bias); qb [k, n]; per-tensor when arrays have one value. */
export function quantizedMatMulReference(
  qa: ArrayLike<number>,
  aZero: number,
  aScale: number,
  qb: ArrayLike<number>,
  bZero: ArrayLike<number>,
  bScale: ArrayLike<number>,
  rows: number,
  k: number,
  n: number,
  bias?: ArrayLike<number>,
): Float64Array {
  const out = new Float64Array(rows * n);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < n; c++) {
      const zero = bZero.length === 1 ? bZero[0]! : bZero[c]!;
      const scale = bScale.length === 1 ? bScale[0]! : bScale[c]!;
      let sum = 0;
      for (let i = 0; i < k; i++) sum += (qa[r * k + i]! - aZero) * (qb[i * n + c]! - zero);
      out[r * n + c] = sum * aScale * scale + (bias ? bias[c]! : 0);
    }
  }
  return out;
}

/**
 * MatMulNBits weights: random `bits`-bit values for a [K, N] matrix quantized per column in blocks
 * of `blockSize` along K; packed as the kernel wants them (B [N, blocks, blockSize*bits/8], scales
 * [N*blocks], optional packed uint8 zero points) and dequantized as [K, N] for the reference.
 */
export function blockQuantizedWeights(k: number, n: number, blockSize: number, bits: 4 | 8, withZeroPoints: boolean, seed: number) {
  const blocks = Math.ceil(k / blockSize);
  const blob = (blockSize * bits) / 8;
  const levels = 2 ** bits;
  const quantized = integers(seed, n * blocks * blockSize, 0, levels - 1);
  const scales = Float32Array.from(uniforms(seed + 1, n * blocks, 0.02), (s) => Math.abs(s) + 0.005);
  const zeros = withZeroPoints ? integers(seed + 2, n * blocks, 0, levels - 1) : undefined;
  const packed = new Uint8Array(n * blocks * blob);
  const dequantized = new Float64Array(k * n);
  for (let col = 0; col < n; col++) {
    for (let block = 0; block < blocks; block++) {
      const zero = zeros ? zeros[col * blocks + block]! : levels / 2;
      for (let j = 0; j < blockSize; j++) {
        const index = block * blockSize + j;
        // Values past K are padding; the kernel ignores them.
        const value = index < k ? quantized[(col * blocks + block) * blockSize + j]! : 0;
        const byte = (col * blocks + block) * blob + (bits === 4 ? j >> 1 : j);
        packed[byte]! |= bits === 4 ? value << ((j & 1) * 4) : value;
        if (index < k) dequantized[index * n + col] = (value - zero) * scales[col * blocks + block]!;
      }
    }
  }
  let zeroPoints: Uint8Array | undefined;
  if (zeros) {
    const perColumn = bits === 4 ? Math.ceil(blocks / 2) : blocks;
    zeroPoints = new Uint8Array(n * perColumn);
    for (let col = 0; col < n; col++) {
      for (let block = 0; block < blocks; block++) {
        const zero = zeros[col * blocks + block]!;
        if (bits === 4) zeroPoints[col * perColumn + (block >> 1)]! |= zero << ((block & 1) * 4);
        else zeroPoints[col * perColumn + block] = zero;
      }
    }
  }
  return { packed, blocks, blob, scales, zeroPoints, dequantized };
}
