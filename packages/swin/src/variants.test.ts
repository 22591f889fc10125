import { createRegistry } from '@vitzoo/core';
import { describe, expect, it } from 'vitest';
import { swin } from './index.js';

const count = (shapes: Record<string, readonly number[]>) =>
  Object.values(shapes).reduce((total, shape) => total + shape.reduce((a, b) => a * b, 1), 0);

describe('swin variants', () => {
  it("every variant's kwargs parse and give timm's stage layout", () => {
    for (const [name, variant] of Object.entries(swin.variants)) {
      const config = swin.parseConfig(variant.kwargs);
      expect(config.stages, name).toHaveLength(4);
      expect(config.stages.at(-1)!.resolution, name).toEqual([config.imgSize[0] / 32, config.imgSize[1] / 32]);
      expect(Object.keys(variant.pretrained).length, name).toBeGreaterThan(0);
    }
  });

  it('checkpointShapes of swin_tiny_patch4_window7_224 sum to timm’s 28,288,354 parameters', () => {
    const config = swin.parseConfig(swin.variants.swin_tiny_patch4_window7_224!.kwargs);
    expect(count(swin.checkpointShapes(config))).toBe(28_288_354);
  });

  it('other parameter counts match timm (swin_base 224: 87,768,224; swin_large 384: 196,735,516)', () => {
    // Hand check for swin_base_patch4_window7_224: the 384 model differs only in its 23x23 tables
    // ((23^2 - 13^2) * heads summed over blocks: 360 * (2*4 + 2*8 + 18*16 + 2*32) = 135,360).
    const base224 = count(swin.checkpointShapes(swin.parseConfig(swin.variants.swin_base_patch4_window7_224!.kwargs)));
    const base384 = count(swin.checkpointShapes(swin.parseConfig(swin.variants.swin_base_patch4_window12_384!.kwargs)));
    expect(base224).toBe(87_768_224);
    expect(base384 - base224).toBe(135_360);
    expect(count(swin.checkpointShapes(swin.parseConfig(swin.variants.swin_large_patch4_window12_384!.kwargs)))).toBe(196_735_516);
  });

  it('pretrained configs follow timm: tag order, 21841-class in22k heads, crop_pct by resolution', () => {
    const tiny = swin.variants.swin_tiny_patch4_window7_224!;
    expect(Object.keys(tiny.pretrained)).toEqual(['ms_in1k', 'ms_in22k_ft_in1k', 'ms_in22k']);
    expect(Object.keys(swin.variants.swin_base_patch4_window7_224!.pretrained)[0]).toBe('ms_in22k_ft_in1k');
    expect(tiny.pretrained.ms_in22k!.numClasses).toBe(21841);
    expect(tiny.pretrained.ms_in1k).toMatchObject({
      inputSize: [3, 224, 224],
      interpolation: 'bicubic',
      cropPct: 0.9,
      mean: [0.485, 0.456, 0.406],
      std: [0.229, 0.224, 0.225],
      numClasses: 1000,
      hfHubId: 'timm/swin_tiny_patch4_window7_224.ms_in1k',
    });
    expect(swin.variants.swin_large_patch4_window12_384!.pretrained.ms_in22k_ft_in1k).toMatchObject({ inputSize: [3, 384, 384], cropPct: 1.0 });
    for (const variant of Object.values(swin.variants)) {
      const size = variant.kwargs.img_size;
      for (const config of Object.values(variant.pretrained)) expect(config.inputSize).toEqual([3, size, size]);
    }
  });

  it('registers and resolves variant.tag names', () => {
    const registry = createRegistry([swin]);
    const resolved = registry.resolve('timm/swin_base_patch4_window12_384.ms_in22k');
    expect(resolved.architecture.id).toBe('swin');
    expect(resolved.pretrained?.numClasses).toBe(21841);
    expect(registry.resolve('swin_small_patch4_window7_224').tag).toBe('ms_in22k_ft_in1k');
    expect(registry.list('swin_s3_*')).toEqual(['swin_s3_base_224', 'swin_s3_small_224', 'swin_s3_tiny_224']);
  });
});
