import { CheckpointMismatchError, convertCheckpoint, createRegistry, createTensor, parseSafetensors } from '@vitzoo/core';
import { verifyCase } from '@vitzoo/conformance';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { swin } from './index.js';

const fixture = fileURLToPath(new URL('../../../fixtures/models/swin_tiny', import.meta.url));
const fixtureConfig = JSON.parse(readFileSync(`${fixture}/config.json`, 'utf8')) as { kwargs: Record<string, unknown> };
const loadFixtureWeights = () => parseSafetensors(readFileSync(`${fixture}/model.safetensors`)).tensors;

describe('swin on the swin_tiny fixture (timm 1.0.28)', () => {
  it('matches logits, pre_logits and features at batch 2 and batch 1', async () => {
    const report = await verifyCase(fixture, { registry: createRegistry([swin]) });
    expect(report.error).toBeUndefined();
    expect(report.comparisons.map((c) => `${c.output}@${c.batch}`)).toEqual([
      'logits@2', 'pre_logits@2', 'features@2',
      'logits@1', 'pre_logits@1', 'features@1',
      'logits@1', 'pre_logits@1', 'features@1',
    ]);
    for (const comparison of report.comparisons) expect(comparison.maxAbsDiff).toBeLessThanOrEqual(1e-4);
    expect(report.status).toBe('pass');
  });
});

describe('swin checkpoint validation', () => {
  it('refuses a checkpoint with a missing, an extra and a mis-shaped key, listing each', () => {
    const weights = { ...loadFixtureWeights() };
    delete weights['layers.1.blocks.0.norm1.bias'];
    weights['layers.1.blocks.0.extra.weight'] = createTensor('float32', [2], Float32Array.of(1, 2));
    weights['head.fc.bias'] = createTensor('float32', [11], new Float32Array(11));
    let error: unknown;
    try {
      convertCheckpoint({ architecture: swin, kwargs: fixtureConfig.kwargs, stateDict: weights });
    } catch (caught) {
      error = caught;
    }
    expect(CheckpointMismatchError.isInstance(error)).toBe(true);
    const mismatch = error as CheckpointMismatchError;
    expect(mismatch.missing).toEqual(['layers.1.blocks.0.norm1.bias']);
    expect(mismatch.unexpected).toEqual(['layers.1.blocks.0.extra.weight']);
    expect(mismatch.misshaped).toEqual([{ key: 'head.fc.bias', expected: [10], actual: [11] }]);
    expect(mismatch.message).toContain('layers.1.blocks.0.norm1.bias');
    expect(mismatch.message).toContain('layers.1.blocks.0.extra.weight');
    expect(mismatch.message).toContain('head.fc.bias is [11], expected [10]');
  });

  it('refuses a relative_position_bias_table that is not a square (2s-1)^2 table (no resize possible)', () => {
    const weights = { ...loadFixtureWeights() };
    weights['layers.0.blocks.0.attn.relative_position_bias_table'] = createTensor('float32', [50, 2], new Float32Array(100));
    expect(() => convertCheckpoint({ architecture: swin, kwargs: fixtureConfig.kwargs, stateDict: weights })).toThrow(
      /layers\.0\.blocks\.0\.attn\.relative_position_bias_table is \[50, 2\], expected \[49, 2\]/,
    );
  });
});
