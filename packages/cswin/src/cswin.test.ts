import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { CheckpointMismatchError, convertCheckpoint, createRegistry, elementCount, graphBytes, InvalidArgumentError, InvalidConfigError, parseSafetensors, type StateDict } from '@vitzoo/core';
import { modulesWithOp } from '@vitzoo/conformance/sweep';
import { cswin } from './index.js';
import { AUTHOR_NAMES, cswinVariants } from './variants.js';

// Fixture-case outputs (logits, features, attention maps) are checked by packages/vitzoo/src/fixtures.test.ts,
// every configuration option against the float64 reference by sweep.test.ts.
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

describe('cswin graph', () => {
  test('uses the fused kernels (MultiHeadAttention, Gelu, LayerNormalization) and no plain softmax', () => {
    const graph = convertCheckpoint({ architecture: cswin, kwargs, stateDict: weights() });
    const text = new TextDecoder('latin1').decode(graphBytes(graph));
    for (const op of ['MultiHeadAttention', 'Gelu', 'LayerNormalization']) expect(text).toContain(op);
    expect(modulesWithOp(graph, 'Softmax')).toEqual([]);
    expect(modulesWithOp(graph, 'MultiHeadAttention')).toEqual(cswin.outputCatalog!(cswin.parseConfig(kwargs)).attention);
    expect(text).not.toContain('Erf');
  });

  test('only the attention modules asked for leave the fused kernel', () => {
    const graph = convertCheckpoint({ architecture: cswin, kwargs, stateDict: weights(), outputs: ['logits', 'attention.stage2.1.attns.1', 'attention.stage4.0.attns.0'] });
    const plain = ['stage2.1.attns.1', 'stage4.0.attns.0'];
    expect(modulesWithOp(graph, 'Softmax')).toEqual(plain);
    expect(modulesWithOp(graph, 'MultiHeadAttention')).toEqual(cswin.outputCatalog!(cswin.parseConfig(kwargs)).attention.filter((module) => !plain.includes(module)));
  });

  test('extra outputs: names and shapes [batch·windows, heads, queries, keys] and [batch, C, side, side] (ARCH_NOTES 1.8)', () => {
    const graph = convertCheckpoint({ architecture: cswin, kwargs, stateDict: weights(), outputs: ['attention', 'intermediates', 'features'] });
    expect(graph.outputs.map((output) => [output.name, output.shape])).toEqual([
      ['attention.stage1.0.attns.0', ['batch*8', 1, 32, 32]],
      ['attention.stage1.0.attns.1', ['batch*8', 1, 32, 32]],
      ['attention.stage2.0.attns.0', ['batch*2', 2, 32, 32]],
      ['attention.stage2.0.attns.1', ['batch*2', 2, 32, 32]],
      ['attention.stage2.1.attns.0', ['batch*2', 2, 32, 32]],
      ['attention.stage2.1.attns.1', ['batch*2', 2, 32, 32]],
      ['attention.stage3.0.attns.0', ['batch*2', 2, 8, 8]],
      ['attention.stage3.0.attns.1', ['batch*2', 2, 8, 8]],
      ['attention.stage4.0.attns.0', ['batch', 8, 4, 4]],
      ['intermediates.0', ['batch', 16, 16, 16]],
      ['intermediates.1', ['batch', 32, 8, 8]],
      ['intermediates.2', ['batch', 64, 4, 4]],
      ['intermediates.3', ['batch', 128, 2, 2]],
      ['features', ['batch', 128]],
    ]);
  });

  test('asking for an output it cannot give is a typed error listing what it can give', () => {
    const error = thrown(() => convertCheckpoint({ architecture: cswin, kwargs, stateDict: weights(), outputs: ['rollout'] }));
    expect(InvalidArgumentError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/attention\.stage1\.0\.attns\.0 … attention\.stage4\.0\.attns\.0.*intermediates\.0 … intermediates\.3/);
    expect(() => convertCheckpoint({ architecture: cswin, kwargs, stateDict: weights(), outputs: ['attention.stage3.0.attns.2'] })).toThrow(/Unknown output/);
  });

  test('num_classes 0 has no head and returns the pooled features as logits', () => {
    const stateDict = weights();
    delete stateDict['head.weight'];
    delete stateDict['head.bias'];
    const graph = convertCheckpoint({ architecture: cswin, kwargs: { ...kwargs, num_classes: 0 }, stateDict });
    expect(graph.outputs).toEqual([{ name: 'logits', dtype: 'float32', shape: ['batch', 128] }]);
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
    const error = thrown(() => convertCheckpoint({ architecture: cswin, kwargs: { ...kwargs, qkv_bias: false }, stateDict: weights() }));
    expect((error as CheckpointMismatchError).unexpected).toEqual(['stage1.0.qkv.bias', 'stage2.0.qkv.bias', 'stage2.1.qkv.bias', 'stage3.0.qkv.bias', 'stage4.0.qkv.bias']);
  });

  test('a DataParallel `module.` prefix is stripped; the input is not modified', () => {
    const stateDict = weights();
    const wrapped = Object.fromEntries(Object.entries(stateDict).map(([key, tensor]) => [`module.${key}`, tensor]));
    const config = cswin.parseConfig(kwargs);
    const filtered = cswin.filterCheckpoint!(wrapped, config);
    expect(Object.keys(filtered).sort()).toEqual(Object.keys(cswin.checkpointShapes(config)).sort());
    expect(filtered['norm.weight']).toBe(stateDict['norm.weight']);
    expect(Object.keys(wrapped).every((key) => key.startsWith('module.'))).toBe(true);
  });
});

