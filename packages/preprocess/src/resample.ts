import type { Interpolation } from '@vitzoo/core';

/**
 * PIL-exact resampling of 8-bit interleaved images (Pillow 9.4 `Image.resize` semantics, written
 * from the algorithm of Pillow's Resample.c / Geometry.c, not from its code):
 *
 * - convolution filters (bilinear, bicubic a = -0.5, lanczos a = 3, box, hamming) are separable;
 *   when downscaling the filter support is stretched by the scale factor (antialiasing);
 *   sample positions are pixel centres; weights are computed in float64, normalised to sum 1, then
 *   turned into 22-bit fixed point (PRECISION_BITS = 32 - 8 - 2); each output value is
 *   `clamp((2^21 + sum(k_j * in_j)) >> 22, 0, 255)`;
 * - the horizontal pass runs first and is stored as uint8, then the vertical pass; an axis whose
 *   size does not change is not resampled at all;
 * - NEAREST is not a convolution: PIL maps output pixel x to input `trunc((x + 0.5) * in / out)`,
 *   with the position accumulated by repeated addition as PIL does.
 *
 * Every output pixel depends only on its own coordinates, so a sub-window of the output can be
 * computed alone (used to resize only what a center crop keeps) with identical values.
 */

/** 8-bit fixed-point fractional bits of the convolution weights: 32 - 8 - 2. */
export const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

interface Filter {
  support: number;
  evaluate(x: number): number;
}

function sinc(x: number): number {
  if (x === 0) return 1;
  const scaled = x * Math.PI;
  return Math.sin(scaled) / scaled;
}

const BICUBIC_A = -0.5;

const filters: Record<Exclude<Interpolation, 'nearest'>, Filter> = {
  box: {
    support: 0.5,
    evaluate: (x) => (x > -0.5 && x <= 0.5 ? 1 : 0),
  },
  bilinear: {
    support: 1,
    evaluate: (x) => {
      const distance = Math.abs(x);
      return distance < 1 ? 1 - distance : 0;
    },
  },
  hamming: {
    support: 1,
    evaluate: (x) => {
      let distance = Math.abs(x);
      if (distance === 0) return 1;
      if (distance >= 1) return 0;
      distance *= Math.PI;
      return (Math.sin(distance) / distance) * (0.54 + 0.46 * Math.cos(distance));
    },
  },
  bicubic: {
    support: 2,
    evaluate: (x) => {
      const distance = Math.abs(x);
      if (distance < 1) return ((BICUBIC_A + 2) * distance - (BICUBIC_A + 3)) * distance * distance + 1;
      if (distance < 2) return (((distance - 5) * distance + 8) * distance - 4) * BICUBIC_A;
      return 0;
    },
  },
  lanczos: {
    support: 3,
    evaluate: (x) => (x >= -3 && x < 3 ? sinc(x) * sinc(x / 3) : 0),
  },
};

export const INTERPOLATIONS: readonly Interpolation[] = ['nearest', 'bilinear', 'bicubic', 'lanczos', 'box', 'hamming'];

/** Fixed-point weights of one axis for the output indices `first .. first + count - 1`. */
export interface AxisWeights {
  /** Per output index: first input index used. */
  start: Int32Array;
  /** Per output index: number of input indices used. */
  length: Int32Array;
  /** `count * kernelSize` fixed-point weights (unused tail entries are 0). */
  weights: Int32Array;
  kernelSize: number;
}

/** Float64 weights of one axis: per output index, the first input index, the tap count and the normalised weights. */
export interface AxisCoefficients {
  start: Int32Array;
  length: Int32Array;
  /** `count * kernelSize` weights summing to 1 per output index (unused tail entries are 0). */
  weights: Float64Array;
  kernelSize: number;
}

/**
 * The convolution weights of resampling an axis of `inSize` samples to `outSize`, for output indices
 * `first .. first + count - 1` (the whole axis by default), in float64: Pillow's precompute_coeffs,
 * which is also what PyTorch's antialiased `interpolate(…, antialias=True)` computes (sample
 * positions at pixel centres, the filter stretched by the scale when downscaling, taps outside the
 * axis dropped and the rest normalised to sum 1).
 */
