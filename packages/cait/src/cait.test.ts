import {
  CheckpointMismatchError,
  convertCheckpoint,
  createRegistry,
  createTensor,
  graphBytes,
  InvalidConfigError,
  parseSafetensors,
  type OutputName,
  type StateDict,
} from '@vitzoo/core';
import { verifyCase } from '@vitzoo/conformance';
import { nodeBackend } from '@vitzoo/runtime-node';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cait, filterCaitCheckpoint, parseCaitConfig } from './index.js';

const fixture = fileURLToPath(new URL('../../../fixtures/models/cait_tiny', import.meta.url));
const fixtureKwargs = (JSON.parse(readFileSync(`${fixture}/config.json`, 'utf8')) as { kwargs: Record<string, unknown> }).kwargs;
const loadFixtureWeights = () => parseSafetensors(readFileSync(`${fixture}/model.safetensors`)).tensors;
const io = parseSafetensors(readFileSync(`${fixture}/io.safetensors`)).tensors;

async function run(kwargs: Record<string, unknown>, stateDict: StateDict, outputs: OutputName[]) {
  const graph = convertCheckpoint({ architecture: cait, kwargs, stateDict, outputs });
  const session = await nodeBackend.createSession(graphBytes(graph));
  try {
    return await session.run({ pixel_values: io.pixel_values! });
  } finally {
    await session.dispose();
  }
}

describe('cait on the cait_tiny fixture (timm 1.0.28)', () => {
  it('matches logits, pre_logits and features at batch 2 and batch 1', async () => {
    const report = await verifyCase(fixture, { registry: createRegistry([cait]) });
    expect(report.error).toBeUndefined();
    expect(report.comparisons).toHaveLength(9);
    for (const comparison of report.comparisons) expect(comparison.maxAbsDiff).toBeLessThanOrEqual(1e-4);
    expect(report.status).toBe('pass');
  });

  it("global_pool 'avg' pools the patch tokens of the features; '' keeps every token; num_classes 0 has no head", async () => {
    const weights = loadFixtureWeights();
    const features = io.features!.data as Float32Array; // [2, 17, 48]
    const avg = await run({ ...fixtureKwargs, global_pool: 'avg' }, weights, ['pre_logits', 'logits']);
    expect(avg.pre_logits!.shape).toEqual([2, 48]);
    for (const [b, c] of [[0, 0], [1, 47], [1, 5]] as const) {
      let mean = 0;
      for (let t = 1; t < 17; t++) mean += features[(b * 17 + t) * 48 + c]! / 16;
      expect((avg.pre_logits!.data as Float32Array)[b * 48 + c]).toBeCloseTo(mean, 4);
    }
    const head = weights['head.weight']!.data as Float32Array;
    const headBias = weights['head.bias']!.data as Float32Array;
    let logit = headBias[3]!;
    for (let c = 0; c < 48; c++) logit += head[3 * 48 + c]! * (avg.pre_logits!.data as Float32Array)[48 + c]!;
    expect((avg.logits!.data as Float32Array)[10 + 3]).toBeCloseTo(logit, 4);

    const none = await run({ ...fixtureKwargs, global_pool: '' }, weights, ['pre_logits', 'logits']);
    expect(none.pre_logits!.shape).toEqual([2, 17, 48]);
    expect(none.logits!.shape).toEqual([2, 17, 10]);
    // Token 0's logits are the fixture's logits (the head on the class token).
    for (let k = 0; k < 10; k++) expect((none.logits!.data as Float32Array)[k]).toBeCloseTo((io.logits!.data as Float32Array)[k]!, 4);

    const headless: StateDict = { ...weights };
    delete headless['head.weight'];
    delete headless['head.bias'];
    const noHead = await run({ ...fixtureKwargs, num_classes: 0 }, headless, ['logits']);
    expect(noHead.logits!.shape).toEqual([2, 48]);
    for (let c = 0; c < 48; c++) expect((noHead.logits!.data as Float32Array)[c]).toBeCloseTo(features[c]!, 4);
  });
});

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
