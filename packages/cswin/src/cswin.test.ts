import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import {
  CheckpointMismatchError,
  convertCheckpoint,
  createRegistry,
  elementCount,
  graphBytes,
  InvalidConfigError,
  parseSafetensors,
  type StateDict,
} from '@vitzoo/core';
import { verifyCase } from '@vitzoo/conformance';
import { nodeBackend } from '@vitzoo/runtime-node';
import { AUTHOR_NAMES, cswin, cswinVariants } from './index.js';

const fixture = fileURLToPath(new URL('../../../fixtures/models/cswin_tiny/', import.meta.url));
const kwargs = JSON.parse(readFileSync(`${fixture}config.json`, 'utf8')).kwargs as Record<string, unknown>;
const weights = (): StateDict => parseSafetensors(readFileSync(`${fixture}model.safetensors`)).tensors;

function thrown(body: () => unknown): unknown {
  try {
    body();
  } catch (error) {
    return error;
  }
  throw new Error('expected an error');
}

describe('cswin fixture', () => {
  test('matches the authors\' CSWinTransformer on logits and features at batch 2 and 1', async () => {
    const report = await verifyCase(fixture, { registry: createRegistry([cswin]) });
    expect(report.error).toBeUndefined();
    const seen = report.comparisons.map((c) => `${c.output}@${c.batch}`);
    expect(new Set(seen)).toEqual(new Set(['logits@2', 'features@2', 'logits@1', 'features@1']));
    expect(seen.filter((s) => s.endsWith('@1'))).toHaveLength(4); // each of the 2 samples alone
    for (const comparison of report.comparisons) expect(comparison.maxAbsDiff).toBeLessThanOrEqual(1e-4);
    expect(report.status).toBe('pass');
  });

  test('exposes the requested outputs in order; pre_logits is the pooled feature vector and logits = head(features)', async () => {
    const stateDict = weights();
    const graph = convertCheckpoint({ architecture: cswin, kwargs, stateDict, outputs: ['features', 'logits', 'pre_logits'] });
    expect(graph.outputs.map((o) => [o.name, o.shape])).toEqual([
      ['features', ['batch', 128]],
      ['logits', ['batch', 10]],
      ['pre_logits', ['batch', 128]],
    ]);
    const io = parseSafetensors(readFileSync(`${fixture}io.safetensors`)).tensors;
    const session = await nodeBackend.createSession(graphBytes(graph));
    try {
      const result = await session.run({ pixel_values: io.pixel_values! });
      expect(Array.from(result.pre_logits!.data as Float32Array)).toEqual(Array.from(result.features!.data as Float32Array));
      // head by hand: logits[b, o] = sum_i features[b, i] * W[o, i] + bias[o]
      const features = result.features!.data as Float32Array;
      const w = stateDict['head.weight']!.data as Float32Array;
      const bias = stateDict['head.bias']!.data as Float32Array;
      const logits = result.logits!.data as Float32Array;
      for (let b = 0; b < 2; b++) {
        for (let o = 0; o < 10; o++) {
          let sum = bias[o]!;
          for (let i = 0; i < 128; i++) sum += features[b * 128 + i]! * w[o * 128 + i]!;
          expect(Math.abs(sum - logits[b * 10 + o]!)).toBeLessThan(1e-4);
        }
      }
    } finally {
      await session.dispose();
    }
  });

  test('uses the fused kernels (MultiHeadAttention, Gelu, LayerNormalization) and no unfused softmax', () => {
    const graph = convertCheckpoint({ architecture: cswin, kwargs, stateDict: weights() });
    const text = new TextDecoder('latin1').decode(graphBytes(graph));
    expect(text).toContain('MultiHeadAttention');
    expect(text).toContain('Gelu');
    expect(text).toContain('LayerNormalization');
    expect(text).not.toContain('Softmax');
    expect(text).not.toContain('Erf');
  });
});

