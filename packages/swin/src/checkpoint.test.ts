import { CheckpointMismatchError, convertCheckpoint, createTensor, graphBytes, maxAbsDifference, parseSafetensors, type StateDict, type Tensor } from '@vitzoo/core';
import { nodeBackend } from '@vitzoo/runtime-node';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { filterSwinCheckpoint, isMicrosoftLayout, resizeRelativePositionBiasTable } from './checkpoint.js';
import { parseSwinConfig, swinCheckpointShapes } from './config.js';
import { swin } from './index.js';

const fixture = fileURLToPath(new URL('../../../fixtures/models/swin_tiny', import.meta.url));
const fixtureKwargs = (JSON.parse(readFileSync(`${fixture}/config.json`, 'utf8')) as { kwargs: Record<string, unknown> }).kwargs;

const tensor = (shape: number[], fill = 0) => createTensor('float32', shape, new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(fill));

describe('Microsoft (original Swin repo) checkpoint layout', () => {
  // A 3-stage original-layout state dict written by hand: each stage's PatchMerging sits at the end
  // of the PREVIOUS stage, the classifier is `head`, and the buffers are saved.
  const kwargs = { img_size: 32, patch_size: 4, embed_dim: 4, depths: [1, 1, 1], num_heads: [1, 1, 1], window_size: 2, num_classes: 3 };
  const config = parseSwinConfig(kwargs);
  const microsoft: StateDict = {};
  const put = (key: string, shape: number[]) => (microsoft[key] = tensor(shape, Object.keys(microsoft).length));
  put('patch_embed.proj.weight', [4, 3, 4, 4]);
  put('patch_embed.proj.bias', [4]);
  put('patch_embed.norm.weight', [4]);
  put('patch_embed.norm.bias', [4]);
  const dims = [4, 8, 16];
  for (let stage = 0; stage < 3; stage++) {
    const d = dims[stage]!;
    const p = `layers.${stage}.blocks.0`;
    put(`${p}.norm1.weight`, [d]);
    put(`${p}.norm1.bias`, [d]);
    put(`${p}.attn.relative_position_bias_table`, [9, 1]);
    put(`${p}.attn.relative_position_index`, [4, 4]);
    put(`${p}.attn.qkv.weight`, [3 * d, d]);
    put(`${p}.attn.qkv.bias`, [3 * d]);
    put(`${p}.attn.proj.weight`, [d, d]);
    put(`${p}.attn.proj.bias`, [d]);
    put(`${p}.norm2.weight`, [d]);
    put(`${p}.norm2.bias`, [d]);
    put(`${p}.mlp.fc1.weight`, [4 * d, d]);
    put(`${p}.mlp.fc1.bias`, [4 * d]);
    put(`${p}.mlp.fc2.weight`, [d, 4 * d]);
    put(`${p}.mlp.fc2.bias`, [d]);
    if (stage < 2) {
      put(`layers.${stage}.downsample.norm.weight`, [4 * d]);
      put(`layers.${stage}.downsample.norm.bias`, [4 * d]);
      put(`layers.${stage}.downsample.reduction.weight`, [2 * d, 4 * d]);
    }
  }
  put('layers.0.blocks.1.attn_mask', [16, 4, 4]);
  put('norm.weight', [16]);
  put('norm.bias', [16]);
  put('head.weight', [3, 16]);
  put('head.bias', [3]);

  it('is detected, and timm checkpoints are not', () => {
    expect(isMicrosoftLayout(microsoft)).toBe(true);
    expect(isMicrosoftLayout(parseSafetensors(readFileSync(`${fixture}/model.safetensors`)).tensors)).toBe(false);
  });

  it("maps to timm 1.0 keys: downsample moves to the next stage, head -> head.fc, buffers dropped", () => {
    const before = Object.keys(microsoft).length;
    const filtered = filterSwinCheckpoint(microsoft, config);
    expect(Object.keys(microsoft).length).toBe(before); // input untouched
    expect(filtered['layers.1.downsample.reduction.weight']).toBe(microsoft['layers.0.downsample.reduction.weight']);
    expect(filtered['layers.1.downsample.norm.weight']).toBe(microsoft['layers.0.downsample.norm.weight']);
    expect(filtered['layers.2.downsample.reduction.weight']).toBe(microsoft['layers.1.downsample.reduction.weight']);
    expect(filtered['layers.2.downsample.norm.bias']).toBe(microsoft['layers.1.downsample.norm.bias']);
    expect(filtered['head.fc.weight']).toBe(microsoft['head.weight']);
    expect(filtered['head.fc.bias']).toBe(microsoft['head.bias']);
    expect(filtered['layers.0.blocks.0.attn.qkv.weight']).toBe(microsoft['layers.0.blocks.0.attn.qkv.weight']);
    expect(Object.keys(filtered).some((k) => k.includes('relative_position_index') || k.includes('attn_mask'))).toBe(false);
    expect(Object.keys(filtered).some((k) => k.startsWith('layers.0.downsample') || k.startsWith('head.weight'))).toBe(false);
    expect(Object.keys(filtered).sort()).toEqual(Object.keys(swinCheckpointShapes(config)).sort());
  });

  it('leaves timm checkpoints alone apart from the buffers', () => {
    const timm = filterSwinCheckpoint(microsoft, config);
    const again = filterSwinCheckpoint({ ...timm, 'layers.0.blocks.0.attn.relative_position_index': tensor([4, 4]) }, config);
    expect(again).toEqual(timm);
  });

  it('the fixture model saved in the original layout gives the same outputs (PatchMerging order is unchanged)', async () => {
    const timm = parseSafetensors(readFileSync(`${fixture}/model.safetensors`)).tensors;
    const io = parseSafetensors(readFileSync(`${fixture}/io.safetensors`)).tensors;
    const original: StateDict = {};
    for (const [key, value] of Object.entries(timm)) {
      const renamed = key.replace(/^layers\.(\d+)\.downsample\./, (_, s: string) => `layers.${Number(s) - 1}.downsample.`).replace(/^head\.fc\./, 'head.');
      original[renamed] = value;
    }
    original['layers.0.blocks.1.attn_mask'] = tensor([4, 16, 16]);
    original['layers.0.blocks.0.attn.relative_position_index'] = tensor([16, 16]);
    const graph = convertCheckpoint({ architecture: swin, kwargs: fixtureKwargs, stateDict: original });
    const session = await nodeBackend.createSession(graphBytes(graph));
    const result = await session.run({ pixel_values: io.pixel_values! });
    await session.dispose();
    expect(maxAbsDifference(result.logits!, io.logits!)).toBeLessThanOrEqual(1e-4);
  });
});

