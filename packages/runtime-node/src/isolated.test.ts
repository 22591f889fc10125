import { afterAll, describe, expect, test } from 'vitest';
import { createTensor, InferenceError, type Tensor } from '@vitzoo/core';
import { GraphBuilder, serializeModel } from '@vitzoo/onnx';
import { createIsolatedNodeBackend } from './isolated.js';
import { nodeBackend } from './index.js';

/** y = x·W (+ b) through com.microsoft Attention: with `bias: false` the CPU kernel reads a null bias and dies. */
function attentionGraph(withBias: boolean): Uint8Array {
  const g = new GraphBuilder({ graphName: 'probe' });
  const x = g.input('x', 'float32', ['batch', 4, 6]);
  const weight = g.constant('float32', [6, 18], Float32Array.from({ length: 108 }, (_, i) => Math.sin(i) / 4), 'qkv_weight');
  const bias = withBias ? g.constant('float32', [18], new Float32Array(18), 'qkv_bias') : null;
  const y = g.op('Attention', [x, weight, bias], { num_heads: 2 }, { domain: 'com.microsoft' });
  g.output(y, 'y', 'float32', ['batch', 4, 6]);
  return serializeModel(g.build());
}

const input: Tensor = createTensor('float32', [2, 4, 6], Float32Array.from({ length: 48 }, (_, i) => Math.cos(i)));

describe('isolated node backend', () => {
  const backend = createIsolatedNodeBackend();
  afterAll(() => backend.close());

  test('runs a graph in a child process with the same results as the in-process backend', async () => {
    const model = attentionGraph(true);
    const isolated = await backend.createSession(model);
    const local = await nodeBackend.createSession(model);
    const [a, b] = [await isolated.run({ x: input }), await local.run({ x: input })];
    expect(a.y!.shape).toEqual([2, 4, 6]);
    expect(Array.from(a.y!.data as Float32Array)).toEqual(Array.from(b.y!.data as Float32Array));
    await isolated.dispose();
    await local.dispose();
  });

  test('a native crash is an InferenceError naming the signal; the next session starts a new process', async () => {
    const crashing = await backend.createSession(attentionGraph(false));
    let error: unknown;
    try {
      await crashing.run({ x: input });
    } catch (caught) {
      error = caught;
    }
    expect(InferenceError.isInstance(error)).toBe(true);
    expect((error as InferenceError).signal).toBe('SIGSEGV');
    expect((error as Error).message).toMatch(/crashed \(SIGSEGV\)/);
    // The dead session says so; a new one works.
    await expect(crashing.run({ x: input })).rejects.toThrow(/ended earlier \(SIGSEGV\)/);
    const fresh = await backend.createSession(attentionGraph(true));
    expect((await fresh.run({ x: input })).y!.shape).toEqual([2, 4, 6]);
    await fresh.dispose();
  });

  test('feeds are checked before they cross the process boundary', async () => {
    const session = await backend.createSession(attentionGraph(true));
    await expect(session.run({ x: createTensor('float32', [2, 4, 5], new Float32Array(40)) })).rejects.toThrow(/Input 'x' must be/);
    await session.dispose();
  });

  test('a session that takes longer than timeoutMs is killed and reported', async () => {
    const impatient = createIsolatedNodeBackend({ timeoutMs: 1 });
    const error = await impatient.createSession(attentionGraph(true)).catch((caught: unknown) => caught);
    expect(InferenceError.isInstance(error)).toBe(true);
    expect((error as InferenceError).signal).toBe('timeout');
    await impatient.close();
  });
});
