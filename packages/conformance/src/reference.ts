/**
 * @vitzoo/conformance/reference: float64 building blocks for independent reference implementations
 * of the architectures (loop transcriptions of the PyTorch reference, used by the configuration
 * sweeps). Written from the operators' definitions, sharing no code with the graph builders.
 */
import { toFloat32, type StateDict, type Tensor } from '@vitzoo/core';

/** A float64 array with its shape (row-major). */
export interface Array64 {
  shape: number[];
  data: Float64Array;
}

export function array64(shape: readonly number[], data?: ArrayLike<number>): Array64 {
  const size = shape.reduce((a, b) => a * b, 1);
  const out = new Float64Array(size);
  if (data) {
    if (data.length !== size) throw new RangeError(`${data.length} values for shape [${shape.join(', ')}]`);
    out.set(data);
  }
  return { shape: [...shape], data: out };
}

/** A checkpoint tensor (any float dtype) as float64. */
export function fromTensor(tensor: Tensor): Array64 {
  return array64(tensor.shape, toFloat32(tensor).data);
}

/** Weights of a state dict by key, as float64 (see `weightReader`). */
export interface WeightReader {
  read(key: string): Float64Array;
  /** undefined for a missing key. */
  optional(key: string): Float64Array | undefined;
  has(key: string): boolean;
}

/** Weights of a state dict by key, as float64; `optional` gives undefined for a missing key. */
export function weightReader(weights: StateDict): WeightReader {
  const cache = new Map<string, Float64Array>();
  const read = (key: string): Float64Array => {
    let value = cache.get(key);
    if (!value) {
      const tensor = weights[key];
      if (!tensor) throw new Error(`reference: weight '${key}' missing`);
      value = Float64Array.from(toFloat32(tensor).data);
      cache.set(key, value);
    }
    return value;
  };
  return { read, optional: (key: string) => (weights[key] ? read(key) : undefined), has: (key: string) => weights[key] !== undefined };
}

/** erf to double precision: Taylor series near 0, continued fraction for erfc beyond. */
export function erf(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  if (a < 2.5) {
    let term = a;
    let sum = a;
    for (let n = 1; n < 80; n++) {
      term *= (-a * a) / n;
      sum += term / (2 * n + 1);
    }
    return (sign * 2 * sum) / Math.sqrt(Math.PI);
  }
  let fraction = 0;
  for (let k = 60; k >= 1; k--) fraction = k / 2 / (a + fraction);
  return sign * (1 - Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + fraction));
}

/** torch.nn.GELU() (exact, erf form). */
export const gelu = (x: number): number => 0.5 * x * (1 + erf(x / Math.SQRT2));

/** y = x Wᵀ + b for every row of x ([rows, in] → [rows, out]); W is PyTorch's [out, in]. */
export function linear(x: Array64, weight: Float64Array, bias: Float64Array | undefined, outFeatures: number): Array64 {
  const inFeatures = x.shape[x.shape.length - 1]!;
  const rows = x.data.length / inFeatures;
  const out = array64([...x.shape.slice(0, -1), outFeatures]);
  for (let r = 0; r < rows; r++) {
    for (let o = 0; o < outFeatures; o++) {
      let sum = bias ? bias[o]! : 0;
      for (let i = 0; i < inFeatures; i++) sum += weight[o * inFeatures + i]! * x.data[r * inFeatures + i]!;
      out.data[r * outFeatures + o] = sum;
    }
  }
  return out;
}

/** LayerNorm over the last axis (biased variance, as PyTorch). */
export function layerNorm(x: Array64, weight: Float64Array, bias: Float64Array | undefined, eps: number): Array64 {
  const n = x.shape[x.shape.length - 1]!;
  const out = array64(x.shape);
  for (let r = 0; r < x.data.length / n; r++) {
    let mean = 0;
    for (let i = 0; i < n; i++) mean += x.data[r * n + i]!;
    mean /= n;
    let variance = 0;
    for (let i = 0; i < n; i++) variance += (x.data[r * n + i]! - mean) ** 2;
    variance /= n;
    const inverse = 1 / Math.sqrt(variance + eps);
    for (let i = 0; i < n; i++) out.data[r * n + i] = (x.data[r * n + i]! - mean) * inverse * weight[i]! + (bias ? bias[i]! : 0);
  }
  return out;
}

