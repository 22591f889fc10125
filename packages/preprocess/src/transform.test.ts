import { float32ToFloat16, InvalidArgumentError, InvalidConfigError, InvalidImageError, VitzooError } from '@vitzoo/core';
import { describe, expect, it } from 'vitest';
import {
  createHuggingFaceTransform,
  createStepsTransform,
  createTransform,
  centerCropOffset,
  keepRatioSize,
  resize,
  roundHalfEven,
  shortestEdgeSize,
  toRgb,
  type RawImage,
} from './index.js';

function noise(width: number, height: number, channels: 1 | 2 | 3 | 4 = 3, seed = 1): RawImage {
  const data = new Uint8Array(width * height * channels);
  let state = seed;
  for (let i = 0; i < data.length; i++) {
    state = (state * 1103515245 + 12345) >>> 0;
    data[i] = state >>> 24;
  }
  return { data, width, height, channels };
}

function expectThrows(fn: () => unknown, type: { isInstance(error: unknown): boolean }, pattern: RegExp): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(type.isInstance(caught), String(caught)).toBe(true);
  expect((caught as Error).message).toMatch(pattern);
}

describe('size rules', () => {
  it('rounds ties to even like Python', () => {
    expect([80.5, 74.5, 58.5, 79.5, 0.5, 1.5, 2.4, 2.6].map(roundHalfEven)).toEqual([80, 74, 58, 80, 0, 2, 2, 3]);
  });

  it('shortest side: the other side is int(size * long / short)', () => {
    expect(shortestEdgeSize({ width: 451, height: 300 }, 256)).toEqual({ width: 384, height: 256 });
    expect(shortestEdgeSize({ width: 180, height: 250 }, 256)).toEqual({ width: 256, height: 355 });
    expect(shortestEdgeSize({ width: 5, height: 5 }, 3)).toEqual({ width: 3, height: 3 });
  });

  it('crop offsets: torchvision rounds ties to even, Hugging Face floors, padding goes floor(d / 2) before', () => {
    expect(centerCropOffset(383, 224, 'round-half-even')).toBe(80);
    expect(centerCropOffset(383, 224, 'floor')).toBe(79);
    expect(centerCropOffset(341, 224, 'round-half-even')).toBe(58);
    expect(centerCropOffset(165, 224, 'round-half-even')).toBe(-29);
    expect(centerCropOffset(165, 224, 'floor')).toBe(-29);
  });

  it('keep ratio: longest 1 fits inside, longest 0 covers', () => {
    expect(keepRatioSize({ width: 451, height: 300 }, { width: 248, height: 248 }, 1)).toEqual({ width: 248, height: 165 });
    expect(keepRatioSize({ width: 451, height: 300 }, { width: 365, height: 256 }, 0)).toEqual({ width: 385, height: 256 });
  });
});