describe('relative_position_bias_table resizing (timm resize_rel_pos_bias_table)', () => {
  const table = (side: number, heads: number, value: (dy: number, dx: number, head: number) => number): Tensor => {
    const data = new Float32Array(side * side * heads);
    const half = (side - 1) / 2;
    for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) for (let h = 0; h < heads; h++) data[(y * side + x) * heads + h] = value(y - half, x - half, h);
    return createTensor('float32', [side * side, heads], data);
  };

  it('window 2 -> 3: the source offsets -1, 0, 1 stay put and the new outer offsets repeat the edge', () => {
    const source = table(3, 2, (dy, dx, h) => 100 * h + 10 * dy + dx);
    const resized = resizeRelativePositionBiasTable(source, [3, 3])!;
    expect(resized.shape).toEqual([25, 2]);
    const clamp = (v: number) => Math.max(-1, Math.min(1, v));
    const expected = table(5, 2, (dy, dx, h) => 100 * h + 10 * clamp(dy) + clamp(dx));
    expect(Array.from(resized.data)).toEqual(Array.from(expected.data as Float32Array));
  });

  it('window 7 -> 12: keeps the centre and the corners, and a constant table constant', () => {
    const source = table(13, 3, (dy, dx, h) => h + 0.5 * dy - 0.25 * dx + 0.01 * dy * dx);
    const resized = resizeRelativePositionBiasTable(source, [12, 12])!;
    expect(resized.shape).toEqual([23 * 23, 3]);
    const at = (t: Tensor, side: number, dy: number, dx: number, h: number) => t.data[((dy + (side - 1) / 2) * side + dx + (side - 1) / 2) * 3 + h] as number;
    for (let h = 0; h < 3; h++) {
      expect(at(resized, 23, 0, 0, h)).toBeCloseTo(at(source, 13, 0, 0, h), 6);
      expect(at(resized, 23, -11, -11, h)).toBeCloseTo(at(source, 13, -6, -6, h), 5);
      expect(at(resized, 23, 11, 11, h)).toBeCloseTo(at(source, 13, 6, 6, h), 5);
    }
    const constant = resizeRelativePositionBiasTable(table(13, 1, () => 0.75), [12, 12])!;
    for (const v of constant.data as Float32Array) expect(v).toBeCloseTo(0.75, 6);
  });

  it('is applied by the filter when a block window differs from the checkpoint', () => {
    const kwargs = { img_size: 12, patch_size: 2, embed_dim: 4, depths: [1], num_heads: [2], window_size: 3, num_classes: 2 };
    const config = parseSwinConfig(kwargs);
    const weights: StateDict = {};
    for (const [key, shape] of Object.entries(swinCheckpointShapes(config))) weights[key] = tensor([...shape]);
    weights['layers.0.blocks.0.attn.relative_position_bias_table'] = table(3, 2, (dy, dx, h) => 100 * h + 10 * dy + dx);
    const filtered = filterSwinCheckpoint(weights, config);
    expect(filtered['layers.0.blocks.0.attn.relative_position_bias_table']!.shape).toEqual([25, 2]);
    expect(() => convertCheckpoint({ architecture: swin, kwargs, stateDict: weights })).not.toThrow();
  });
});

describe('swin checkpoint validation', () => {
  it('refuses a checkpoint with a missing, an extra and a mis-shaped key, listing each', () => {
    const weights = { ...parseSafetensors(readFileSync(`${fixture}/model.safetensors`)).tensors };
    delete weights['layers.1.blocks.0.norm1.bias'];
    weights['layers.1.blocks.0.extra.weight'] = createTensor('float32', [2], Float32Array.of(1, 2));
    weights['head.fc.bias'] = createTensor('float32', [11], new Float32Array(11));
    let error: unknown;
    try {
      convertCheckpoint({ architecture: swin, kwargs: fixtureKwargs, stateDict: weights });
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
    const weights = { ...parseSafetensors(readFileSync(`${fixture}/model.safetensors`)).tensors };
    weights['layers.0.blocks.0.attn.relative_position_bias_table'] = createTensor('float32', [50, 2], new Float32Array(100));
    expect(() => convertCheckpoint({ architecture: swin, kwargs: fixtureKwargs, stateDict: weights })).toThrow(
      /layers\.0\.blocks\.0\.attn\.relative_position_bias_table is \[50, 2\], expected \[49, 2\]/,
    );
  });
});