/** timm's Mlp `{prefix}.fc1` → exact GELU → `{prefix}.fc2` on the rows of x ([rows, C] → [rows, C]). */
export function mlp(x: Array64, w: WeightReader, prefix: string, hidden: number): Array64 {
  const inner = map(linear(x, w.read(`${prefix}.fc1.weight`), w.optional(`${prefix}.fc1.bias`), hidden), gelu);
  return linear(inner, w.read(`${prefix}.fc2.weight`), w.optional(`${prefix}.fc2.bias`), x.shape[x.shape.length - 1]!);
}

/** The mean of the rows of a 2-D array [rows, C], as one row [1, C] (global average pooling of tokens). */
export function meanRows(x: Array64): Array64 {
  const [count, width] = x.shape as [number, number];
  const out = array64([1, width]);
  for (let r = 0; r < count; r++) for (let c = 0; c < width; c++) out.data[c] = out.data[c]! + x.data[r * width + c]! / count;
  return out;
}

export function map(x: Array64, f: (value: number) => number): Array64 {
  return { shape: [...x.shape], data: x.data.map(f) };
}

export function add(a: Array64, b: Array64): Array64 {
  if (a.data.length !== b.data.length) throw new RangeError('add: sizes differ');
  return { shape: [...a.shape], data: a.data.map((value, i) => value + b.data[i]!) };
}

/** Multiplies the last axis by a per-channel vector (LayerScale). */
export function scaleChannels(x: Array64, gamma: Float64Array): Array64 {
  const n = gamma.length;
  return { shape: [...x.shape], data: x.data.map((value, i) => value * gamma[i % n]!) };
}

/** Softmax of each row of `values` (length n rows), in place. */
export function softmaxRow(values: Float64Array): Float64Array {
  let max = -Infinity;
  for (const v of values) max = Math.max(max, v);
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i] = Math.exp(values[i]! - max);
  for (let i = 0; i < values.length; i++) values[i] = values[i]! / total;
  return values;
}

/**
 * Multi-head attention of one sequence: q [Sq, heads·d], k [Sk, heads·d], v [Sk, heads·dv];
 * head h owns channels [h·d, (h+1)·d). `bias(h, i, j)` is added to the scores before the softmax.
 * Returns the heads concatenated [Sq, heads·dv] and the probabilities [heads, Sq, Sk].
 */
export function multiHeadAttention(
  q: Array64,
  k: Array64,
  v: Array64,
  heads: number,
  scale: number,
  bias?: (head: number, query: number, key: number) => number,
): { output: Array64; probabilities: Array64 } {
  const [queries, width] = q.shape as [number, number];
  const keys = k.shape[0]!;
  const headDim = width / heads;
  const valueWidth = v.shape[1]!;
  const valueHeadDim = valueWidth / heads;
  const output = array64([queries, valueWidth]);
  const probabilities = array64([heads, queries, keys]);
  for (let h = 0; h < heads; h++) {
    for (let i = 0; i < queries; i++) {
      const row = new Float64Array(keys);
      for (let j = 0; j < keys; j++) {
        let dot = 0;
        for (let d = 0; d < headDim; d++) dot += q.data[i * width + h * headDim + d]! * scale * k.data[j * width + h * headDim + d]!;
        row[j] = dot + (bias ? bias(h, i, j) : 0);
      }
      softmaxRow(row);
      probabilities.data.set(row, (h * queries + i) * keys);
      for (let d = 0; d < valueHeadDim; d++) {
        let sum = 0;
        for (let j = 0; j < keys; j++) sum += row[j]! * v.data[j * valueWidth + h * valueHeadDim + d]!;
        output.data[i * valueWidth + h * valueHeadDim + d] = sum;
      }
    }
  }
  return { output, probabilities };
}

/**
 * Conv2d of one image [C, H, W] (PyTorch semantics: zero padding, floor output size, groups),
 * weight [O, C/groups, kh, kw].
 */