export function axisCoefficients(
  inSize: number,
  outSize: number,
  interpolation: Exclude<Interpolation, 'nearest'>,
  first = 0,
  count = outSize - first,
): AxisCoefficients {
  const filter = filters[interpolation];
  const scale = inSize / outSize;
  const filterScale = scale < 1 ? 1 : scale;
  const support = filter.support * filterScale;
  const kernelSize = Math.ceil(support) * 2 + 1;
  const inverseFilterScale = 1 / filterScale;
  const start = new Int32Array(count);
  const length = new Int32Array(count);
  const weights = new Float64Array(count * kernelSize);
  for (let index = 0; index < count; index++) {
    const center = (first + index + 0.5) * scale;
    let low = Math.trunc(center - support + 0.5);
    if (low < 0) low = 0;
    let high = Math.trunc(center + support + 0.5);
    if (high > inSize) high = inSize;
    const taps = high - low;
    const base = index * kernelSize;
    let total = 0;
    for (let tap = 0; tap < taps; tap++) {
      const weight = filter.evaluate((tap + low - center + 0.5) * inverseFilterScale);
      weights[base + tap] = weight;
      total += weight;
    }
    if (total !== 0) for (let tap = 0; tap < taps; tap++) weights[base + tap] = weights[base + tap]! / total;
    start[index] = low;
    length[index] = taps;
  }
  return { start, length, weights, kernelSize };
}

/**
 * PIL's coefficients for resampling an axis of `inSize` pixels to `outSize` pixels, for output
 * indices `first .. first + count - 1` (the whole axis by default), in 22-bit fixed point.
 */
export function axisWeights(
  inSize: number,
  outSize: number,
  interpolation: Exclude<Interpolation, 'nearest'>,
  first = 0,
  count = outSize - first,
): AxisWeights {
  const real = axisCoefficients(inSize, outSize, interpolation, first, count);
  const weights = new Int32Array(real.weights.length);
  for (let i = 0; i < weights.length; i++) {
    const weight = real.weights[i]!;
    weights[i] = weight < 0 ? Math.trunc(-0.5 + weight * ONE) : Math.trunc(0.5 + weight * ONE);
  }
  return { start: real.start, length: real.length, weights, kernelSize: real.kernelSize };
}

/** An interleaved 8-bit image buffer: `height * width * channels` values, row-major. */
export interface PixelBuffer {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  channels: number;
}

/** A rectangle of the resized image: rows `top .. top + height - 1`, columns `left .. left + width - 1`. */
export interface Region {
  top: number;
  left: number;
  width: number;
  height: number;
}

function horizontalPass(
  source: PixelBuffer,
  firstRow: number,
  rows: number,
  axis: AxisWeights,
  outWidth: number,
): Uint8ClampedArray {
  const { data, width, channels } = source;
  const { start, length, weights, kernelSize } = axis;
  const out = new Uint8ClampedArray(rows * outWidth * channels);
  let o = 0;
  for (let row = 0; row < rows; row++) {
    const rowBase = (firstRow + row) * width;
    if (channels === 3) {
      for (let x = 0; x < outWidth; x++) {
        const taps = length[x]!;
        const kernelBase = x * kernelSize;
        let i = (rowBase + start[x]!) * 3;
        let r = HALF;
        let g = HALF;
        let b = HALF;
        // Integer arithmetic: every partial sum stays inside int32 for 8-bit data (as in PIL).
        for (let tap = 0; tap < taps; tap++) {
          const weight = weights[kernelBase + tap]!;
          r = (r + Math.imul(data[i]!, weight)) | 0;
          g = (g + Math.imul(data[i + 1]!, weight)) | 0;
          b = (b + Math.imul(data[i + 2]!, weight)) | 0;
          i += 3;
        }
        out[o] = r >> PRECISION_BITS;
        out[o + 1] = g >> PRECISION_BITS;
        out[o + 2] = b >> PRECISION_BITS;
        o += 3;
      }
    } else if (channels === 1) {
      for (let x = 0; x < outWidth; x++) {
        const taps = length[x]!;
        const kernelBase = x * kernelSize;
        let i = rowBase + start[x]!;
        let sum = HALF;
        for (let tap = 0; tap < taps; tap++) sum = (sum + Math.imul(data[i++]!, weights[kernelBase + tap]!)) | 0;
        out[o++] = sum >> PRECISION_BITS;
      }
    } else {
      for (let x = 0; x < outWidth; x++) {
        const taps = length[x]!;
        const kernelBase = x * kernelSize;
        for (let channel = 0; channel < channels; channel++) {
          let i = (rowBase + start[x]!) * channels + channel;
          let sum = HALF;
          for (let tap = 0; tap < taps; tap++) {
            sum += data[i]! * weights[kernelBase + tap]!;
            i += channels;
          }
          out[o++] = sum >> PRECISION_BITS;
        }
      }
    }
  }
  return out;
}