describe('timm eval transform', () => {
  it('crop_mode border: fits the longest side, pads with round(255 * mean), normalizes the padding to about 0', () => {
    const image = noise(451, 300);
    const transform = createTransform({ inputSize: [3, 224, 224], interpolation: 'bicubic', cropPct: 0.9, cropMode: 'border' });
    const geometry = transform.geometry(image);
    expect(geometry.resized).toEqual({ width: 248, height: 165 });
    expect(geometry.crop).toEqual({ top: -29, left: 12, width: 224, height: 224 });
    const out = transform.apply(image).data;
    const resized = resize(image, { width: 248, height: 165 }, 'bicubic');
    const mean = [0.485, 0.456, 0.406];
    const std = [0.229, 0.224, 0.225];
    const fill = [124, 116, 104];
    const value = (u8: number, c: number) => Math.fround(Math.fround(Math.fround(u8 / 255) - Math.fround(mean[c]!)) / Math.fround(std[c]!));
    for (let c = 0; c < 3; c++) {
      for (const y of [0, 28, 29, 100, 193, 194, 223]) {
        for (const x of [0, 111, 223]) {
          const sourceRow = y - 29;
          const expected =
            sourceRow < 0 || sourceRow >= 165 ? value(fill[c]!, c) : value(resized.data[(sourceRow * 248 + x + 12) * 3 + c]!, c);
          expect(out[c * 224 * 224 + y * 224 + x], `c${c} y${y} x${x}`).toBe(expected);
        }
      }
      expect(Math.abs(value(fill[c]!, c))).toBeLessThan(0.01);
    }
  });

  it('non-square input size: ResizeKeepRatio, always bilinear as timm builds it', () => {
    const image = noise(451, 300);
    const bicubic = createTransform({ inputSize: [3, 224, 320], interpolation: 'bicubic' });
    const bilinear = createTransform({ inputSize: [3, 224, 320], interpolation: 'bilinear' });
    expect(bicubic.geometry(image)).toEqual({
      resized: { width: 385, height: 256 },
      crop: { top: 16, left: 32, width: 320, height: 224 },
    });
    const a = bicubic.apply(image);
    expect(a.shape).toEqual([3, 224, 320]);
    expect(Array.from(a.data)).toEqual(Array.from(bilinear.apply(image).data));
  });

  it('squash with crop_pct < 1 resizes both sides to size / crop_pct then center-crops', () => {
    const transform = createTransform({ inputSize: 224, cropMode: 'squash', cropPct: 0.875 });
    expect(transform.geometry({ width: 451, height: 300 })).toEqual({
      resized: { width: 256, height: 256 },
      crop: { top: 16, left: 16, width: 224, height: 224 },
    });
  });

  it('accepts a PretrainedConfig as is', () => {
    const transform = createTransform({
      inputSize: [3, 32, 32],
      interpolation: 'bicubic',
      cropPct: 1,
      mean: [0.5, 0.5, 0.5],
      std: [0.5, 0.5, 0.5],
      numClasses: 10,
      labelSet: 'digits',
    });
    const out = transform.apply(noise(32, 32));
    expect(out.shape).toEqual([3, 32, 32]);
    expect(out.dtype).toBe('float32');
  });

  it('float16 output holds the IEEE half bits of the float32 output', () => {
    const image = noise(64, 48, 3, 7);
    const full = createTransform({ inputSize: 32 }).apply(image);
    const half = createTransform({ inputSize: 32 }, { dtype: 'float16' }).apply(image);
    expect(half.dtype).toBe('float16');
    expect(half.data).toBeInstanceOf(Uint16Array);
    expect(Array.from(half.data)).toEqual(Array.from(full.data, (value) => float32ToFloat16(value)));
  });

  it('refuses bad configs with typed errors naming the field', () => {
    expectThrows(() => createTransform({ cropMode: 'zoom' as never }), InvalidConfigError, /cropMode/);
    expectThrows(() => createTransform({ interpolation: 'cubic' as never }), InvalidConfigError, /interpolation/);
    expectThrows(() => createTransform({ std: [0.2, 0, 0.2] }), InvalidConfigError, /std/);
    expectThrows(() => createTransform({ inputSize: [1, 224, 224] }), InvalidConfigError, /inputSize/);
    expectThrows(() => createTransform({ cropPct: -1 }), InvalidConfigError, /cropPct/);
    expectThrows(() => createTransform({}, { dtype: 'int8' as never }), InvalidArgumentError, /dtype/);
  });
});

describe('Hugging Face processor transform', () => {
  it('shortest_edge + crop_size: floor offsets, unlike torchvision', () => {
    const hf = createHuggingFaceTransform({ size: { shortest_edge: 256 }, crop_size: { height: 224, width: 224 }, resample: 3 });
    const timm = createTransform({ inputSize: 224, interpolation: 'bicubic' });
    const image = noise(640, 427);
    expect(hf.geometry(image).crop).toMatchObject({ top: 16, left: 79 });
    expect(timm.geometry(image).crop).toMatchObject({ top: 16, left: 80 });
    // Same resized pixels, shifted by one column.
    const a = hf.apply(image).data;
    const b = timm.apply(image).data;
    const mean = [0.5, 0.485];
    expect(mean.length).toBe(2);
    let equalShifted = 0;
    for (let y = 0; y < 224; y++) for (let x = 1; x < 224; x++) {
      const av = a[y * 224 + x]! * 0.5 + 0.5;
      const bv = b[y * 224 + x - 1]! * 0.229 + 0.485;
      if (Math.abs(av - bv) < 1e-5) equalShifted++;
    }
    expect(equalShifted).toBe(224 * 223);
  });

  it('pads an image smaller than crop_size with black, then rescales and normalizes it (-1 with mean = std = 0.5)', () => {
    const hf = createHuggingFaceTransform({ do_resize: false, do_center_crop: true, crop_size: 8 });
    const image = noise(5, 4);
    const out = hf.apply(image).data;
    // rows: pad 2 before, 2 after; columns: pad 1 before, 2 after.
    const at = (c: number, y: number, x: number) => out[c * 64 + y * 8 + x]!;
    expect(at(0, 0, 0)).toBe(-1);
    expect(at(0, 1, 3)).toBe(-1);
    expect(at(0, 2, 0)).toBe(-1);
    expect(at(1, 2, 6)).toBe(-1);
    const expected = Math.fround(Math.fround(Math.fround(image.data[1]! * (1 / 255)) - 0.5) / 0.5);
    expect(at(1, 2, 1)).toBe(expected);
  });

  it('rescales as float32(float64(u8) * factor), torchvision as float32(u8 / 255)', () => {
    const divide = createStepsTransform({ rescale: { mode: 'divide', divisor: 255 } });
    const multiply = createHuggingFaceTransform({ do_resize: false, do_normalize: false });
    const ramp: RawImage = { data: Uint8Array.from({ length: 256 }, (_, i) => i), width: 256, height: 1, channels: 1 };
    const a = divide.apply(ramp).data;
    const b = multiply.apply(ramp).data;
    for (let i = 0; i < 256; i++) {
      expect(a[i]).toBe(Math.fround(i / 255));
      expect(b[i]).toBe(Math.fround(i * (1 / 255)));
    }
    const half = createHuggingFaceTransform({ do_resize: false, do_normalize: false, rescale_factor: 0.5 }).apply(ramp).data;
    expect(half[201]).toBe(100.5);
  });

  it('refuses unsupported options', () => {
    expectThrows(() => createHuggingFaceTransform({ crop_pct: 0.875 }), InvalidConfigError, /crop_pct/);
    expectThrows(() => createHuggingFaceTransform({ size: { longest_edge: 1333 } }), InvalidConfigError, /longest_edge/);
    expectThrows(() => createHuggingFaceTransform({ resample: 9 }), InvalidConfigError, /resample/);
    expectThrows(() => createHuggingFaceTransform({ image_std: [1, 0, 1] }), InvalidConfigError, /image_std/);
  });
});

