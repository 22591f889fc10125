import { convertCheckpoint, createTensor, graphBytes, type OutputName, type StateDict, type Tensor } from '@vitzoo/core';
import { nodeBackend } from '@vitzoo/runtime-node';
import { describe, expect, it } from 'vitest';
import { swin } from './index.js';
import { listNodes, withExtraOutputs } from './model-proto.test-support.js';
import { referenceSwinForward } from './reference.test-support.js';

/** Deterministic normal samples (mulberry32 + Box-Muller). */
function normals(seed: number) {
  let state = seed >>> 0;
  const uniform = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

/** Random weights scaled like the fixtures: O(1) activations, far-from-uniform attention. */
export function randomStateDict(shapes: Record<string, readonly number[]>, seed: number): StateDict {
  const next = normals(seed);
  const out: StateDict = {};
  for (const [key, shape] of Object.entries(shapes)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
    const sample = key.endsWith('relative_position_bias_table')
      ? () => next()
      : key.endsWith('.bias')
        ? () => 0.1 * next()
        : key.includes('norm') && shape.length === 1
          ? () => 1 + 0.1 * next()
          : () => next() / Math.sqrt(fanIn);
    out[key] = createTensor('float32', shape, Float32Array.from({ length: size }, sample));
  }
  return out;
}

async function runGraph(kwargs: Record<string, unknown>, weights: StateDict, pixels: Tensor, outputs: OutputName[]) {
  const graph = convertCheckpoint({ architecture: swin, kwargs, stateDict: weights, outputs });
  const session = await nodeBackend.createSession(graphBytes(graph));
  try {
    return await session.run({ pixel_values: pixels });
  } finally {
    await session.dispose();
  }
}

function maxDiff(actual: Tensor, expected: Float64Array): number {
  expect(actual.data.length).toBe(expected.length);
  let max = 0;
  for (let i = 0; i < expected.length; i++) max = Math.max(max, Math.abs((actual.data as Float32Array)[i]! - expected[i]!));
  return max;
}

const cases: { name: string; kwargs: Record<string, unknown>; height: number; width: number }[] = [
  {
    name: 'padding + shifted windows in both stages (grid 10 and 5, window 4)',
    kwargs: { img_size: 20, patch_size: 2, embed_dim: 8, depths: [2, 2], num_heads: [2, 2], window_size: 4, num_classes: 5 },
    height: 20,
    width: 20,
  },
  {
    name: 'odd patch merging (7 -> 4 padded, timm window 3 from the floor-halved grid)',
    kwargs: { img_size: 28, patch_size: 2, embed_dim: 4, depths: [1, 2, 2], num_heads: [1, 2, 2], window_size: 7, num_classes: 3 },
    height: 28,
    width: 28,
  },
  {
    name: 'non-square image and window, head_dim, mlp_ratio, no qkv bias',
    kwargs: {
      img_size: [16, 24],
      patch_size: 2,
      embed_dim: 6,
      depths: [2, 1],
      num_heads: [2, 3],
      head_dim: 3,
      window_size: [4, 8],
      mlp_ratio: 2,
      qkv_bias: false,
      num_classes: 4,
    },
    height: 16,
    width: 24,
  },
  {
    name: 'always_partition (window larger than the grid, padded and shifted)',
    kwargs: { img_size: 12, patch_size: 2, embed_dim: 4, depths: [2], num_heads: [2], window_size: 4, always_partition: true, num_classes: 3 },
    height: 12,
    width: 12,
  },
];

describe('swin graph against a loop-based transcription of timm', () => {
  for (const testCase of cases) {
    it(testCase.name, async () => {
      const config = swin.parseConfig(testCase.kwargs);
      const weights = randomStateDict(swin.checkpointShapes(config), 7);
      const next = normals(99);
      const pixels = createTensor('float32', [2, 3, testCase.height, testCase.width], Float32Array.from({ length: 6 * testCase.height * testCase.width }, next));
      const expected = referenceSwinForward(config, weights, pixels);
      const actual = await runGraph(testCase.kwargs, weights, pixels, ['logits', 'pre_logits', 'features']);
      const diffs = {
        logits: maxDiff(actual.logits!, expected.logits),
        pre_logits: maxDiff(actual.pre_logits!, expected.preLogits),
        features: maxDiff(actual.features!, expected.features),
      };
      expect(diffs.logits).toBeLessThan(1e-4);
      expect(diffs.pre_logits).toBeLessThan(1e-4);
      expect(diffs.features).toBeLessThan(1e-4);
    });
  }

  it('exposes only the requested outputs, in the requested order, with timm shapes', async () => {
    const kwargs = cases[0]!.kwargs;
    const config = swin.parseConfig(kwargs);
    const graph = convertCheckpoint({ architecture: swin, kwargs, stateDict: randomStateDict(swin.checkpointShapes(config), 1), outputs: ['features', 'logits'] });
    expect(graph.outputs.map((o) => [o.name, o.shape])).toEqual([
      ['features', ['batch', 5, 5, 16]],
      ['logits', ['batch', 5]],
    ]);
    expect(graph.inputs).toEqual([{ name: 'pixel_values', dtype: 'float32', shape: ['batch', 3, 20, 20] }]);
  });

  it("global_pool '' keeps the map: pre_logits = features and logits per position", async () => {
    const kwargs = { ...cases[0]!.kwargs, global_pool: '' };
    const config = swin.parseConfig(kwargs);
    const weights = randomStateDict(swin.checkpointShapes(config), 3);
    const pixels = createTensor('float32', [1, 3, 20, 20], Float32Array.from({ length: 1200 }, normals(5)));
    const result = await runGraph(kwargs, weights, pixels, ['pre_logits', 'features', 'logits']);
    expect(result.pre_logits!.shape).toEqual([1, 5, 5, 16]);
    expect(Array.from(result.pre_logits!.data as Float32Array)).toEqual(Array.from(result.features!.data as Float32Array));
    expect(result.logits!.shape).toEqual([1, 5, 5, 5]);
    // logits at position (2, 3) = head.fc(features at (2, 3)).
    const feature = (result.features!.data as Float32Array).subarray((2 * 5 + 3) * 16, (2 * 5 + 4) * 16);
    const weight = weights['head.fc.weight']!.data as Float32Array;
    const bias = weights['head.fc.bias']!.data as Float32Array;
    for (let o = 0; o < 5; o++) {
      let sum = bias[o]!;
      for (let c = 0; c < 16; c++) sum += weight[o * 16 + c]! * feature[c]!;
      expect((result.logits!.data as Float32Array)[(2 * 5 + 3) * 5 + o]).toBeCloseTo(sum, 5);
    }
  });
});

describe('attention bias at the full MultiHeadAttention batch', () => {
  // onnxruntime-web's WebGPU MultiHeadAttention accepts attention_bias only as exactly
  // (batch_size, num_heads, sequence_length, total_sequence_length), with no broadcasting (ONNX
  // Runtime's CPU kernel also broadcasts a [1, heads, N, N] bias, so CPU parity alone would not
  // notice). Every block's bias must come out as [B*num_windows, heads, N, N] at run time.
  const bodies = [
    { name: 'padding + shifted windows in both stages', kwargs: cases[0]!.kwargs, size: [20, 20] },
    { name: 'the swin_tiny fixture geometry (shifted stage, single-window stage)', kwargs: { img_size: 32, patch_size: 4, embed_dim: 8, depths: [2, 2], num_heads: [2, 4], window_size: 4, num_classes: 3 }, size: [32, 32] },
    { name: 'non-square windows', kwargs: cases[2]!.kwargs, size: [16, 24] },
  ];
  for (const body of bodies) {
    it(body.name, async () => {
      const config = swin.parseConfig(body.kwargs);
      const graph = convertCheckpoint({ architecture: swin, kwargs: body.kwargs, stateDict: randomStateDict(swin.checkpointShapes(config), 5), outputs: ['logits'] });
      const bytes = graphBytes(graph);
      const attention = listNodes(bytes).filter((node) => node.opType === 'MultiHeadAttention' && node.domain === 'com.microsoft');
      const expected = config.stages.flatMap((stage) =>
        stage.blocks.map((block) => {
          const windows = (block.padded[0] / block.window[0]) * (block.padded[1] / block.window[1]);
          const area = block.window[0] * block.window[1];
          return { windows, heads: stage.numHeads, area };
        }),
      );
      expect(attention.length).toBe(expected.length);
      const biasNames = attention.map((node) => node.inputs[5]!);
      for (const name of biasNames) expect(name).not.toBe('');
      const session = await nodeBackend.createSession(withExtraOutputs(bytes, biasNames));
      try {
        for (const batch of [2, 1]) {
          const [height, width] = body.size as [number, number];
          const pixels = createTensor('float32', [batch, 3, height, width], Float32Array.from({ length: batch * 3 * height * width }, normals(batch)));
          const result = await session.run({ pixel_values: pixels });
          const shapes = biasNames.map((name) => result[name]!.shape);
          expect(shapes).toEqual(expected.map(({ windows, heads, area }) => [batch * windows, heads, area, area]));
        }
      } finally {
        await session.dispose();
      }
    });
  }
});
