import { InvalidConfigError } from '@vitzoo/core';
import { describe, expect, it } from 'vitest';
import { parseSwinConfig } from './config.js';
import { swinVariants } from './variants.js';

const fixtureKwargs = { depths: [2, 2], embed_dim: 32, img_size: 32, num_classes: 10, num_heads: [2, 4], patch_size: 4, window_size: 4 };

describe('parseSwinConfig', () => {
  it("applies timm's window rule to the fixture: shift 2 at 8x8, one unshifted window at 4x4", () => {
    const config = parseSwinConfig(fixtureKwargs);
    expect(config.stages.map((s) => [s.resolution, s.dim, s.downsample])).toEqual([
      [[8, 8], 32, false],
      [[4, 4], 64, true],
    ]);
    expect(config.stages[0]!.blocks.map((b) => [b.window, b.shift, b.padded])).toEqual([
      [[4, 4], [0, 0], [8, 8]],
      [[4, 4], [2, 2], [8, 8]],
    ]);
    expect(config.stages[1]!.blocks.map((b) => [b.window, b.shift])).toEqual([
      [[4, 4], [0, 0]],
      [[4, 4], [0, 0]],
    ]);
  });

  it('gives timm defaults (swin_tiny_patch4_window7_224 geometry)', () => {
    const config = parseSwinConfig({});
    expect(config.stages.map((s) => s.resolution)).toEqual([[56, 56], [28, 28], [14, 14], [7, 7]]);
    expect(config.stages.map((s) => [s.numHeads, s.headDim, s.mlpHidden])).toEqual([[3, 32, 384], [6, 32, 768], [12, 32, 1536], [24, 32, 3072]]);
    expect(config.stages[3]!.blocks[1]!.shift).toEqual([0, 0]);
    expect(config.stages[2]!.blocks[1]!.shift).toEqual([3, 3]);
    expect(config.numFeatures).toBe(768);
  });

  it('reads per-stage windows, and a 2-list as one [h, w] window for every stage (timm)', () => {
    const s3 = parseSwinConfig(swinVariants.swin_s3_tiny_224!.kwargs);
    expect(s3.stages.map((s) => s.blocks[1]!.window)).toEqual([[7, 7], [7, 7], [14, 14], [7, 7]]);
    expect(s3.stages[2]!.blocks[1]!.shift).toEqual([0, 0]); // 14 <= 14
    const pair = parseSwinConfig({ ...fixtureKwargs, window_size: [2, 4] });
    expect(pair.windowSize).toEqual([[2, 4], [2, 4]]);
    expect(pair.stages[0]!.blocks[1]!.shift).toEqual([1, 2]);
  });

  it('pads to the window and keeps the floor-halved grid for the window rule after odd merges', () => {
    const config = parseSwinConfig({ img_size: 28, patch_size: 2, embed_dim: 4, depths: [1, 2, 2], num_heads: [1, 2, 2], window_size: 7 });
    expect(config.stages.map((s) => [s.resolution, s.nominalResolution])).toEqual([
      [[14, 14], [14, 14]],
      [[7, 7], [7, 7]],
      [[4, 4], [3, 3]],
    ]);
    expect(config.stages[2]!.blocks[1]).toEqual({ window: [3, 3], shift: [0, 0], padded: [6, 6] });
  });

  it('always_partition keeps the configured window and shift', () => {
    const config = parseSwinConfig({ img_size: 12, patch_size: 2, embed_dim: 4, depths: [2], num_heads: [2], window_size: 4, always_partition: true });
    expect(config.stages[0]!.blocks[1]).toEqual({ window: [4, 4], shift: [2, 2], padded: [8, 8] });
  });

  it('accepts and ignores training-only kwargs', () => {
    expect(() => parseSwinConfig({ ...fixtureKwargs, drop_path_rate: 0.2, attn_drop_rate: 0.1 })).not.toThrow();
  });

  const invalid: [string, Record<string, unknown>, string][] = [
    ['an unknown kwarg', { ...fixtureKwargs, windw_size: 7 }, 'windw_size'],
    ['window_size 0', { ...fixtureKwargs, window_size: 0 }, 'window_size'],
    ['a window list of the wrong length', { window_size: [7, 7, 7] }, 'window_size'],
    ['num_heads of the wrong length', { depths: [2, 2, 6, 2], num_heads: [3, 6, 12] }, 'num_heads'],
    ["global_pool 'max'", { global_pool: 'max' }, 'global_pool'],
    ['a per-stage embed_dim list (timm cannot build it either)', { embed_dim: [96, 192, 384, 768] }, 'embed_dim'],
    ['mlp_ratio 0', { mlp_ratio: 0 }, 'mlp_ratio'],
    ['head_dim as a string', { head_dim: '32' }, 'head_dim'],
    ['a custom norm layer', { norm_layer: 'rmsnorm' }, 'norm_layer'],
    ['an image smaller than a patch', { img_size: 2 }, 'img_size'],
    ['more stages than the grid can halve', { img_size: 8, patch_size: 4, depths: [1, 1, 1], num_heads: [1, 1, 1] }, 'depths'],
    [
      "an odd grid whose shifted windows timm's static mask cannot tile",
      { img_size: 36, patch_size: 2, embed_dim: 4, depths: [1, 1, 2], num_heads: [1, 1, 1], window_size: 2 },
      'img_size',
    ],
  ];
  for (const [what, kwargs, field] of invalid) {
    it(`refuses ${what} with InvalidConfigError naming '${field}'`, () => {
      let error: unknown;
      try {
        parseSwinConfig(kwargs);
      } catch (caught) {
        error = caught;
      }
      expect(InvalidConfigError.isInstance(error)).toBe(true);
      expect((error as InvalidConfigError).field).toBe(field);
      expect((error as Error).message).toContain(field);
    });
  }

  it('accepts that odd grid with strict_img_size=false (mask from the padded map, as timm does)', () => {
    const config = parseSwinConfig({ img_size: 36, patch_size: 2, embed_dim: 4, depths: [1, 1, 2], num_heads: [1, 1, 1], window_size: 2, strict_img_size: false });
    expect(config.stages[2]!.blocks[1]).toEqual({ window: [2, 2], shift: [1, 1], padded: [6, 6] });
  });
});
