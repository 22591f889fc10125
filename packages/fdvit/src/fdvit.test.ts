import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { CheckpointMismatchError, convertCheckpoint, createRegistry, elementCount, graphBytes, InvalidConfigError, parseSafetensors, type StateDict } from '@vitzoo/core';
import { GraphBuilder, serializeModel } from '@vitzoo/onnx';
import { modulesWithOp } from '@vitzoo/conformance/sweep';
import { nodeBackend } from '@vitzoo/runtime-node';
import { fdvit } from './index.js';
import { fdvitVariants } from './variants.js';

// Fixture-case outputs (logits, features, attention maps) are checked by packages/vitzoo/src/fixtures.test.ts,
// every configuration option against the float64 reference by sweep.test.ts.
const fixture = fileURLToPath(new URL('../../../fixtures/models/fdvit_tiny/', import.meta.url));
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

describe('fdvit graph', () => {
  test('uses the fused kernels and align-corners Resize, no plain softmax, no GridSample', () => {
    const graph = convertCheckpoint({ architecture: fdvit, kwargs, stateDict: weights() });
    const text = new TextDecoder('latin1').decode(graphBytes(graph));
    for (const op of ['MultiHeadAttention', 'Gelu', 'LayerNormalization', 'Resize', 'align_corners']) expect(text).toContain(op);
    expect(modulesWithOp(graph, 'Softmax')).toEqual([]);
    expect(modulesWithOp(graph, 'MultiHeadAttention')).toEqual(fdvit.outputCatalog!(fdvit.parseConfig(kwargs)).attention);
    expect(text).not.toContain('GridSample');
  });

  test('only the attention modules asked for leave the fused kernel', () => {
    const graph = convertCheckpoint({ architecture: fdvit, kwargs, stateDict: weights(), outputs: ['attention.transformers.2.blocks.1.attn', 'logits'] });
    expect(modulesWithOp(graph, 'Softmax')).toEqual(['transformers.2.blocks.1.attn']);
    expect(modulesWithOp(graph, 'MultiHeadAttention')).toEqual(['transformers.0.blocks.0.attn', 'transformers.1.blocks.0.attn', 'transformers.2.blocks.0.attn', 'transformers.3.blocks.0.attn']);
  });

  test('extra outputs: names and shapes [batch, heads, N, N] and [batch, D, side, side] (ARCH_NOTES 2.9)', () => {
    const graph = convertCheckpoint({ architecture: fdvit, kwargs, stateDict: weights(), outputs: ['pre_logits', 'intermediates', 'attention'] });
    expect(graph.outputs.map((output) => [output.name, output.shape])).toEqual([
      ['pre_logits', ['batch', 36]],
      ['intermediates.0', ['batch', 16, 11, 11]],
      ['intermediates.1', ['batch', 18, 8, 8]],
      ['intermediates.2', ['batch', 20, 6, 6]],
      ['intermediates.3', ['batch', 36, 4, 4]],
      ['attention.transformers.0.blocks.0.attn', ['batch', 2, 121, 121]],
      ['attention.transformers.1.blocks.0.attn', ['batch', 3, 64, 64]],
      ['attention.transformers.2.blocks.0.attn', ['batch', 4, 36, 36]],
      ['attention.transformers.2.blocks.1.attn', ['batch', 4, 36, 36]],
      ['attention.transformers.3.blocks.0.attn', ['batch', 6, 16, 16]],
    ]);
  });
});

describe('fdvit flexible downsampling', () => {
  // ONNX Resize (linear, align_corners) against bilinear sampling at p = j * (h - 1) / (o - 1)
  // computed by hand, for the fixture's and the released models' ratios.
  test.each([
    [11, 8],
    [8, 6],
    [27, 19],
    [31, 22],
    [10, 7],
  ])('resampling %i -> %i matches hand-computed align-corners bilinear weights', async (h, o) => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', ['batch', 2, h, h]);
    const sizes = g.concat([g.shape(x, 0, 2), g.ints([o, o])], 0);
    g.output(g.op('Resize', [x, null, null, sizes], { mode: 'linear', coordinate_transformation_mode: 'align_corners' }), 'y', 'float32', ['batch', 2, o, o]);
    const input = new Float32Array(2 * h * h).map((_, i) => Math.sin(i * 0.37) * 3 + (i % 7));
    const session = await nodeBackend.createSession(serializeModel(g.build()));
    let out: Float32Array;
    try {
      out = (await session.run({ x: { dtype: 'float32', shape: [1, 2, h, h], data: input } })).y!.data as Float32Array;
    } finally {
      await session.dispose();
    }
    const taps = (j: number): [number, number, number] => {
      const p = (j * (h - 1)) / (o - 1);
      const low = Math.min(Math.floor(p), h - 1);
      return [low, Math.min(low + 1, h - 1), p - low];
    };
    let max = 0;
    for (let c = 0; c < 2; c++) {
      for (let i = 0; i < o; i++) {
        const [y0, y1, fy] = taps(i);
        for (let j = 0; j < o; j++) {
          const [x0, x1, fx] = taps(j);
          const at = (y: number, xx: number) => input[c * h * h + y * h + xx]!;
          const expected = (1 - fy) * ((1 - fx) * at(y0, x0) + fx * at(y0, x1)) + fy * ((1 - fx) * at(y1, x0) + fx * at(y1, x1));
          max = Math.max(max, Math.abs(expected - out[c * o * o + i * o + j]!));
        }
      }
    }
    expect(max).toBeLessThan(5e-5); // float32 rounding on values up to ~10
  });
});

