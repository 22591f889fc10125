import { describe, expect, test } from 'vitest';
import { argmaxRows, convertCheckpoint, InvalidArgumentError, InvalidCheckpointError, maxAbsDifference, resolveOutputs, rowCosines, topOneAgreement, UnsupportedError, type Architecture, type BuiltGraph } from './index.js';

/** A tiny architecture: one weight, and the outputs it says it can give. */
const toy: Architecture<{ blocks: number }> = {
  specificationVersion: 'v1',
  id: 'toy',
  variants: {},
  parseConfig: (kwargs) => ({ blocks: Number(kwargs.blocks ?? 2) }),
  checkpointShapes: () => ({ 'head.weight': [2, 3] }),
  outputCatalog: (config) => ({ attention: Array.from({ length: config.blocks }, (_, i) => `blocks.${i}.attn`), intermediates: config.blocks, rollout: false }),
  buildGraph: (_config, _weights, options): BuiltGraph => ({ inputs: [], outputs: options.outputs.map((name) => ({ name, dtype: 'float32', shape: [] })), byteLength: 0, chunks: () => [] }),
};
const weights = (value = 0.5) => ({ 'head.weight': { dtype: 'float32' as const, shape: [2, 3], data: new Float32Array(6).fill(value) } });

describe('convertCheckpoint', () => {
  test('refuses weights holding NaN or ±Inf, naming the tensor, unless allowNonFinite', () => {
    const stateDict = weights();
    (stateDict['head.weight'].data as Float32Array)[4] = Number.NaN;
    (stateDict['head.weight'].data as Float32Array)[5] = Number.NEGATIVE_INFINITY;
    let error: unknown;
    try {
      convertCheckpoint({ architecture: toy, kwargs: {}, stateDict });
    } catch (caught) {
      error = caught;
    }
    expect(InvalidCheckpointError.isInstance(error)).toBe(true);
    expect((error as InvalidCheckpointError).tensor).toBe('head.weight');
    expect((error as Error).message).toMatch(/'head\.weight' holds 1 NaN and 1 ±Inf value\(s\) \(first at flat index 4\)/);
    expect(() => convertCheckpoint({ architecture: toy, kwargs: {}, stateDict, allowNonFinite: true })).not.toThrow();
  });

  test('expands the output groups and refuses what the architecture cannot give, listing what it can', () => {
    expect(resolveOutputs(toy, { blocks: 2 }, ['logits', 'attention', 'intermediates.1'])).toEqual([
      'logits',
      'attention.blocks.0.attn',
      'attention.blocks.1.attn',
      'intermediates.1',
    ]);
    expect(resolveOutputs(toy, { blocks: 2 }, ['attention.blocks.1.attn', 'attention'])).toEqual(['attention.blocks.1.attn', 'attention.blocks.0.attn']);
    expect(resolveOutputs(toy, { blocks: 3 }, ['intermediates.-1', 'intermediates.-3'])).toEqual(['intermediates.2', 'intermediates.0']);
    for (const bad of ['rollout', 'intermediates.2', 'intermediates.-3', 'attention.blocks.2.attn', 'logit', 'intermediates.01']) {
      let error: unknown;
      try {
        resolveOutputs(toy, { blocks: 2 }, [bad]);
      } catch (caught) {
        error = caught;
      }
      expect(InvalidArgumentError.isInstance(error), bad).toBe(true);
      expect((error as Error).message).toContain(`'${bad}'`);
      expect((error as Error).message).toContain('logits, pre_logits, features, attention (attention.blocks.0.attn, attention.blocks.1.attn), intermediates (intermediates.0, intermediates.1)');
    }
    expect(() => resolveOutputs(toy, { blocks: 0 }, ['attention'])).toThrow(/has no attention maps/);
    expect(() => resolveOutputs(toy, { blocks: 2 }, [])).toThrow(/at least one output/);
  });
});

