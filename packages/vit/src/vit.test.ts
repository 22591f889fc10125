import { describe, expect, test } from 'vitest';
import { fileURLToPath } from 'node:url';
import { CheckpointMismatchError, convertCheckpoint, createRegistry, elementCount, InvalidConfigError, parseSafetensors } from '@vitzoo/core';
import { verifyCase } from '@vitzoo/conformance';
import { readFileSync } from 'node:fs';
import { vit } from './index.js';

const fixtures = fileURLToPath(new URL('../../../fixtures/models/', import.meta.url));
const registry = createRegistry([vit]);

describe('vit', () => {
  for (const name of ['vit_tiny', 'vit_gap']) {
    test(`${name} matches timm on logits, pre_logits and features at batch 2 and 1`, async () => {
      const report = await verifyCase(`${fixtures}${name}`, { registry });
      expect(report.error).toBeUndefined();
      const seen = new Set(report.comparisons.map((c) => `${c.output}@${c.batch}`));
      expect(seen).toEqual(new Set(['logits@2', 'pre_logits@2', 'features@2', 'logits@1', 'pre_logits@1', 'features@1']));
      for (const comparison of report.comparisons) expect(comparison.maxAbsDiff).toBeLessThanOrEqual(1e-4);
      expect(report.status).toBe('pass');
    });
  }

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

describe('vit graph variants', () => {
  const cases = ['vit_tiny', 'vit_gap'];
  const kernels = [
    { attentionKernel: 'packed' },
    { attentionKernel: 'fused' },
    { attentionKernel: 'unfused' },
    { attentionKernel: 'fused', skipLayerNorm: true },
    { attentionKernel: 'packed', pruneLastBlock: false },
  ] as const;
  for (const name of cases) {
    for (const kernels_ of kernels) {
      test(`${name} logits/pre_logits-only graph (${JSON.stringify(kernels_)}) matches timm`, async () => {
        const { nodeBackend } = await import('@vitzoo/runtime-node');
        const { graphBytes, maxAbsDifference } = await import('@vitzoo/core');
        const dir = `${fixtures}${name}`;
        const stateDict = parseSafetensors(readFileSync(`${dir}/model.safetensors`)).tensors;
        const io = parseSafetensors(readFileSync(`${dir}/io.safetensors`)).tensors;
        const config = vit.parseConfig(JSON.parse(readFileSync(`${dir}/config.json`, 'utf8')).kwargs);
        const graph = vit.buildGraph(config, stateDict, { outputs: ['logits', 'pre_logits'], ...kernels_ } as never);
        const session = await nodeBackend.createSession(graphBytes(graph));
        const result = await session.run({ pixel_values: io.pixel_values! });
        await session.dispose();
        expect(maxAbsDifference(result.logits!, io.logits!)).toBeLessThanOrEqual(1e-4);
        expect(maxAbsDifference(result.pre_logits!, io.pre_logits!)).toBeLessThanOrEqual(1e-4);
      });
    }
  }
});