function verticalPass(
  source: Uint8Array | Uint8ClampedArray,
  rowValues: number,
  firstSourceRow: number,
  axis: AxisWeights,
  outHeight: number,
): Uint8ClampedArray {
  const { start, length, weights, kernelSize } = axis;
  const out = new Uint8ClampedArray(outHeight * rowValues);
  for (let y = 0; y < outHeight; y++) {
    const taps = length[y]!;
    const kernelBase = y * kernelSize;
    const rowBase = (start[y]! - firstSourceRow) * rowValues;
    const outBase = y * rowValues;
    // Integer arithmetic as in the horizontal pass (and PIL): partial sums stay inside int32.
    if (taps <= 8) {
      // Up to 8 taps (upscaling, and downscaling by up to about 2×: the common case) unrolled, the
      // weights in locals: about 3× faster than a loop over taps. Missing taps weigh 0 and read the
      // last real row, so every read is in bounds.
      const w0 = weights[kernelBase]!;
      const w1 = taps > 1 ? weights[kernelBase + 1]! : 0;
      const w2 = taps > 2 ? weights[kernelBase + 2]! : 0;
      const w3 = taps > 3 ? weights[kernelBase + 3]! : 0;
      const w4 = taps > 4 ? weights[kernelBase + 4]! : 0;
      const w5 = taps > 5 ? weights[kernelBase + 5]! : 0;
      const w6 = taps > 6 ? weights[kernelBase + 6]! : 0;
      const w7 = taps > 7 ? weights[kernelBase + 7]! : 0;
      const last = taps - 1;
      const r0 = rowBase;
      const r1 = rowBase + Math.min(1, last) * rowValues;
      const r2 = rowBase + Math.min(2, last) * rowValues;
      const r3 = rowBase + Math.min(3, last) * rowValues;
      const r4 = rowBase + Math.min(4, last) * rowValues;
      const r5 = rowBase + Math.min(5, last) * rowValues;
      const r6 = rowBase + Math.min(6, last) * rowValues;
      const r7 = rowBase + Math.min(7, last) * rowValues;
      for (let i = 0; i < rowValues; i++) {
        const sum =
          (HALF +
            Math.imul(source[r0 + i]!, w0) +
            Math.imul(source[r1 + i]!, w1) +
            Math.imul(source[r2 + i]!, w2) +
            Math.imul(source[r3 + i]!, w3) +
            Math.imul(source[r4 + i]!, w4) +
            Math.imul(source[r5 + i]!, w5) +
            Math.imul(source[r6 + i]!, w6) +
            Math.imul(source[r7 + i]!, w7)) |
          0;
        out[outBase + i] = sum >> PRECISION_BITS;
      }
    } else {
      for (let i = 0; i < rowValues; i++) {
        let sum = HALF;
        let index = rowBase + i;
        for (let tap = 0; tap < taps; tap++) {
          sum = (sum + Math.imul(source[index]!, weights[kernelBase + tap]!)) | 0;
          index += rowValues;
        }
        out[outBase + i] = sum >> PRECISION_BITS;
      }
    }
  }
  return out;
}

