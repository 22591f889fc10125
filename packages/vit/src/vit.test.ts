import { describe, expect, test } from 'vitest';
import { fileURLToPath } from 'node:url';
import { CheckpointMismatchError, convertCheckpoint, createRegistry, elementCount, InvalidConfigError, parseSafetensors } from '@vitzoo/core';
import { concatRows, fromTensor, resampleGridBicubicAntialias, rows } from '@vitzoo/conformance/reference';
import { randomStateDict } from '@vitzoo/conformance/sweep';
import { readFileSync } from 'node:fs';
import { vit } from './index.js';

const fixtures = fileURLToPath(new URL('../../../fixtures/models/', import.meta.url));
const registry = createRegistry([vit]);

describe('vit', () => {
  const weights = () => parseSafetensors(readFileSync(`${fixtures}vit_tiny/model.safetensors`)).tensors;
  const kwargs = JSON.parse(readFileSync(`${fixtures}vit_tiny/config.json`, 'utf8')).kwargs;

  test('refuses a checkpoint with missing, unexpected and mis-shaped keys, listing each', () => {
    const stateDict = { ...weights() };
    delete stateDict['blocks.1.mlp.fc2.bias'];
    stateDict['blocks.0.attn.extra'] = stateDict['norm.bias']!;
    stateDict['head.weight'] = { dtype: 'float32', shape: [11, 48], data: new Float32Array(11 * 48) };
    let error: unknown;
    try {
      convertCheckpoint({ architecture: vit, kwargs, stateDict });
    } catch (caught) {
      error = caught;
    }
    expect(CheckpointMismatchError.isInstance(error)).toBe(true);
    const mismatch = error as CheckpointMismatchError;
    expect(mismatch.missing).toEqual(['blocks.1.mlp.fc2.bias']);
    expect(mismatch.unexpected).toEqual(['blocks.0.attn.extra']);
    expect(mismatch.misshaped).toEqual([{ key: 'head.weight', expected: [10, 48], actual: [11, 48] }]);
    expect(mismatch.message).toMatch(/missing 1 key.*blocks\.1\.mlp\.fc2\.bias/);
  });

  test.each([
    [{ embed_dim: 50, num_heads: 3 }, 'num_heads'],
    [{ img_size: 30 }, 'img_size'],
    [{ depth: -1 }, 'depth'],
    [{ global_pool: 'mean' }, 'global_pool'],
    [{ qkv_bias: 'yes' }, 'qkv_bias'],
    [{ patch_sise: 16 }, 'patch_sise'],
    [{ class_token: false, global_pool: 'token' }, 'global_pool'],
  ])('refuses bad kwargs %j naming the field', (bad, field) => {
    let error: unknown;
    try {
      vit.parseConfig({ ...kwargs, ...bad });
    } catch (caught) {
      error = caught;
    }
    expect(InvalidConfigError.isInstance(error)).toBe(true);
    expect((error as InvalidConfigError).field).toBe(field);
  });

  test('registered variants have the parameter counts timm reports', () => {
    const count = (name: string) => {
      const shapes = vit.checkpointShapes(vit.parseConfig(registry.resolve(name).kwargs));
      return Object.values(shapes).reduce((sum, shape) => sum + elementCount(shape), 0);
    };
    // timm: sum(p.numel() for p in create_model(name).parameters())
    expect(count('vit_tiny_patch16_224')).toBe(5_717_416);
    expect(count('vit_small_patch16_224')).toBe(22_050_664);
    expect(count('vit_base_patch16_224')).toBe(86_567_656);
    expect(count('vit_base_patch32_224')).toBe(88_224_232);
    expect(count('vit_large_patch16_224')).toBe(304_326_632);
  });

  test('resolves and lists timm names', () => {
    expect(registry.resolve('vit_base_patch16_224').tag).toBe('augreg2_in21k_ft_in1k');
    expect(registry.resolve('timm/vit_tiny_patch16_224.augreg_in21k').pretrained?.numClasses).toBe(21843);
    expect(registry.list('vit_*_patch32_384')).toEqual(['vit_base_patch32_384', 'vit_large_patch32_384', 'vit_small_patch32_384']);
  });
});

describe('position embeddings made for another image size', () => {
  const checkpointKwargs = { img_size: 24, patch_size: 4, embed_dim: 6, depth: 0, num_heads: 2, num_classes: 0 };
  for (const [label, kwargs, target] of [
    ['upsampled to a non-square grid (6x6 → 5x9)', { img_size: [20, 36] }, [5, 9]],
    ['downsampled, antialiased (6x6 → 3x2)', { img_size: [12, 8] }, [3, 2]],
    ['no_embed_class (no prefix positions)', { img_size: [16, 16], no_embed_class: true }, [4, 4]],
    ['with register tokens', { img_size: [32, 28], reg_tokens: 2 }, [8, 7]],
  ] as const) {
    test(`are resampled as timm's checkpoint_filter_fn does: ${label}`, () => {
      const source = vit.parseConfig({ ...checkpointKwargs, ...kwargs, img_size: 24 });
      const stateDict = randomStateDict(vit.checkpointShapes(source), 3);
      const config = vit.parseConfig({ ...checkpointKwargs, ...kwargs });
      const filtered = vit.filterCheckpoint!(stateDict, config);
      const prefix = config.noEmbedClass ? 0 : config.numPrefixTokens;
      const original = fromTensor(stateDict.pos_embed!);
      const flat = { shape: [original.shape[1]!, 6], data: original.data };
      const expected = concatRows([rows(flat, 0, prefix), resampleGridBicubicAntialias(rows(flat, prefix, prefix + 36), [6, 6], target)]);
      expect(filtered.pos_embed!.shape).toEqual([1, prefix + target[0] * target[1], 6]);
      const actual = filtered.pos_embed!.data as Float32Array;
      let max = 0;
      for (let i = 0; i < expected.data.length; i++) max = Math.max(max, Math.abs(actual[i]! - expected.data[i]!));
      expect(max).toBeLessThan(1e-6);
      // The checkpoint given is not modified.
      expect(stateDict.pos_embed!.shape).toEqual([1, prefix + 36, 6]);
      // And the graph builds with it.
      expect(() => convertCheckpoint({ architecture: vit, kwargs: { ...checkpointKwargs, ...kwargs }, stateDict })).not.toThrow();
    });
  }

  test('a grid that is not square cannot be resampled: typed error naming pos_embed', () => {
    const config = vit.parseConfig({ ...checkpointKwargs, img_size: 16 });
    const stateDict = randomStateDict(vit.checkpointShapes(vit.parseConfig({ ...checkpointKwargs, img_size: [8, 16] })), 3);
    expect(() => vit.filterCheckpoint!(stateDict, config)).toThrow(/pos_embed/);
  });
});
