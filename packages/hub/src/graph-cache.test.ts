import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { InvalidArgumentError, type BuiltGraph, type ProgressEvent } from '@vitzoo/core';
import { browserGraphUrl, computeGraphCacheKey, createBrowserGraphStore, graphKeyText, sha256Hex } from './graph-cache.js';
import { graphCacheKey } from './node-graph-cache.js';
import { memoryCacheStorage } from './testing.js';

const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');
const input = { weightsSha256: sha256('weights'), architecture: 'vit', kwargs: { depth: 2, embed_dim: 8 }, outputs: ['logits'], builderVersion: '0.1.0/1', options: { dtype: 'fp32' } };

function graphOf(bytes: Uint8Array): BuiltGraph {
  return { inputs: [], outputs: [], byteLength: bytes.byteLength, chunks: () => [bytes.subarray(0, 7), bytes.subarray(7)] };
}

describe('graph cache keys', () => {
  it('are the sha256 of the canonical JSON, the same from Web Crypto and node:crypto', async () => {
    const text = graphKeyText(input);
    // Sorted keys at every level, the builder version joined with the architecture id.
    expect(text).toBe(
      `{"architecture":"vit","kwargs":{"depth":2,"embed_dim":8},"options":{"dtype":"fp32"},"outputs":["logits"],"vitzoo.builder_version":"0.1.0/1+vit","weights":"${input.weightsSha256}"}`,
    );
    expect(await computeGraphCacheKey(input)).toBe(sha256(text));
    expect(graphCacheKey(input)).toBe(sha256(text));
    expect(await sha256Hex(new Uint8Array([1, 2, 3]))).toBe(sha256(new Uint8Array([1, 2, 3])));
  });

  it('change with the dtype, the outputs (order included) and the weights', async () => {
    const keys = new Set(
      await Promise.all([
        computeGraphCacheKey(input),
        computeGraphCacheKey({ ...input, options: { dtype: 'fp16' } }),
        computeGraphCacheKey({ ...input, outputs: ['logits', 'pre_logits'] }),
        computeGraphCacheKey({ ...input, outputs: ['pre_logits', 'logits'] }),
        computeGraphCacheKey({ ...input, weightsSha256: sha256('other') }),
      ]),
    );
    expect(keys.size).toBe(5);
    expect(() => graphKeyText({ ...input, weightsSha256: 'abc' })).toThrow(InvalidArgumentError);
  });
});

describe('createBrowserGraphStore (Cache API)', () => {
  const bytes = new Uint8Array(Array.from({ length: 50 }, (_, i) => (i * 7) % 256));

  it('stores a graph with its size and sha256 and gives the same bytes back', async () => {
    const caches = memoryCacheStorage();
    const store = createBrowserGraphStore({ caches, cacheName: 'graphs-test' });
    const key = await computeGraphCacheKey(input);
    expect(await store.get(key)).toBeUndefined();
    const events: ProgressEvent[] = [];
    const stored = await store.put(key, graphOf(bytes), { progress: (event) => events.push(event) });
    expect(stored).toEqual(bytes);
    expect(events.at(-1)).toEqual({ stage: 'build', file: `${key}.onnx`, loaded: 50, total: 50 });
    expect(await store.get(key)).toEqual(bytes);
    const response = caches.entries.get('graphs-test')!.get(browserGraphUrl(key))!;
    expect(response.headers.get('x-vitzoo-sha256')).toBe(sha256(bytes));
  });

  it('drops an entry whose bytes do not match what was recorded', async () => {
    const caches = memoryCacheStorage();
    const store = createBrowserGraphStore({ caches });
    const key = await computeGraphCacheKey(input);
    await store.put(key, graphOf(bytes));
    const entries = caches.entries.get('vitzoo')!;
    const original = entries.get(browserGraphUrl(key))!;
    const damaged = bytes.slice();
    damaged[3]! ^= 1;
    entries.set(browserGraphUrl(key), new Response(damaged, { headers: original.headers }));
    expect(await store.get(key)).toBeUndefined();
    expect(entries.has(browserGraphUrl(key))).toBe(false);
    expect(() => browserGraphUrl('../x')).toThrow(InvalidArgumentError);
  });
});