/** PIL's nearest-neighbour source indices for output indices `first .. first + count - 1`. */
function nearestIndices(inSize: number, outSize: number, first: number, count: number): Int32Array {
  const step = inSize / outSize;
  const indices = new Int32Array(count);
  let position = step * 0.5;
  for (let index = 0; index < first; index++) position += step;
  for (let index = 0; index < count; index++) {
    const source = position < 0 ? -1 : Math.trunc(position);
    indices[index] = source < inSize ? source : -1;
    position += step;
  }
  return indices;
}

function resizeNearest(source: PixelBuffer, outWidth: number, outHeight: number, region: Region): Uint8ClampedArray {
  const { data, width, channels } = source;
  const columns = nearestIndices(width, outWidth, region.left, region.width);
  const rows = nearestIndices(source.height, outHeight, region.top, region.height);
  const out = new Uint8ClampedArray(region.width * region.height * channels);
  let o = 0;
  for (let y = 0; y < region.height; y++) {
    const sourceRow = rows[y]!;
    if (sourceRow < 0) {
      o += region.width * channels;
      continue;
    }
    const rowBase = sourceRow * width;
    for (let x = 0; x < region.width; x++) {
      const sourceColumn = columns[x]!;
      if (sourceColumn < 0) {
        o += channels;
        continue;
      }
      const i = (rowBase + sourceColumn) * channels;
      for (let channel = 0; channel < channels; channel++) out[o++] = data[i + channel]!;
    }
  }
  return out;
}

function copyRegion(source: PixelBuffer, region: Region): Uint8ClampedArray {
  const { data, width, channels } = source;
  const out = new Uint8ClampedArray(region.width * region.height * channels);
  const rowValues = region.width * channels;
  for (let y = 0; y < region.height; y++) {
    const begin = ((region.top + y) * width + region.left) * channels;
    out.set(data.subarray(begin, begin + rowValues), y * rowValues);
  }
  return out;
}

/**
 * Resizes `source` to `outWidth` x `outHeight` exactly as PIL's `Image.resize` does for 8-bit
 * images, and returns only `region` of the result (default: all of it) as an interleaved buffer
 * of `region.width * region.height * channels` values.
 */
export function resamplePixels(
  source: PixelBuffer,
  outWidth: number,
  outHeight: number,
  interpolation: Interpolation,
  region: Region = { top: 0, left: 0, width: outWidth, height: outHeight },
): Uint8ClampedArray {
  const { width, height, channels } = source;
  if (width === outWidth && height === outHeight) return copyRegion(source, region);
  if (interpolation === 'nearest') return resizeNearest(source, outWidth, outHeight, region);

  const resizeHorizontally = width !== outWidth;
  const resizeVertically = height !== outHeight;
  // Source rows the vertical pass reads (all rows of the region when the height is unchanged).
  const vertical = resizeVertically ? axisWeights(height, outHeight, interpolation, region.top, region.height) : undefined;
  let firstRow = region.top;
  let lastRow = region.top + region.height;
  if (vertical) {
    firstRow = vertical.start[0]!;
    lastRow = vertical.start[region.height - 1]! + vertical.length[region.height - 1]!;
  }

  let rows: Uint8ClampedArray;
  let rowWidth: number;
  if (resizeHorizontally) {
    const horizontal = axisWeights(width, outWidth, interpolation, region.left, region.width);
    rows = horizontalPass(source, firstRow, lastRow - firstRow, horizontal, region.width);
    rowWidth = region.width;
  } else {
    rows = copyRegion(source, { top: firstRow, left: region.left, width: region.width, height: lastRow - firstRow });
    rowWidth = region.width;
  }
  if (!vertical) return rows;
  return verticalPass(rows, rowWidth * channels, firstRow, vertical, region.height);
}
