import { describe, expect, test } from 'vitest';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { createRegistry, elementCount, parseSafetensors } from '@vitzoo/core';
import { verifyCase } from '@vitzoo/conformance';
import { deit } from './index.js';

const fixtures = fileURLToPath(new URL('../../../fixtures/models/', import.meta.url));
const registry = createRegistry([deit]);

describe('deit', () => {
  test('deit_distilled matches timm (mean of both heads) at batch 2 and 1', async () => {
    const report = await verifyCase(`${fixtures}deit_distilled`, { registry });
    expect(report.error).toBeUndefined();
    expect(report.comparisons).toHaveLength(9);
    for (const comparison of report.comparisons) expect(comparison.maxAbsDiff).toBeLessThanOrEqual(1e-4);
    expect(report.status).toBe('pass');
  });

  test('the distilled form follows the checkpoint unless kwargs say otherwise', () => {
    const stateDict = parseSafetensors(readFileSync(`${fixtures}deit_distilled/model.safetensors`)).tensors;
    const kwargs = JSON.parse(readFileSync(`${fixtures}deit_distilled/config.json`, 'utf8')).kwargs;
    expect(deit.parseConfig(kwargs, { stateDict }).distilled).toBe(true);
    expect(deit.parseConfig(kwargs, {}).distilled).toBe(false);
    expect(deit.parseConfig({ ...kwargs, distilled: false }, { stateDict }).distilled).toBe(false);
  });

  test('registered variants have the parameter counts timm reports', () => {
    const count = (name: string) => {
      const shapes = deit.checkpointShapes(deit.parseConfig(registry.resolve(name).kwargs));
      return Object.values(shapes).reduce((sum, shape) => sum + elementCount(shape), 0);
    };
    expect(count('deit_tiny_patch16_224')).toBe(5_717_416);
    expect(count('deit_tiny_distilled_patch16_224')).toBe(5_910_800);
    expect(count('deit_base_distilled_patch16_384')).toBe(87_630_032);
    expect(count('deit3_small_patch16_224')).toBe(22_059_496);
  });
});

test('deit_distilled logits-only graph (last block computes only the two prefix tokens) matches timm', async () => {
  const { nodeBackend } = await import('@vitzoo/runtime-node');
  const { graphBytes, maxAbsDifference } = await import('@vitzoo/core');
  const dir = `${fixtures}deit_distilled`;
  const stateDict = parseSafetensors(readFileSync(`${dir}/model.safetensors`)).tensors;
  const io = parseSafetensors(readFileSync(`${dir}/io.safetensors`)).tensors;
  const config = deit.parseConfig(JSON.parse(readFileSync(`${dir}/config.json`, 'utf8')).kwargs, { stateDict });
  for (const attentionKernel of ['packed', 'fused', 'unfused']) {
    const graph = deit.buildGraph(config, stateDict, { outputs: ['logits', 'pre_logits'], attentionKernel } as never);
    const session = await nodeBackend.createSession(graphBytes(graph));
    const result = await session.run({ pixel_values: io.pixel_values! });
    await session.dispose();
    expect(maxAbsDifference(result.logits!, io.logits!)).toBeLessThanOrEqual(1e-4);
    expect(maxAbsDifference(result.pre_logits!, io.pre_logits!)).toBeLessThanOrEqual(1e-4);
  }
});
