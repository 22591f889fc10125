import { describe, expect, it } from 'vitest';
import {
  gatherRelativePositionBias,
  relativePositionIndex,
  shiftedWindowMask,
  windowPartitionIndex,
  windowReverseIndex,
} from './windows.js';

/** [num_windows, N, N] mask from per-window region ids written out by hand. */
function maskFromRegions(windows: number[][]): number[] {
  const out: number[] = [];
  for (const ids of windows) for (const a of ids) for (const b of ids) out.push(a === b ? 0 : -100);
  return out;
}

describe('relative position index', () => {
  it("is timm's (dy + w - 1) * (2w - 1) + (dx + w - 1) for a 2x2 window", () => {
    expect(Array.from(relativePositionIndex([2, 2]))).toEqual([4, 3, 1, 0, 5, 4, 2, 1, 7, 6, 4, 3, 8, 7, 5, 4]);
  });

  it('gathers [heads, N, N] from the [(2h-1)(2w-1), heads] table', () => {
    // table[r, h] = 10 * r + h
    const table = Float32Array.from({ length: 9 * 2 }, (_, i) => 10 * Math.floor(i / 2) + (i % 2));
    const bias = Array.from(gatherRelativePositionBias(table, 2, [2, 2]));
    expect(bias.slice(0, 4)).toEqual([40, 30, 10, 0]);
    expect(bias.slice(16, 20)).toEqual([41, 31, 11, 1]);
    expect(bias.slice(28, 32)).toEqual([81, 71, 51, 41]);
  });
});

describe('window partition gathers', () => {
  it('roll by (-1, -1) then 2x2 windows of a 4x4 map', () => {
    const index = windowPartitionIndex([4, 4], [4, 4], [2, 2], [1, 1]);
    expect(Array.from(index)).toEqual([5, 6, 9, 10, 7, 4, 11, 8, 13, 14, 1, 2, 15, 12, 3, 0]);
  });

  it('pads bottom/right with the zero token (index H*W)', () => {
    const index = windowPartitionIndex([3, 3], [4, 4], [2, 2], [0, 0]);
    expect(Array.from(index)).toEqual([0, 1, 3, 4, 2, 9, 5, 9, 6, 7, 9, 9, 8, 9, 9, 9]);
  });

  it('the reverse gather undoes partition, padding and roll', () => {
    for (const [resolution, padded, window, shift] of [
      [[4, 4], [4, 4], [2, 2], [1, 1]],
      [[5, 7], [8, 9], [4, 3], [2, 1]],
      [[3, 3], [4, 4], [2, 2], [0, 0]],
    ] as const) {
      const forward = windowPartitionIndex(resolution, padded, window, shift);
      const reverse = windowReverseIndex(resolution, padded, window, shift);
      expect(reverse.length).toBe(resolution[0] * resolution[1]);
      reverse.forEach((position, token) => expect(forward[position]).toBe(token));
    }
  });
});

describe('shifted window mask', () => {
  it('cuts the map into slice(0,-w), slice(-w,-s), slice(-s,None) regions', () => {
    const mask = Array.from(shiftedWindowMask([4, 4], [2, 2], [1, 1]));
    expect(mask).toEqual(maskFromRegions([[0, 0, 0, 0], [1, 2, 1, 2], [3, 3, 6, 6], [4, 5, 7, 8]]));
  });

  it('a zero shift on one axis leaves that axis one region (Python slices)', () => {
    const mask = Array.from(shiftedWindowMask([4, 4], [2, 2], [0, 1]));
    expect(mask).toEqual(maskFromRegions([[0, 0, 0, 0], [1, 2, 1, 2], [0, 0, 0, 0], [1, 2, 1, 2]]));
  });

  it('uses -100, not -inf, between regions', () => {
    expect(new Set(shiftedWindowMask([8, 8], [4, 4], [2, 2]))).toEqual(new Set([0, -100]));
  });
});
