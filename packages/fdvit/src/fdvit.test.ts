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
import { GraphBuilder, serializeModel } from '@vitzoo/onnx';
import { nodeBackend } from '@vitzoo/runtime-node';
import { fdvit, fdvitVariants, filterFdvitCheckpoint } from './index.js';

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

describe('fdvit fixture', () => {
  test('matches the authors\' PoolingTransformer on logits and features at batch 2 and 1', async () => {
    const report = await verifyCase(fixture, { registry: createRegistry([fdvit]) });
    expect(report.error).toBeUndefined();
    const seen = report.comparisons.map((c) => `${c.output}@${c.batch}`);
    expect(new Set(seen)).toEqual(new Set(['logits@2', 'features@2', 'logits@1', 'features@1']));
    expect(seen.filter((s) => s.endsWith('@1'))).toHaveLength(4);
    for (const comparison of report.comparisons) expect(comparison.maxAbsDiff).toBeLessThanOrEqual(1e-4);
    expect(report.status).toBe('pass');
  });

  test('exposes the requested outputs in order and uses the fused kernels', () => {
    const graph = convertCheckpoint({ architecture: fdvit, kwargs, stateDict: weights(), outputs: ['pre_logits', 'logits', 'features'] });
    expect(graph.outputs.map((o) => [o.name, o.shape])).toEqual([
      ['pre_logits', ['batch', 36]],
      ['logits', ['batch', 10]],
      ['features', ['batch', 36]],
    ]);
    const text = new TextDecoder('latin1').decode(graphBytes(graph));
    for (const op of ['MultiHeadAttention', 'Gelu', 'LayerNormalization', 'Resize', 'align_corners']) expect(text).toContain(op);
    expect(text).not.toContain('Softmax');
    expect(text).not.toContain('GridSample');
  });

  test('the training-only decoders.* weights are dropped; the filter does not mutate its input', () => {
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
    const filtered = filterFdvitCheckpoint(stateDict);
    expect(Object.keys(filtered).some((key) => key.startsWith('decoders.'))).toBe(false);
    expect(Object.keys(filtered)).toHaveLength(Object.keys(stateDict).length - 6);
    expect(Object.keys(stateDict)).toContain('decoders.0.conv.weight');
    // after filtering, the keys are exactly what checkpointShapes expects
    const shapes = fdvit.checkpointShapes(fdvit.parseConfig(kwargs));
    expect(Object.keys(filtered).sort()).toEqual(Object.keys(shapes).sort());
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
});

describe('fdvit config', () => {
  test.each([
    [{ channels: [16, 18, 21, 36] }, 'channels', /stage 2: 21 != 5 \* 4 = 20/],
    [{ out_size: [12, 8, 6, 4] }, 'out_size', /floor\(\(48 - 8\) \/ 4\) \+ 1 = 11/],
    [{ image_size: 52 }, 'out_size', /= 12/],
    [{ heads: [2, 3, 4] }, 'heads', /one entry per stage \(4/],
    [{ out_size: [11, 8, 6] }, 'out_size', /one entry per stage/],
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
