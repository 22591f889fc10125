import { describe, expect, test } from 'vitest';
import { createTensor, InferenceError, InvalidArgumentError, type Tensor } from '@vitzoo/core';
import { GraphBuilder, serializeModel } from '@vitzoo/onnx';
import { resolveBackend } from '@vitzoo/runtime';
import { createNodeBackend, nodeBackend } from './index.js';

/** y = x · 2 + 1 over [batch, 3] float32: hand-checkable. */
function affineModel(): Uint8Array {
  const g = new GraphBuilder();
  const x = g.input('x', 'float32', ['batch', 3]);
  g.output(g.add(g.mul(x, g.scalar(2)), g.scalar(1)), 'y', 'float32', ['batch', 3]);
  return serializeModel(g.build());
}

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('runtime-node backend', () => {
  test('registers itself as "node" and runs a model', async () => {
    expect(await resolveBackend()).toBe(nodeBackend);
    const session = await nodeBackend.createSession(affineModel(), { intraOpNumThreads: 1 });
    expect(session.inputNames).toEqual(['x']);
    expect(session.outputNames).toEqual(['y']);
    const result = await session.run({ x: createTensor('float32', [2, 3], Float32Array.of(0, 1, 2, -1, 0.5, 10)) });
    expect(result.y!.shape).toEqual([2, 3]);
    expect(Array.from(result.y!.data as Float32Array)).toEqual([1, 3, 5, -1, 2, 21]);
    await session.dispose();
    await session.dispose();
    const afterDispose = await caught(session.run({ x: createTensor('float32', [1, 3]) }));
    expect(InvalidArgumentError.isInstance(afterDispose)).toBe(true);
  });

  test('feeds are checked against the model signature with clear errors', async () => {
    const session = await nodeBackend.createSession(affineModel());
    const cases: [Record<string, Tensor>, RegExp][] = [
      [{}, /Missing input 'x'/],
      [{ x: createTensor('float32', [2, 4]) }, /Input 'x' must be float32 \[batch, 3\], got float32 \[2, 4\]/],
      [{ x: createTensor('int32', [2, 3]) }, /Input 'x' must be float32 .* got int32/],
      [{ x: createTensor('float32', [1, 3]), z: createTensor('float32', [1]) }, /Unknown input 'z'/],
    ];
    for (const [feeds, message] of cases) {
      const error = await caught(session.run(feeds));
      expect(InvalidArgumentError.isInstance(error)).toBe(true);
      expect((error as Error).message).toMatch(message);
    }
    const unknownOutput = await caught(session.run({ x: createTensor('float32', [1, 3]) }, { outputs: ['nope'] }));
    expect((unknownOutput as Error).message).toMatch(/Unknown output 'nope'/);
    const controller = new AbortController();
    controller.abort();
    expect(await caught(session.run({ x: createTensor('float32', [1, 3]) }, { signal: controller.signal }))).toBeDefined();
    await session.dispose();
  });

  test('a corrupt model is refused with a typed error without the runtime trace; bad thread counts too', async () => {
    const error = await caught(nodeBackend.createSession(new Uint8Array([1, 2, 3, 4, 5])));
    expect(InferenceError.isInstance(error)).toBe(true);
    expect((error as Error).message).toMatch(/^node could not load the model: /);
    expect((error as Error).message).not.toMatch(/\n/);
    const threads = await caught(nodeBackend.createSession(affineModel(), { intraOpNumThreads: -1 }));
    expect(InvalidArgumentError.isInstance(threads)).toBe(true);
  });

  test('execution providers and defaults pass through to onnxruntime', async () => {
    const backend = createNodeBackend({ name: 'node-test', defaults: { executionProviders: ['cpu'], intraOpNumThreads: 1 } });
    const session = await backend.createSession(affineModel(), { interOpNumThreads: 1 });
    expect(session.backend).toBe('node-test');
    await session.dispose();
    const unavailable = await caught(nodeBackend.createSession(affineModel(), { executionProviders: ['no-such-provider'] }));
    expect(InferenceError.isInstance(unavailable)).toBe(true);
  });
});