describe('cswin checkpoints', () => {
  test('refuses missing, unexpected and mis-shaped keys, listing each', () => {
    const stateDict = { ...weights() };
    delete stateDict['stage2.1.attns.1.get_v.bias'];
    stateDict['stage4.0.attns.1.get_v.weight'] = stateDict['stage4.0.attns.0.get_v.weight']!;
    stateDict['merge2.conv.weight'] = { dtype: 'float32', shape: [64, 32, 2, 2], data: new Float32Array(64 * 32 * 4) };
    const error = thrown(() => convertCheckpoint({ architecture: cswin, kwargs, stateDict }));
    expect(CheckpointMismatchError.isInstance(error)).toBe(true);
    const mismatch = error as CheckpointMismatchError;
    expect(mismatch.missing).toEqual(['stage2.1.attns.1.get_v.bias']);
    expect(mismatch.unexpected).toEqual(['stage4.0.attns.1.get_v.weight']);
    expect(mismatch.misshaped).toEqual([{ key: 'merge2.conv.weight', expected: [64, 32, 3, 3], actual: [64, 32, 2, 2] }]);
  });

  test('qkv_bias false expects no qkv biases', () => {
    const stateDict = weights();
    const error = thrown(() => convertCheckpoint({ architecture: cswin, kwargs: { ...kwargs, qkv_bias: false }, stateDict }));
    expect((error as CheckpointMismatchError).unexpected).toEqual(
      ['stage1.0.qkv.bias', 'stage2.0.qkv.bias', 'stage2.1.qkv.bias', 'stage3.0.qkv.bias', 'stage4.0.qkv.bias'],
    );
  });
});

describe('cswin config', () => {
  test.each([
    [{ img_size: 80 }, 'img_size', /stage 2 has a 10x10 token grid.*split_size\[1\] = 4/],
    [{ img_size: 72, split_size: [1, 1, 1, 1] }, 'img_size', /stage 3 gets 5x5 tokens.*img_size \/\/ 16 = 4/],
    [{ img_size: 63 }, 'img_size', /stem/],
    [{ num_heads: [2, 4, 6, 8] }, 'num_heads', /stage 3: 6 heads, 64 channels/],
    [{ num_heads: [1, 4, 4, 8] }, 'num_heads', /at least 2/],
    [{ num_heads: [2, 4, 4, 6] }, 'num_heads', /stage 4: 6 heads for 128 channels/],
    [{ num_heads: 8 }, 'num_heads', /list of 4/],
    [{ split_size: [2, 4] }, 'split_size', /3 or 4/],
    [{ depth: [1, 2, 1] }, 'depth', /list of 4/],
    [{ qkv_bias: 1 }, 'qkv_bias', /true or false/],
    [{ hybrid_backbone: 'resnet' }, 'hybrid_backbone', /null/],
    [{ norm_layer: 'LayerNorm' }, 'norm_layer', /no such option/],
    [{ mlp_ratio: 0 }, 'mlp_ratio', /> 0/],
  ])('refuses %j naming the field', (bad, field, message) => {
    const error = thrown(() => cswin.parseConfig({ ...kwargs, ...bad }));
    expect(InvalidConfigError.isInstance(error)).toBe(true);
    expect((error as InvalidConfigError).field).toBe(field);
    expect((error as Error).message).toMatch(message);
  });

  test('accepts and ignores training-only kwargs; uses the authors\' defaults', () => {
    const config = cswin.parseConfig({ ...kwargs, drop_rate: 0.1, attn_drop_rate: 0.1, drop_path_rate: 0.2, use_chk: true });
    expect(config.stages.map((s) => s.depth)).toEqual([1, 2, 1, 1]);
    const defaults = cswin.parseConfig({ num_heads: [2, 4, 8, 16], split_size: [1, 2, 7] });
    expect(defaults).toMatchObject({ imgSize: 224, inChans: 3, embedDim: 96, depth: [2, 2, 6, 2], mlpRatio: 4, qkvBias: true, qkScale: null, numClasses: 1000 });
    expect(defaults.stages.map((s) => s.mlpHidden)).toEqual([384, 768, 1536, 3072]);
    // the 56x56 stage-1 grid is not a multiple of the default split_size[0] = 3: the authors'
    // defaults cannot build at 224 either
    expect(() => cswin.parseConfig({ num_heads: [2, 4, 8, 16] })).toThrow(/split_size\[0\] = 3/);
  });

  test('derives the stripe geometry of the fixture (ARCH_NOTES 1.8)', () => {
    const config = cswin.parseConfig(kwargs);
    const geometry = config.stages.map((s) => [s.resolution, s.branches.map((b) => [b.channelStart, b.channels, b.heads, b.windowHeight, b.windowWidth])]);
    expect(geometry).toEqual([
      [16, [[0, 8, 1, 16, 2], [8, 8, 1, 2, 16]]],
      [8, [[0, 16, 2, 8, 4], [16, 16, 2, 4, 8]]],
      [4, [[0, 32, 2, 4, 2], [32, 32, 2, 2, 4]]],
      [2, [[0, 128, 8, 2, 2]]],
    ]);
    expect(config.stages[2]!.branches[0]!.scale).toBeCloseTo(16 ** -0.5, 12);
    expect(cswin.parseConfig({ ...kwargs, qk_scale: 0.5 }).stages[0]!.branches[0]!.scale).toBe(0.5);
  });

  test('a stage whose grid side equals its stripe width is single-branch (one dim-wide get_v)', () => {
    const config = cswin.parseConfig({ ...kwargs, split_size: [2, 4, 4, 2] });
    expect(config.stages[2]!.branches).toHaveLength(1);
    const shapes = cswin.checkpointShapes(config);
    expect(shapes['stage3.0.attns.0.get_v.weight']).toEqual([64, 1, 3, 3]);
    expect(shapes['stage3.0.attns.1.get_v.weight']).toBeUndefined();
    expect(shapes['stage2.0.attns.1.get_v.weight']).toEqual([16, 1, 3, 3]);
  });

  test('num_classes 0 has no head and returns the features as logits', () => {
    const config = cswin.parseConfig({ ...kwargs, num_classes: 0 });
    const shapes = cswin.checkpointShapes(config);
    expect(shapes['head.weight']).toBeUndefined();
    const stateDict = weights();
    delete stateDict['head.weight'];
    delete stateDict['head.bias'];
    const graph = convertCheckpoint({ architecture: cswin, kwargs: { ...kwargs, num_classes: 0 }, stateDict });
    expect(graph.outputs).toEqual([{ name: 'logits', dtype: 'float32', shape: ['batch', 128] }]);
  });
});

