import { describe, expect, it } from 'vitest';
import { INTERPOLATIONS, axisWeights, resamplePixels } from './resample.js';
import { resize } from './resize.js';

/** A 1-channel image from rows of values. */
function gray(rows: number[][]) {
  return { data: Uint8Array.from(rows.flat()), width: rows[0]!.length, height: rows.length, channels: 1 as const };
}

describe('PIL resampling on hand-computed cases', () => {
  it('box 4 -> 2 gives pair means rounded half up', () => {
    // (10 + 20) / 2 = 15; (30 + 41) / 2 = 35.5 -> 36 (PIL adds 2^21 before the >> 22).
    expect(Array.from(resize(gray([[10, 20, 30, 41]]), { width: 2, height: 1 }, 'box').data)).toEqual([15, 36]);
  });

  it('a 2-tap symmetric downscale is the pair mean for every convolution filter', () => {
    for (const interpolation of ['bilinear', 'bicubic', 'lanczos', 'box', 'hamming'] as const) {
      expect(Array.from(resize(gray([[10, 21]]), { width: 1, height: 1 }, interpolation).data), interpolation).toEqual([16]);
    }
  });

  it('bilinear 2 -> 4 upscale: weights (1), (0.75, 0.25), (0.25, 0.75), (1)', () => {
    // 101 * 0.25 = 25.25 -> 25; 101 * 0.75 = 75.75 -> 76.
    expect(Array.from(resize(gray([[0, 101]]), { width: 4, height: 1 }, 'bilinear').data)).toEqual([0, 25, 76, 101]);
  });

  it('bicubic 2 -> 4 upscale overshoots and clips to 0..255', () => {
    // Edge taps are renormalised: out0 = 100 * (-0.0703125 / 0.796875) = -8.8 -> 0,
    // out1 = 100 * 0.2265625 / 1.09375 = 20.7 -> 21, out2 = 79.3 -> 79, out3 = 100 * 0.8671875 / 0.796875 = 108.8 -> 109.
    expect(Array.from(resize(gray([[0, 100]]), { width: 4, height: 1 }, 'bicubic').data)).toEqual([0, 21, 79, 109]);
    expect(Array.from(resize(gray([[255, 155]]), { width: 4, height: 1 }, 'bicubic').data)).toEqual([255, 234, 176, 146]);
  });

  it('nearest maps x to trunc((x + 0.5) * in / out), not by convolution', () => {
    expect(Array.from(resize(gray([[1, 2, 3]]), { width: 2, height: 1 }, 'nearest').data)).toEqual([1, 3]);
    expect(Array.from(resize(gray([[7, 9]]), { width: 5, height: 1 }, 'nearest').data)).toEqual([7, 7, 9, 9, 9]);
  });

  it('the vertical axis follows the same rules', () => {
    expect(Array.from(resize(gray([[10], [20], [30], [41]]), { width: 1, height: 2 }, 'box').data)).toEqual([15, 36]);
    expect(Array.from(resize(gray([[0], [100]]), { width: 1, height: 4 }, 'bicubic').data)).toEqual([0, 21, 79, 109]);
  });

  it('runs the horizontal pass first, clipped to uint8, then the vertical pass', () => {
    const source = gray([
      [0, 255, 0, 255, 12],
      [255, 0, 255, 3, 200],
      [90, 30, 250, 0, 255],
    ]);
    for (const interpolation of ['bicubic', 'lanczos', 'bilinear'] as const) {
      const full = resize(source, { width: 7, height: 5 }, interpolation);
      const horizontal = resize(source, { width: 7, height: 3 }, interpolation);
      const thenVertical = resize(horizontal, { width: 7, height: 5 }, interpolation);
      expect(Array.from(full.data), interpolation).toEqual(Array.from(thenVertical.data));
    }
  });

  it('keeps a constant image constant with every filter, up and down', () => {
    const source = { data: new Uint8Array(7 * 5 * 3).fill(77), width: 7, height: 5, channels: 3 as const };
    for (const interpolation of INTERPOLATIONS) {
      for (const size of [{ width: 3, height: 2 }, { width: 16, height: 11 }]) {
        const out = resize(source, size, interpolation);
        expect(out.data.every((value) => value === 77), `${interpolation} ${size.width}x${size.height}`).toBe(true);
      }
    }
  });

  it('returns a copy when the size is unchanged', () => {
    const source = gray([[1, 2], [3, 4]]);
    const out = resize(source, { width: 2, height: 2 }, 'bicubic');
    expect(Array.from(out.data)).toEqual([1, 2, 3, 4]);
    expect(out.data).not.toBe(source.data);
  });

  it('fixed-point weights: 22 fractional bits, each row sums to about 2^22', () => {
    const weights = axisWeights(8, 4, 'bicubic');
    expect(weights.kernelSize).toBe(2 * 4 + 1);
    for (let index = 0; index < 4; index++) {
      let sum = 0;
      for (let tap = 0; tap < weights.length[index]!; tap++) sum += weights.weights[index * weights.kernelSize + tap]!;
      expect(Math.abs(sum - 2 ** 22)).toBeLessThanOrEqual(weights.length[index]!);
    }
    // Box 4 -> 2: two taps of exactly 0.5.
    const box = axisWeights(4, 2, 'box');
    expect(Array.from(box.weights.subarray(0, 2))).toEqual([2 ** 21, 2 ** 21]);
  });

  it('computes any window of the output with the same values as the whole image', () => {
    const width = 37;
    const height = 23;
    const data = new Uint8Array(width * height * 3);
    for (let i = 0; i < data.length; i++) data[i] = (i * 7919) % 251;
    const source = { data, width, height, channels: 3 };
    for (const interpolation of INTERPOLATIONS) {
      const whole = resamplePixels(source, 20, 31, interpolation);
      const region = { top: 5, left: 3, width: 11, height: 17 };
      const part = resamplePixels(source, 20, 31, interpolation, region);
      for (let y = 0; y < region.height; y++) {
        const expected = whole.subarray(((region.top + y) * 20 + region.left) * 3, ((region.top + y) * 20 + region.left + region.width) * 3);
        expect(Array.from(part.subarray(y * region.width * 3, (y + 1) * region.width * 3)), interpolation).toEqual(Array.from(expected));
      }
    }
  });
});