test('maxAbsDifference is NaN when a NaN is compared (never "close")', () => {
  const a = { dtype: 'float32' as const, shape: [3], data: Float32Array.of(1, Number.NaN, 3) };
  const b = { dtype: 'float32' as const, shape: [3], data: Float32Array.of(1, 2, 3.5) };
  expect(maxAbsDifference(a, b)).toBeNaN();
  expect(maxAbsDifference(b, b)).toBe(0);
});

test("mlpHiddenFeatures follows timm's Mlp: int(dim * ratio), and a width that truncates to 0 means dim", async () => {
  const { mlpHiddenFeatures } = await import('./index.js');
  expect(mlpHiddenFeatures(192, 4)).toBe(768);
  expect(mlpHiddenFeatures(24, 2.6)).toBe(62);
  expect(mlpHiddenFeatures(24, 0.01)).toBe(24);
});

describe('dtype and q4BlockSize', () => {
  const caught = (run: () => unknown): unknown => {
    try {
      run();
    } catch (error) {
      return error;
    }
    return undefined;
  };

  test('an unknown dtype or block size is an InvalidArgumentError naming the choices', () => {
    for (const dtype of ['fp8', 'float16', 'INT8', 3]) {
      const error = caught(() => convertCheckpoint({ architecture: toy, kwargs: {}, stateDict: weights(), dtype: dtype as never }));
      expect(InvalidArgumentError.isInstance(error), String(dtype)).toBe(true);
      expect((error as Error).message).toContain('choose from fp32, fp16, int8, q4');
    }
    for (const q4BlockSize of [8, 24, 512, 32.5, '32']) {
      const error = caught(() => convertCheckpoint({ architecture: toy, kwargs: {}, stateDict: weights(), dtype: 'q4', q4BlockSize: q4BlockSize as never }));
      expect(InvalidArgumentError.isInstance(error), String(q4BlockSize)).toBe(true);
      expect((error as Error).message).toContain('16, 32, 64, 128, 256');
    }
  });

  test('an architecture whose graph ignores the precision (built without the layers) gives fp32 only, and says so', () => {
    expect(() => convertCheckpoint({ architecture: toy, kwargs: {}, stateDict: weights(), dtype: 'fp32' })).not.toThrow();
    for (const dtype of ['fp16', 'int8', 'q4'] as const) {
      const error = caught(() => convertCheckpoint({ architecture: toy, kwargs: {}, stateDict: weights(), dtype }));
      expect(UnsupportedError.isInstance(error), dtype).toBe(true);
      expect((error as Error).message).toMatch(new RegExp(`'toy' built a fp32 graph when dtype '${dtype}' was asked for: it supports fp32 only`));
    }
    const honest: Architecture<{ blocks: number }> = { ...toy, buildGraph: (config, stateDict, options) => ({ ...toy.buildGraph(config, stateDict, options), dtype: options.dtype ?? 'fp32' }) };
    expect(convertCheckpoint({ architecture: honest, kwargs: {}, stateDict: weights(), dtype: 'int8' }).dtype).toBe('int8');
  });
});

test('argmaxRows and rowCosines compare rows (logits, embeddings)', () => {
  const a = { dtype: 'float32' as const, shape: [3, 3], data: Float32Array.of(1, 3, 2, -1, -2, -3, 0, 0, 0) };
  const b = { dtype: 'float32' as const, shape: [3, 3], data: Float32Array.of(2, 6, 4, 1, 2, 3, 0, 0, 0) };
  expect(argmaxRows(a)).toEqual([1, 0, 0]);
  expect(topOneAgreement(a, b)).toEqual({ equal: 2, total: 3 });
  const [same, opposite, zeros] = rowCosines(a, b);
  expect(same).toBeCloseTo(1, 12);
  expect(opposite).toBeCloseTo(-1, 12);
  expect(zeros).toBe(1);
  expect(rowCosines({ dtype: 'float32', shape: [1, 2], data: Float32Array.of(3, 4) }, { dtype: 'float32', shape: [1, 2], data: Float32Array.of(4, 3) })[0]).toBeCloseTo(24 / 25, 12);
  expect(() => rowCosines(a, { ...b, shape: [9] })).toThrow(/shapes/);
});