describe('cswin variants', () => {
  // Parameter counts published in the authors' README (millions, rounded): T 23, S 35, B 78, L 173.
  // Counting the authors' modules gives 22.32M / 34.64M / 77.38M / 173.26M: within 1M of each.
  const published: Record<string, number> = {
    cswin_tiny_224: 23e6,
    cswin_small_224: 35e6,
    cswin_base_224: 78e6,
    cswin_large_224: 173e6,
    cswin_base_384: 78e6,
    cswin_large_384: 173e6,
  };

  test.each(Object.keys(cswinVariants))('%s parses and has the published parameter count', (name) => {
    const variant = cswinVariants[name as keyof typeof cswinVariants];
    const config = cswin.parseConfig(variant.kwargs);
    let total = 0;
    for (const shape of Object.values(cswin.checkpointShapes(config))) total += elementCount(shape);
    expect(Math.abs(total - published[name]!)).toBeLessThan(1e6);
    const size = name.endsWith('_384') ? 384 : 224;
    expect(config.imgSize).toBe(size);
    // single-branch only in the last stage; stripe widths divide every grid
    expect(config.stages.map((s) => s.branches.length)).toEqual([2, 2, 2, 1]);
    expect(config.stages.map((s) => s.resolution)).toEqual([size / 4, size / 8, size / 16, size / 32]);
    const tags = Object.entries(variant.pretrained);
    expect(tags.length).toBeGreaterThan(0);
    for (const [tag, pretrained] of tags) {
      expect(['in1k', 'in22k_ft_in1k']).toContain(tag);
      expect(pretrained).toMatchObject({ inputSize: [3, size, size], cropPct: size === 384 ? 1 : 0.9, interpolation: 'bicubic', numClasses: 1000, license: 'MIT' });
      expect(pretrained.url).toMatch(/^https:\/\/github\.com\/microsoft\/CSWin-Transformer\/releases\/download\/v0\.1\.0\/cswin_\w+\.pth$/);
    }
    expect(AUTHOR_NAMES[name as keyof typeof AUTHOR_NAMES]).toMatch(/^CSWin_\d+_\d+_[a-z]+_(224|384)$/);
  });

  test('variant names are registry-valid and unique', () => {
    const registry = createRegistry([cswin]);
    expect(registry.resolve('cswin_large_384').tag).toBe('in22k_ft_in1k');
    expect(registry.resolve('cswin_tiny_224.in1k').kwargs).toBe(cswinVariants.cswin_tiny_224.kwargs);
  });
});