export function conv2d(
  image: Array64,
  weight: Float64Array,
  bias: Float64Array | undefined,
  options: { outChannels: number; kernel: readonly [number, number]; stride?: readonly [number, number]; padding?: readonly [number, number]; groups?: number },
): Array64 {
  const [channels, height, width] = image.shape as [number, number, number];
  const [kh, kw] = options.kernel;
  const [sh, sw] = options.stride ?? [1, 1];
  const [ph, pw] = options.padding ?? [0, 0];
  const groups = options.groups ?? 1;
  const out = options.outChannels;
  const outHeight = Math.floor((height + 2 * ph - kh) / sh) + 1;
  const outWidth = Math.floor((width + 2 * pw - kw) / sw) + 1;
  const perGroupIn = channels / groups;
  const perGroupOut = out / groups;
  const result = array64([out, outHeight, outWidth]);
  for (let o = 0; o < out; o++) {
    const group = Math.floor(o / perGroupOut);
    for (let y = 0; y < outHeight; y++) {
      for (let x = 0; x < outWidth; x++) {
        let sum = bias ? bias[o]! : 0;
        for (let c = 0; c < perGroupIn; c++) {
          const channel = group * perGroupIn + c;
          for (let dy = 0; dy < kh; dy++) {
            const iy = y * sh - ph + dy;
            if (iy < 0 || iy >= height) continue;
            for (let dx = 0; dx < kw; dx++) {
              const ix = x * sw - pw + dx;
              if (ix < 0 || ix >= width) continue;
              sum += weight[((o * perGroupIn + c) * kh + dy) * kw + dx]! * image.data[(channel * height + iy) * width + ix]!;
            }
          }
        }
        result.data[(o * outHeight + y) * outWidth + x] = sum;
      }
    }
  }
  return result;
}

/** [C, H, W] → row-major tokens [H·W, C]. */
export function imageToTokens(image: Array64): Array64 {
  const [channels, height, width] = image.shape as [number, number, number];
  const out = array64([height * width, channels]);
  for (let c = 0; c < channels; c++) for (let p = 0; p < height * width; p++) out.data[p * channels + c] = image.data[c * height * width + p]!;
  return out;
}

/** Row-major tokens [H·W, C] → [C, H, W]. */
export function tokensToImage(tokens: Array64, height: number, width: number): Array64 {
  const channels = tokens.shape[1]!;
  const out = array64([channels, height, width]);
  for (let c = 0; c < channels; c++) for (let p = 0; p < height * width; p++) out.data[c * height * width + p] = tokens.data[p * channels + c]!;
  return out;
}

/** Rows [start, end) of a 2-D array. */
export function rows(x: Array64, start: number, end: number): Array64 {
  const width = x.shape[1]!;
  return { shape: [end - start, width], data: x.data.slice(start * width, end * width) };
}

/** Columns [start, end) of a 2-D array (e.g. q, k or v of a packed qkv projection). */
export function columns(x: Array64, start: number, end: number): Array64 {
  const [count, width] = x.shape as [number, number];
  const out = array64([count, end - start]);
  for (let r = 0; r < count; r++) out.data.set(x.data.subarray(r * width + start, r * width + end), r * (end - start));
  return out;
}

/** Concatenates 2-D arrays along rows. */
export function concatRows(parts: readonly Array64[]): Array64 {
  const width = parts[0]!.shape[1]!;
  const total = parts.reduce((sum, part) => sum + part.shape[0]!, 0);
  const out = array64([total, width]);
  let offset = 0;
  for (const part of parts) {
    out.data.set(part.data, offset);
    offset += part.data.length;
  }
  return out;
}

/** Stacks equally shaped arrays on a new leading axis. */
export function stack(parts: readonly Array64[]): Array64 {
  const out = array64([parts.length, ...parts[0]!.shape]);
  parts.forEach((part, i) => out.data.set(part.data, i * part.data.length));
  return out;
}

/** Element `index` of the leading axis. */
export function at(x: Array64, index: number): Array64 {
  const size = x.data.length / x.shape[0]!;
  return { shape: x.shape.slice(1), data: x.data.slice(index * size, (index + 1) * size) };
}

/** PyTorch's bicubic kernel with parameter a (antialiased interpolate uses a = -0.5). */
function cubic(x: number, a: number): number {
  const d = Math.abs(x);
  if (d <= 1) return ((a + 2) * d - (a + 3)) * d * d + 1;
  if (d < 2) return (((d - 5) * d + 8) * d - 4) * a;
  return 0;
}