describe('cswin config', () => {
  test.each([
    [{ img_size: 80 }, 'img_size', /stage 2 has a 10x10 token grid.*split_size\[1\] = 4/],
    [{ img_size: 72, split_size: [1, 1, 1, 1] }, 'img_size', /stage 3 gets 5x5 tokens.*img_size \/\/ 16 = 4/],
    [{ img_size: 40, split_size: [1, 1, 1, 1] }, 'img_size', /stage 3 gets 3x3 tokens/],
    [{ img_size: 63 }, 'img_size', /stem/],
    [{ num_heads: [2, 4, 6, 8] }, 'num_heads', /stage 3: 6 heads, 64 channels/],
    [{ num_heads: [1, 4, 4, 8] }, 'num_heads', /at least 2/],
    [{ num_heads: [2, 4, 4, 6] }, 'num_heads', /stage 4: 6 heads for 128 channels/],
    [{ embed_dim: 5 }, 'num_heads', /stage 1: 2 heads, 5 channels/],
    [{ num_heads: 8 }, 'num_heads', /list of 4/],
    [{ split_size: [2, 4] }, 'split_size', /3 or 4/],
    [{ split_size: [2, 0, 2, 2] }, 'split_size', />= 1/],
    [{ depth: [1, 2, 1] }, 'depth', /list of 4/],
    [{ qkv_bias: 1 }, 'qkv_bias', /true or false/],
    [{ qk_scale: 'auto' }, 'qk_scale', /finite number or null/],
    [{ hybrid_backbone: 'resnet' }, 'hybrid_backbone', /null/],
    [{ norm_layer: 'LayerNorm' }, 'norm_layer', /no such option/],
    [{ mlp_ratio: 0 }, 'mlp_ratio', /> 0/],
  ])('refuses %j naming the field', (bad, field, message) => {
    const error = thrown(() => cswin.parseConfig({ ...kwargs, ...bad }));
    expect(InvalidConfigError.isInstance(error)).toBe(true);
    expect((error as InvalidConfigError).field).toBe(field);
    expect((error as Error).message).toMatch(message);
  });

  test('a stage without blocks builds no attention, so its geometry is not checked (as in the authors\' code)', () => {
    // Stage 3 (4x4 grid) with 3 heads and a stripe of 3 could not be built, but it has no blocks.
    const config = cswin.parseConfig({ ...kwargs, depth: [1, 2, 0, 1], num_heads: [2, 4, 3, 8], split_size: [2, 4, 3, 2] });
    expect(cswin.outputCatalog!(config).attention).toEqual([
      'stage1.0.attns.0',
      'stage1.0.attns.1',
      'stage2.0.attns.0',
      'stage2.0.attns.1',
      'stage2.1.attns.0',
      'stage2.1.attns.1',
      'stage4.0.attns.0',
    ]);
  });

  test("accepts and ignores training-only kwargs; uses the authors' defaults", () => {
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
    const geometry = config.stages.map((s) => [s.side, s.branches.map((b) => [b.channelStart, b.channels, b.heads, b.windowHeight, b.windowWidth])]);
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
    expect(config.stages.map((s) => s.side)).toEqual([size / 4, size / 8, size / 16, size / 32]);
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
