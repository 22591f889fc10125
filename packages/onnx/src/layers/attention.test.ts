import { describe, expect, test } from 'vitest';
import { attention } from './attention.js';
import { GraphLayers } from './graph-layers.js';

/** The MultiHeadAttention node and the nodes feeding its query, for an attention with this scale. */
function fused(scale: number) {
  const layers = new GraphLayers({}, { architecture: 'test', outputs: ['logits'] });
  const { g } = layers;
  const [q, k, v] = ['q', 'k', 'v'].map((name) => g.input(name, 'float32', ['batch', 5, 6]));
  const { output } = attention(layers, q!, k!, v!, { module: 'attn', heads: 2, headDim: 3, scale, shape: { batch: 'batch', queries: 5, keys: 5 } });
  g.output(output, 'logits', 'float32', ['batch', 5, 6]);
  const nodes = g.build().nodes;
  const node = nodes.find((candidate) => candidate.opType === 'MultiHeadAttention')!;
  return { node, query: nodes.find((candidate) => candidate.outputs.includes(node.inputs[0]!)) };
}

// KERNELS.md rule 2: WebGPU's kernel reads the scale attribute as an int32 (0.37 → 0 → "default").
describe('fused attention scale', () => {
  test('the default 1/√head_dim is left to the kernel (no scale attribute)', () => {
    const { node, query } = fused(3 ** -0.5);
    expect(node.attributes.scale).toBeUndefined();
    expect(node.inputs[0]).toBe('q');
    expect(query).toBeUndefined();
  });

  test('any other scale multiplies q, and the attribute is exactly 1', () => {
    const { node, query } = fused(0.37);
    expect(node.attributes.scale).toEqual({ kind: 'float', value: 1 });
    expect(query?.opType).toBe('Mul');
    expect(query?.inputs[0]).toBe('q');
  });
});

describe('weights', () => {
  test('a weight used twice is one initializer under its checkpoint key; another view of it gets its own', () => {
    const tensor = { dtype: 'float32' as const, shape: [4], data: Float32Array.of(1, 2, 3, 4) };
    const layers = new GraphLayers({ 'norm.weight': tensor }, { architecture: 'test', outputs: ['logits'] });
    const first = layers.weight('norm.weight');
    expect(layers.weight('norm.weight')).toBe(first);
    const view = layers.weight('norm.weight', { shape: [4, 1] });
    expect(view).not.toBe(first);
    expect(layers.weight('norm.weight', { shape: [4, 1] })).toBe(view);
    layers.g.output(layers.g.add(first, layers.g.reshape(view, [-1])), 'logits', 'float32', [4]);
    const names = layers.g.build().initializers.map((initializer) => initializer.name).filter((name) => name.startsWith('norm.'));
    expect(names).toEqual(['norm.weight', 'norm.weight:4x1']);
  });
});
