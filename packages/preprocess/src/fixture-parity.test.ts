import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseSafetensors, type Tensor } from '@vitzoo/core';
import { describe, expect, it } from 'vitest';
import { createHuggingFaceTransform, createStepsTransform, createTransform, type ImageTransform, type RawImage } from './index.js';

const fixtures = fileURLToPath(new URL('../../../fixtures/preprocess/', import.meta.url));

interface TransformDefinition {
  interpolation: 'bilinear' | 'bicubic';
  mean: [number, number, number];
  std: [number, number, number];
  crop_pct?: number;
}
const definitions = JSON.parse(readFileSync(`${fixtures}transforms.json`, 'utf8')).transforms as Record<string, TransformDefinition>;
const catalogue = JSON.parse(readFileSync(`${fixtures}images.json`, 'utf8')).images as Record<
  string,
  { fixture: string; geometry: Record<string, { crop_top_left: [number, number] | null; resized_hw: [number, number] }> }
>;

/** Our transform for each fixture transform, built the way a user would. */
const transforms: Record<string, ImageTransform> = {
  timm_bicubic_0875: createTransform({ inputSize: [3, 224, 224], interpolation: 'bicubic', cropPct: 0.875, mean: definitions.timm_bicubic_0875!.mean, std: definitions.timm_bicubic_0875!.std }),
  timm_bilinear_0875: createTransform({ inputSize: 224, interpolation: 'bilinear', cropPct: 0.875 }),
  timm_bicubic_09: createTransform({
    inputSize: [3, 224, 224],
    interpolation: 'bicubic',
    cropPct: 0.9,
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
    numClasses: 1000,
  } as Parameters<typeof createTransform>[0]),
  hf_vit: createHuggingFaceTransform({
    image_processor_type: 'ViTImageProcessor',
    do_resize: true,
    size: { height: 224, width: 224 },
    resample: 2,
    do_rescale: true,
    rescale_factor: 0.00392156862745098,
    do_normalize: true,
    image_mean: [0.5, 0.5, 0.5],
    image_std: [0.5, 0.5, 0.5],
  }),
  hf_vit_bicubic_squash: createTransform({ inputSize: [3, 224, 224], interpolation: 'bicubic', cropPct: 1, cropMode: 'squash' }),
};

function decoded(tensors: Record<string, Tensor>, name = 'decoded'): RawImage {
  const tensor = tensors[name]!;
  const [height, width] = tensor.shape as [number, number, number];
  return { data: tensor.data as Uint8Array, width, height, channels: 3 };
}

const report: string[] = [];

describe('parity with the PIL / torchvision / Hugging Face fixtures', () => {
  for (const [file, entry] of Object.entries(catalogue)) {
    describe(file, () => {
      const tensors = parseSafetensors(new Uint8Array(readFileSync(`${fixtures}${entry.fixture}`))).tensors;
      for (const [name, transform] of Object.entries(transforms)) {
        it(name, () => {
          const expected = tensors[name]!.data as Float32Array;
          const image = decoded(tensors);
          const geometry = transform.geometry(image);
          const recorded = entry.geometry[name]!;
          expect([geometry.resized.height, geometry.resized.width]).toEqual(recorded.resized_hw);
          if (recorded.crop_top_left) expect([geometry.crop.top, geometry.crop.left]).toEqual(recorded.crop_top_left);

          const actual = transform.apply(image);
          expect(actual.shape).toEqual([3, 224, 224]);
          const std = definitions[name]!.std;
          const plane = 224 * 224;
          let exact = 0;
          let withinOneLevel = 0;
          let maxLevels = 0;
          for (let i = 0; i < expected.length; i++) {
            const levels = Math.abs(actual.data[i]! - expected[i]!) * 255 * std[Math.floor(i / plane)]!;
            if (actual.data[i] === expected[i]) exact++;
            if (levels <= 1 + 1e-4) withinOneLevel++;
            if (levels > maxLevels) maxLevels = levels;
          }
          report.push(`${file} ${name}: exact ${((100 * exact) / expected.length).toFixed(3)}%, max ${maxLevels.toFixed(4)} levels`);
          expect(withinOneLevel / expected.length).toBeGreaterThanOrEqual(0.999);
          expect(maxLevels).toBeLessThanOrEqual(2);
          // A faithful port of the rules is exact.
          expect(exact).toBe(expected.length);
        });
      }
    });
  }

  it('batches images of different sizes to [N, 3, 224, 224] with the same values', () => {
    const names = ['chelsea.png', 'gray_301x200.jpg', 'rgba_180x250.png'];
    const all = names.map((file) => parseSafetensors(new Uint8Array(readFileSync(`${fixtures}${catalogue[file]!.fixture}`))).tensors);
    const batch = transforms.timm_bicubic_09!.applyBatch(all.map((tensors) => decoded(tensors)));
    expect(batch.shape).toEqual([3, 3, 224, 224]);
    all.forEach((tensors, index) => {
      const expected = tensors.timm_bicubic_09!.data as Float32Array;
      const slice = batch.data.subarray(index * expected.length, (index + 1) * expected.length);
      expect(slice.every((value, i) => value === expected[i])).toBe(true);
    });
  });

  it('gives the same values from 1-channel grayscale and from RGBA input', () => {
    const gray = parseSafetensors(new Uint8Array(readFileSync(`${fixtures}gray_301x200.safetensors`))).tensors;
    const rgb = decoded(gray);
    const luminance = new Uint8Array(rgb.width * rgb.height);
    for (let p = 0; p < luminance.length; p++) luminance[p] = rgb.data[p * 3]!;
    const rgba = parseSafetensors(new Uint8Array(readFileSync(`${fixtures}rgba_180x250.safetensors`))).tensors;
    const colour = decoded(rgba);
    const withAlpha = new Uint8Array(colour.width * colour.height * 4);
    for (let p = 0; p < colour.width * colour.height; p++) {
      withAlpha.set(colour.data.subarray(p * 3, p * 3 + 3), p * 4);
      withAlpha[p * 4 + 3] = p % 3 === 0 ? 0 : 200;
    }
    for (const name of ['timm_bicubic_0875', 'hf_vit'] as const) {
      const fromGray = transforms[name]!.apply({ data: luminance, width: rgb.width, height: rgb.height, channels: 1 }).data;
      const fromRgba = transforms[name]!.apply({ data: withAlpha, width: colour.width, height: colour.height, channels: 4 }).data;
      const expectedGray = gray[name]!.data as Float32Array;
      const expectedRgba = rgba[name]!.data as Float32Array;
      expect(fromGray.every((value, i) => value === expectedGray[i])).toBe(true);
      expect(fromRgba.every((value, i) => value === expectedRgba[i])).toBe(true);
    }
  });

  it('gray16: the msb8 image through the transform differs from the clamp fixture', () => {
    const tensors = parseSafetensors(new Uint8Array(readFileSync(`${fixtures}gray16_200x150.safetensors`))).tensors;
    const clampImage = decoded(tensors);
    const msbImage = decoded(tensors, 'decoded_msb8');
    const transform = createStepsTransform({ rescale: { mode: 'divide', divisor: 255 } });
    const clamp = transform.apply(clampImage).data;
    const msb = transform.apply(msbImage).data;
    expect(clamp.some((value, i) => value !== msb[i])).toBe(true);
  });

  it('prints the parity report', () => {
    console.log(report.join('\n'));
    expect(report.length).toBe(Object.keys(catalogue).length * Object.keys(transforms).length);
  });
});