describe('input checks', () => {
  const transform = createTransform({ inputSize: 16 }, { maxPixels: 10_000 });

  it('empty, malformed and oversized images are InvalidImageError', () => {
    expectThrows(() => transform.apply({ data: new Uint8Array(0), width: 0, height: 0, channels: 3 }), InvalidImageError, /empty/);
    expectThrows(() => transform.apply({ data: new Uint8Array(10), width: 2, height: 2, channels: 3 }), InvalidImageError, /needs 12/);
    expectThrows(() => transform.apply({ ...noise(2, 2), channels: 5 as never }), InvalidImageError, /channels/);
    expectThrows(() => transform.apply(noise(101, 100)), InvalidImageError, /10100 pixels.*limit of 10000/);
    expect(transform.apply(noise(100, 100)).shape).toEqual([3, 16, 16]);
    expectThrows(() => transform.apply(null as never), VitzooError, /RawImage/);
  });

  it('a batch must come out at one size', () => {
    const noCrop = createHuggingFaceTransform({ size: { shortest_edge: 8 } });
    expectThrows(() => noCrop.applyBatch([noise(10, 20), noise(20, 10)]), InvalidArgumentError, /one size/);
    expectThrows(() => noCrop.applyBatch([]), InvalidArgumentError, /non-empty/);
    expect(noCrop.applyBatch([noise(10, 20), noise(20, 40)]).shape).toEqual([2, 3, 16, 8]);
  });

  it('an image too thin for the resize is InvalidImageError', () => {
    const border = createTransform({ inputSize: 16, cropMode: 'border' });
    expectThrows(() => border.apply(noise(1000, 1)), InvalidImageError, /too thin/);
  });
});

describe('mode conversions', () => {
  it('L, LA and RGBA to RGB: replicate gray, drop alpha without premultiplying', () => {
    expect(Array.from(toRgb({ data: Uint8Array.from([9, 200]), width: 2, height: 1, channels: 1 }).data)).toEqual([9, 9, 9, 200, 200, 200]);
    expect(Array.from(toRgb({ data: Uint8Array.from([9, 0, 200, 255]), width: 2, height: 1, channels: 2 }).data)).toEqual([9, 9, 9, 200, 200, 200]);
    expect(Array.from(toRgb({ data: Uint8Array.from([1, 2, 3, 0, 4, 5, 6, 128]), width: 2, height: 1, channels: 4 }).data)).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('16-bit grayscale: Pillow 9.4 clamps to 0..255 by default, msb8 keeps the high byte', () => {
    const image: RawImage = { data: Uint16Array.from([0, 100, 255, 256, 51143, 65535]), width: 6, height: 1, channels: 1 };
    expect(Array.from(toRgb(image).data.filter((_, i) => i % 3 === 0))).toEqual([0, 100, 255, 255, 255, 255]);
    expect(Array.from(toRgb(image, { sixteenBit: 'msb8' }).data.filter((_, i) => i % 3 === 0))).toEqual([0, 0, 0, 1, 199, 255]);
  });

  it('16-bit colour always keeps the high byte (Pillow unpacks RGB;16B that way)', () => {
    const image: RawImage = { data: Uint16Array.from([100, 256, 65535, 9, 51143, 0, 0, 7]), width: 2, height: 1, channels: 4 };
    expect(Array.from(toRgb(image).data)).toEqual([0, 1, 255, 199, 0, 0]);
  });
});