/**
 * One axis of `torch.nn.functional.interpolate(mode='bicubic', antialias=True, align_corners=False)`
 * as the operator is defined: output sample i sits at input coordinate (i + 0.5)·scale − 0.5 with
 * scale = in/out; the kernel is stretched by max(scale, 1); input samples outside the axis get no
 * weight and the rest are normalised to sum 1.
 */
function antialiasedBicubicWeights(inSize: number, outSize: number): number[][] {
  const scale = inSize / outSize;
  const stretch = Math.max(scale, 1);
  const weights: number[][] = [];
  for (let i = 0; i < outSize; i++) {
    const center = (i + 0.5) * scale - 0.5;
    const row = new Array<number>(inSize).fill(0);
    let total = 0;
    for (let j = 0; j < inSize; j++) {
      const w = cubic((j - center) / stretch, -0.5);
      row[j] = w;
      total += w;
    }
    weights.push(row.map((w) => w / total));
  }
  return weights;
}

/** A token grid [H·W, C] (row-major) resampled to [h·w, C] with antialiased bicubic (timm's resample_abs_pos_embed). */
export function resampleGridBicubicAntialias(tokens: Array64, from: readonly [number, number], to: readonly [number, number]): Array64 {
  const channels = tokens.shape[1]!;
  const rowWeights = antialiasedBicubicWeights(from[0], to[0]);
  const columnWeights = antialiasedBicubicWeights(from[1], to[1]);
  const out = array64([to[0] * to[1], channels]);
  for (let y = 0; y < to[0]; y++)
    for (let x = 0; x < to[1]; x++)
      for (let sy = 0; sy < from[0]; sy++) {
        const wy = rowWeights[y]![sy]!;
        if (wy === 0) continue;
        for (let sx = 0; sx < from[1]; sx++) {
          const w = wy * columnWeights[x]![sx]!;
          if (w === 0) continue;
          for (let c = 0; c < channels; c++) out.data[(y * to[1] + x) * channels + c]! += w * tokens.data[(sy * from[1] + sx) * channels + c]!;
        }
      }
  return out;
}

/** torch.linspace(start, end, steps) in float64 (steps = 1 gives [start]). */
export function linspace(start: number, end: number, steps: number): number[] {
  if (steps === 1) return [start];
  const step = (end - start) / (steps - 1);
  // As torch computes it: the first half from start, the second half back from end.
  return Array.from({ length: steps }, (_, i) => (i < steps / 2 ? start + i * step : end - (steps - 1 - i) * step));
}

/**
 * `torch.nn.functional.grid_sample(image, grid, mode='bilinear', padding_mode='zeros',
 * align_corners)` of one image [C, H, W] on a separable grid: output pixel (i, j) samples at the
 * normalised coordinates x = xs[j] (width) and y = ys[i] (height), both in [-1, 1]. Neighbours
 * outside the image contribute zero. Returns [C, ys.length, xs.length].
 */
export function gridSampleBilinear(image: Array64, xs: readonly number[], ys: readonly number[], alignCorners: boolean): Array64 {
  const [channels, height, width] = image.shape as [number, number, number];
  const unnormalize = (coordinate: number, size: number) => (alignCorners ? ((coordinate + 1) / 2) * (size - 1) : ((coordinate + 1) * size - 1) / 2);
  const out = array64([channels, ys.length, xs.length]);
  for (let i = 0; i < ys.length; i++) {
    const y = unnormalize(ys[i]!, height);
    const y0 = Math.floor(y);
    for (let j = 0; j < xs.length; j++) {
      const x = unnormalize(xs[j]!, width);
      const x0 = Math.floor(x);
      const taps: [number, number, number][] = [
        [y0, x0, (y0 + 1 - y) * (x0 + 1 - x)],
        [y0, x0 + 1, (y0 + 1 - y) * (x - x0)],
        [y0 + 1, x0, (y - y0) * (x0 + 1 - x)],
        [y0 + 1, x0 + 1, (y - y0) * (x - x0)],
      ];
      for (let c = 0; c < channels; c++) {
        let sum = 0;
        for (const [ty, tx, weight] of taps) if (ty >= 0 && ty < height && tx >= 0 && tx < width) sum += weight * image.data[(c * height + ty) * width + tx]!;
        out.data[(c * ys.length + i) * xs.length + j] = sum;
      }
    }
  }
  return out;
}
