import { CheckpointMismatchError, convertCheckpoint, createTensor, InvalidConfigError, parseSafetensors, type StateDict } from '@vitzoo/core';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { filterCaitCheckpoint } from './checkpoint.js';
import { parseCaitConfig } from './config.js';
import { cait } from './index.js';

const fixture = fileURLToPath(new URL('../../../fixtures/models/cait_tiny', import.meta.url));
const fixtureKwargs = (JSON.parse(readFileSync(`${fixture}/config.json`, 'utf8')) as { kwargs: Record<string, unknown> }).kwargs;
const loadFixtureWeights = () => parseSafetensors(readFileSync(`${fixture}/model.safetensors`)).tensors;

describe('cait checkpoints', () => {
  it('refuses a checkpoint with a missing, an extra and a mis-shaped key, listing each', () => {
    const weights = { ...loadFixtureWeights() };
    delete weights['blocks_token_only.1.gamma_2'];
    weights['blocks.0.attn.proj_x.weight'] = createTensor('float32', [3, 3], new Float32Array(9));
    weights['blocks.1.attn.proj_l.weight'] = createTensor('float32', [4, 4], new Float32Array(16));
    let error: unknown;
    try {
      convertCheckpoint({ architecture: cait, kwargs: fixtureKwargs, stateDict: weights });
    } catch (caught) {
      error = caught;
    }
    expect(CheckpointMismatchError.isInstance(error)).toBe(true);
    const mismatch = error as CheckpointMismatchError;
    expect(mismatch.missing).toEqual(['blocks_token_only.1.gamma_2']);
    expect(mismatch.unexpected).toEqual(['blocks.0.attn.proj_x.weight']);
    expect(mismatch.misshaped).toEqual([{ key: 'blocks.1.attn.proj_l.weight', expected: [3, 3], actual: [4, 4] }]);
    expect(mismatch.message).toContain('blocks.1.attn.proj_l.weight is [4, 4], expected [3, 3]');
  });

  it("strips 'module.' from every key as timm's checkpoint_filter_fn does, without touching the input", () => {
    const tensor = createTensor('float32', [1], Float32Array.of(1));
    const input = { 'module.cls_token': tensor, 'module.blocks.0.gamma_1': tensor, pos_embed: tensor };
    expect(filterCaitCheckpoint(input)).toEqual({ cls_token: tensor, 'blocks.0.gamma_1': tensor, pos_embed: tensor });
    expect(Object.keys(input)).toEqual(['module.cls_token', 'module.blocks.0.gamma_1', 'pos_embed']);
  });

  it('a DataParallel-saved fixture checkpoint still converts', () => {
    const prefixed: StateDict = {};
    for (const [key, value] of Object.entries(loadFixtureWeights())) prefixed[`module.${key}`] = value;
    expect(() => convertCheckpoint({ architecture: cait, kwargs: fixtureKwargs, stateDict: prefixed })).not.toThrow();
  });
});

describe('parseCaitConfig', () => {
  it('reads the fixture kwargs with timm defaults for the rest', () => {
    const config = parseCaitConfig(fixtureKwargs);
    expect(config).toMatchObject({ patchGrid: [4, 4], numPatches: 16, headDim: 16, depthTokenOnly: 2, qkvBias: true, globalPool: 'token', mlpHidden: 192 });
  });

  const invalid: [string, Record<string, unknown>, string][] = [
    ['an unknown kwarg', { ...fixtureKwargs, depth_tokens_only: 2 }, 'depth_tokens_only'],
    ['embed_dim not divisible by num_heads', { ...fixtureKwargs, num_heads: 5 }, 'num_heads'],
    ["global_pool 'max'", { global_pool: 'max' }, 'global_pool'],
    ['a negative depth', { depth: -1 }, 'depth'],
    ['a custom block class', { block_layers: 'LayerScaleBlock' }, 'block_layers'],
    ['an image smaller than a patch', { img_size: 8 }, 'img_size'],
    ['mlp_ratio 0', { mlp_ratio: 0 }, 'mlp_ratio'],
  ];
  for (const [what, kwargs, field] of invalid) {
    it(`refuses ${what} with InvalidConfigError naming '${field}'`, () => {
      let error: unknown;
      try {
        parseCaitConfig(kwargs);
      } catch (caught) {
        error = caught;
      }
      expect(InvalidConfigError.isInstance(error)).toBe(true);
      expect((error as InvalidConfigError).field).toBe(field);
    });
  }
});
