import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createTensor, InvalidArgumentError, type Tensor } from '@vitzoo/core';
import { loadModel, type Model } from '@vitzoo/pipeline/node';
import { nodeBackend } from '@vitzoo/runtime-node';
import { createDefaultRegistry } from 'vitzoo';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Batcher, QueueFullError, type RunBatch } from './batcher.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
let model: Model;
let run: RunBatch;
const runs: number[][] = [];

beforeAll(async () => {
  model = await loadModel(join(root, 'models/digits-vit'), { registry: createDefaultRegistry(), backend: nodeBackend, outputs: ['logits', 'pre_logits'], sessionOptions: { intraOpNumThreads: 1 } });
  // The model's own forward; the batch shapes it sees are recorded.
  run = (pixels, outputs) => {
    runs.push([pixels.shape[0]!, outputs.length]);
    return model.forward(pixels, { outputs });
  };
});
afterAll(() => model?.dispose());

/** `rows` deterministic images (values in [-1, 1]), distinct per seed. */
function images(rows: number, seed: number): Tensor<'float32'> {
  const data = new Float32Array(rows * 3 * 32 * 32);
  for (let i = 0; i < data.length; i++) data[i] = Math.sin(seed * 1000 + i * 0.37);
  return createTensor('float32', [rows, 3, 32, 32], data);
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

function observed() {
  const sizes: number[] = [];
  const depths: number[] = [];
  return { sizes, depths, observer: { batch: (size: number) => void sizes.push(size), queueDepth: (depth: number) => void depths.push(depth) } };
}

describe('Batcher (dynamic batching over a real model)', () => {
  test('requests that arrive together run as one batch, and each gets its own rows of every output it asked for', async () => {
    const { sizes, observer } = observed();
    const batcher = new Batcher(run, { maxBatch: 8, maxDelayMs: 10_000, outputs: model.outputs }, observer);
    const inputs = [images(1, 1), images(3, 2), images(2, 3), images(2, 4)];
    // 8 rows fill the batch: it runs at once, without waiting out the 10 s delay.
    const results = await Promise.all(inputs.map((pixels, i) => batcher.admit().submit(pixels, i === 1 ? ['pre_logits'] : ['logits'])));
    expect(sizes).toEqual([8]);
    expect(runs.at(-1)).toEqual([8, 2]); // the union of the outputs asked for
    for (const [i, pixels] of inputs.entries()) {
      const alone = await model.forward(pixels);
      const name = i === 1 ? 'pre_logits' : 'logits';
      expect(Object.keys(results[i]!)).toEqual([name]);
      expect(results[i]![name]!.shape).toEqual(alone[name]!.shape);
      expect(maxAbsDiff(results[i]![name]!.data as Float32Array, alone[name]!.data as Float32Array)).toBeLessThan(1e-5);
    }
    await batcher.whenIdle();
    expect(batcher.idle).toBe(true);
  });

  test('a lone request waits maxDelayMs for company, then runs', async () => {
    const { sizes, observer } = observed();
    const batcher = new Batcher(run, { maxBatch: 32, maxDelayMs: 60, outputs: model.outputs }, observer);
    const started = performance.now();
    await Promise.all([batcher.admit().submit(images(1, 5), ['logits']), batcher.admit().submit(images(2, 6), ['logits'])]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(55);
    expect(sizes).toEqual([3]);
  });

  test('by default (maxDelayMs 0) a request runs at once; while a batch runs the next one gathers; a request that does not fit waits for the next batch', async () => {
    const { sizes, observer } = observed();
    const batcher = new Batcher(run, { maxBatch: 4, outputs: model.outputs }, observer);
    expect(batcher.maxDelayMs).toBe(0);
    // The first runs alone at once (no delay); the others queue behind it: 3 + 1 fit in 4, then 3 + 2 do not.
    const rows = [1, 3, 1, 3, 2];
    await Promise.all(rows.map((count, i) => batcher.admit().submit(images(count, 10 + i), ['logits'])));
    expect(sizes).toEqual([1, 4, 3, 2]);
  });

  test('a full queue refuses admission until a place is given back', () => {
    const { depths, observer } = observed();
    const batcher = new Batcher(run, { maxQueue: 2, outputs: model.outputs }, observer);
    const first = batcher.admit();
    batcher.admit();
    expect(() => batcher.admit()).toThrow(QueueFullError);
    first.release();
    first.release(); // twice is harmless
    expect(batcher.depth).toBe(1);
    batcher.admit();
    expect(depths).toEqual([1, 2, 1, 2]);
  });

  test('an aborted request leaves the queue without running; the others still run', async () => {
    const { sizes, observer } = observed();
    const batcher = new Batcher(run, { maxBatch: 32, maxDelayMs: 50, outputs: model.outputs }, observer);
    const controller = new AbortController();
    const kept = batcher.admit().submit(images(2, 20), ['logits']);
    const dropped = batcher.admit().submit(images(5, 21), ['logits'], controller.signal);
    controller.abort(new Error('client went away'));
    await expect(dropped).rejects.toThrow('client went away');
    expect((await kept).logits!.shape).toEqual([2, 10]);
    expect(sizes).toEqual([2]);
    await batcher.whenIdle();
    expect(batcher.idle).toBe(true);
  });

  test('a failing run rejects every request of its batch with the error; requests of other sizes are refused up front', async () => {
    const failing: RunBatch = async (pixels, outputs) => model.forward(createTensor('float32', [pixels.shape[0]!, 3, 16, 16], new Float32Array(pixels.shape[0]! * 768)), { outputs });
    const batcher = new Batcher(failing, { maxBatch: 4, maxDelayMs: 0, outputs: model.outputs });
    const results = await Promise.allSettled([batcher.admit().submit(images(1, 30), ['logits']), batcher.admit().submit(images(1, 31), ['logits'])]);
    for (const result of results) expect(result.status).toBe('rejected');
    await expect(batcher.admit().submit(images(5, 32), ['logits'])).rejects.toThrow(InvalidArgumentError);
    await batcher.whenIdle();
    expect(batcher.idle).toBe(true);
    expect(() => new Batcher(run, { maxBatch: 0, outputs: model.outputs })).toThrow(/maxBatch must be a positive integer/);
    expect(() => new Batcher(run, { maxDelayMs: -1, outputs: model.outputs })).toThrow(/maxDelayMs/);
  });
});
