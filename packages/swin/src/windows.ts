import type { Pair } from './config.js';

/**
 * Build-time window geometry for Swin blocks: the token gathers that implement timm's cyclic shift,
 * bottom/right padding and window partition (and their inverse), the relative-position index, and
 * the shifted-window attention mask. Everything here depends on the config only.
 */

/** Python's slice(start, stop) bounds on a sequence of `length` (None = undefined). */
function pythonSlice(start: number | undefined, stop: number | undefined, length: number): [number, number] {
  const clamp = (value: number) => Math.min(Math.max(value, 0), length);
  const begin = start === undefined ? 0 : clamp(start < 0 ? start + length : start);
  const end = stop === undefined ? length : clamp(stop < 0 ? stop + length : stop);
  return [begin, Math.max(begin, end)];
}

const modulo = (value: number, divisor: number) => ((value % divisor) + divisor) % divisor;

/**
 * For every position of the partitioned windows ([num_windows * window_area], windows row-major,
 * tokens row-major inside a window), the row-major index of the source token in the unpadded
 * [H, W] map after `torch.roll(x, (-shift_h, -shift_w))`, or H*W for a padding position (which
 * reads an appended zero token).
 */
export function windowPartitionIndex(resolution: Pair, padded: Pair, window: Pair, shift: Pair): Int32Array {
  const [height, width] = resolution;
  const [paddedHeight, paddedWidth] = padded;
  const [windowHeight, windowWidth] = window;
  const windowsAcross = paddedWidth / windowWidth;
  const area = windowHeight * windowWidth;
  const out = new Int32Array(paddedHeight * paddedWidth);
  for (let y = 0; y < paddedHeight; y++) {
    for (let x = 0; x < paddedWidth; x++) {
      const windowIndex = Math.floor(y / windowHeight) * windowsAcross + Math.floor(x / windowWidth);
      const position = windowIndex * area + (y % windowHeight) * windowWidth + (x % windowWidth);
      out[position] = y < height && x < width ? ((y + shift[0]) % height) * width + ((x + shift[1]) % width) : height * width;
    }
  }
  return out;
}

/**
 * The inverse: for every token of the [H, W] map (row-major), its position in the partitioned
 * windows, after cropping the padding and rolling back by (+shift_h, +shift_w).
 */
export function windowReverseIndex(resolution: Pair, padded: Pair, window: Pair, shift: Pair): Int32Array {
  const [height, width] = resolution;
  const [windowHeight, windowWidth] = window;
  const windowsAcross = padded[1] / windowWidth;
  const area = windowHeight * windowWidth;
  const out = new Int32Array(height * width);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const sy = modulo(y - shift[0], height);
      const sx = modulo(x - shift[1], width);
      const windowIndex = Math.floor(sy / windowHeight) * windowsAcross + Math.floor(sx / windowWidth);
      out[y * width + x] = windowIndex * area + (sy % windowHeight) * windowWidth + (sx % windowWidth);
    }
  }
  return out;
}

/** timm's get_relative_position_index: [area, area] indices into the (2h-1)(2w-1) table. */
export function relativePositionIndex(window: Pair): Int32Array {
  const [windowHeight, windowWidth] = window;
  const area = windowHeight * windowWidth;
  const out = new Int32Array(area * area);
  for (let i = 0; i < area; i++) {
    const yi = Math.floor(i / windowWidth);
    const xi = i % windowWidth;
    for (let j = 0; j < area; j++) {
      const yj = Math.floor(j / windowWidth);
      const xj = j % windowWidth;
      out[i * area + j] = (yi - yj + windowHeight - 1) * (2 * windowWidth - 1) + (xi - xj + windowWidth - 1);
    }
  }
  return out;
}

/**
 * The relative-position bias of one block, [heads, area, area], gathered from the checkpoint's
 * `relative_position_bias_table` ([(2h-1)(2w-1), heads]).
 */
export function gatherRelativePositionBias(table: Float32Array, numHeads: number, window: Pair): Float32Array {
  const index = relativePositionIndex(window);
  const area = window[0] * window[1];
  const out = new Float32Array(numHeads * area * area);
  for (let head = 0; head < numHeads; head++) {
    const offset = head * area * area;
    for (let k = 0; k < area * area; k++) out[offset + k] = table[index[k]! * numHeads + head]!;
  }
  return out;
}

/**
 * timm's shifted-window attention mask, [num_windows, area, area]: the padded map is cut into
 * 3x3 regions by slice(0, -w), slice(-w, -s), slice(-s, None) per axis (Python slicing, assigned
 * in order, so a zero shift on one axis collapses that axis to one region), and token pairs from
 * different regions get -100.
 */
export function shiftedWindowMask(padded: Pair, window: Pair, shift: Pair): Float32Array {
  const [paddedHeight, paddedWidth] = padded;
  const [windowHeight, windowWidth] = window;
  const regions = new Int32Array(paddedHeight * paddedWidth);
  const rowSlices = [pythonSlice(0, -windowHeight, paddedHeight), pythonSlice(-windowHeight, -shift[0], paddedHeight), pythonSlice(-shift[0], undefined, paddedHeight)];
  const columnSlices = [pythonSlice(0, -windowWidth, paddedWidth), pythonSlice(-windowWidth, -shift[1], paddedWidth), pythonSlice(-shift[1], undefined, paddedWidth)];
  let count = 0;
  for (const [rowBegin, rowEnd] of rowSlices) {
    for (const [columnBegin, columnEnd] of columnSlices) {
      for (let y = rowBegin; y < rowEnd; y++) for (let x = columnBegin; x < columnEnd; x++) regions[y * paddedWidth + x] = count;
      count++;
    }
  }
  const partition = windowPartitionIndex(padded, padded, window, [0, 0]);
  const area = windowHeight * windowWidth;
  const numWindows = (paddedHeight / windowHeight) * (paddedWidth / windowWidth);
  const out = new Float32Array(numWindows * area * area);
  for (let w = 0; w < numWindows; w++) {
    for (let i = 0; i < area; i++) {
      const regionI = regions[partition[w * area + i]!]!;
      for (let j = 0; j < area; j++) {
        out[(w * area + i) * area + j] = regionI === regions[partition[w * area + j]!]! ? 0 : -100;
      }
    }
  }
  return out;
}