describe('fdvit checkpoints', () => {
  test('refuses missing, unexpected and mis-shaped keys, listing each', () => {
    const stateDict = { ...weights() };
    delete stateDict['transformers.2.blocks.1.attn.get_v.bias'];
    stateDict['cls_token'] = { dtype: 'float32', shape: [1, 2, 16], data: new Float32Array(32) };
    stateDict['pos_embed'] = { dtype: 'float32', shape: [1, 16, 12, 12], data: new Float32Array(16 * 144) };
    const error = thrown(() => convertCheckpoint({ architecture: fdvit, kwargs, stateDict }));
    expect(CheckpointMismatchError.isInstance(error)).toBe(true);
    const mismatch = error as CheckpointMismatchError;
    expect(mismatch.missing).toEqual(['transformers.2.blocks.1.attn.get_v.bias']);
    expect(mismatch.unexpected).toEqual(['cls_token']);
    expect(mismatch.misshaped).toEqual([{ key: 'pos_embed', expected: [1, 16, 11, 11], actual: [1, 16, 12, 12] }]);
  });

  test('the training-only decoders.* weights and a `module.` prefix are dropped; the input is not modified', () => {
    const stateDict = weights();
    const decoderKeys = Object.keys(stateDict).filter((key) => key.startsWith('decoders.'));
    expect(decoderKeys.sort()).toEqual([
      'decoders.0.conv.bias',
      'decoders.0.conv.weight',
      'decoders.1.conv.bias',
      'decoders.1.conv.weight',
      'decoders.2.conv.bias',
      'decoders.2.conv.weight',
    ]);
    const config = fdvit.parseConfig(kwargs);
    const expected = Object.keys(fdvit.checkpointShapes(config)).sort();
    expect(Object.keys(fdvit.filterCheckpoint!(stateDict, config)).sort()).toEqual(expected);
    expect(Object.keys(stateDict)).toContain('decoders.0.conv.weight');
    const wrapped = Object.fromEntries(Object.entries(stateDict).map(([key, tensor]) => [`module.${key}`, tensor]));
    expect(Object.keys(fdvit.filterCheckpoint!(wrapped, config)).sort()).toEqual(expected);
    expect(Object.keys(wrapped).every((key) => key.startsWith('module.'))).toBe(true);
  });
});

describe('fdvit config', () => {
  test.each([
    [{ channels: [16, 18, 21, 36] }, 'channels', /stage 2: 21 != 5 \* 4 = 20/],
    [{ out_size: [12, 8, 6, 4] }, 'out_size', /floor\(\(48 - 8\) \/ 4\) \+ 1 = 11/],
    [{ out_size: [11, 8, 0, 4] }, 'out_size', />= 1/],
    [{ image_size: 52 }, 'out_size', /= 12/],
    [{ heads: [2, 3, 4] }, 'heads', /one entry per stage \(4/],
    [{ out_size: [11, 8, 6] }, 'out_size', /one entry per stage/],
    [{ depth: [] }, 'depth', /one or more/],
    [{ patch_size: 64 }, 'patch_size', /at most image_size \(48\)/],
    [{ stride: undefined }, 'stride', /integer/],
    [{ base_dims: [8, 0, 5, 6] }, 'base_dims', />= 1/],
    [{ mlp_ratio: -1 }, 'mlp_ratio', /> 0/],
    [{ qk_scale: 0.1 }, 'qk_scale', /no such option/],
  ])('refuses %j naming the field %s', (bad, field, message) => {
    const error = thrown(() => fdvit.parseConfig({ ...kwargs, ...bad }));
    expect(InvalidConfigError.isInstance(error)).toBe(true);
    expect((error as InvalidConfigError).field).toBe(field);
    expect((error as Error).message).toMatch(message);
  });

  test('accepts and ignores training-only kwargs; derives the stage geometry (ARCH_NOTES 2.9)', () => {
    const config = fdvit.parseConfig({ ...kwargs, mask_thre: 0.2, drop_path_rate: 0.1, attn_drop_rate: 0, drop_rate: 0 });
    expect(config.patchGrid).toBe(11);
    expect(config.stages.map((s) => [s.side, s.heads, s.headDim, s.dim, s.depth, s.mlpHidden])).toEqual([
      [11, 2, 8, 16, 1, 64],
      [8, 3, 6, 18, 1, 72],
      [6, 4, 5, 20, 2, 80],
      [4, 6, 6, 36, 1, 144],
    ]);
    expect(config).toMatchObject({ numClasses: 10, inChans: 3, numFeatures: 36 });
  });
});

describe('fdvit variants', () => {
  // Parameter counts in the authors' README: FDViT-Ti 4.6M, FDViT-S 21.6M, FDViT-B 68.1M
  // (without the training-only decoders).
  const published: Record<string, number> = { fdvit_ti: 4.6e6, fdvit_s: 21.6e6, fdvit_b: 68.1e6 };

  test.each(Object.keys(fdvitVariants))('%s parses and has the published parameter count', (name) => {
    const variant = fdvitVariants[name as keyof typeof fdvitVariants];
    const config = fdvit.parseConfig(variant.kwargs);
    let total = 0;
    for (const shape of Object.values(fdvit.checkpointShapes(config))) total += elementCount(shape);
    expect(Math.round(total / 1e5) * 1e5).toBeCloseTo(published[name]!, -3);
    expect(config.patchGrid).toBe(config.outSize[0]);
    expect(Object.keys(variant.pretrained)).toEqual(['in1k']);
    expect(variant.pretrained.in1k).toMatchObject({ inputSize: [3, 224, 224], cropPct: 0.875, interpolation: 'bicubic', numClasses: 1000 });
  });

  test('registry resolves the variants', () => {
    const registry = createRegistry([fdvit]);
    expect(registry.resolve('fdvit_b').tag).toBe('in1k');
    expect(registry.resolve('fdvit_ti.in1k').kwargs).toBe(fdvitVariants.fdvit_ti.kwargs);
  });
});
