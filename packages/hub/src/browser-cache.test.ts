import { createHash } from 'node:crypto';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { IntegrityError } from '@vitzoo/core';
import { createBrowserHubCache } from './browser-cache.js';
import { DownloadLimitError, HubFileNotFoundError, OfflineCacheMissError, UnexpectedContentError } from './errors.js';
import { fetchHubModel } from './hub-model.js';
import { memoryCacheStorage, startHubTestServer, type HubTestServer } from './testing.js';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const graph = new Uint8Array(Array.from({ length: 3000 }, (_, i) => (i * 5) % 256));
let server: HubTestServer;
let requests = 0;

beforeAll(async () => {
  server = await startHubTestServer({
    'org/onnx': { 'config.json': JSON.stringify({ model_type: 'vit' }), 'preprocessor_config.json': '{}', 'onnx/model.onnx': graph },
  });
});
afterAll(() => server.close());
beforeEach(() => {
  server.requests.length = 0;
  server.clearFaults();
  requests = 0;
});

describe('createBrowserHubCache (Cache API)', () => {
  const make = (caches: CacheStorage, offline = false) =>
    createBrowserHubCache({ endpoint: server.url, caches, offline, fetch: (input, init) => (requests++, fetch(input, init)) });

  it('fetches a model with hashes checked, then serves it from the cache without requests', async () => {
    const caches = memoryCacheStorage();
    const model = await fetchHubModel(make(caches), 'org/onnx', 'main');
    expect(model.layout).toBe('onnx');
    expect(model.commit).toBe(server.commit);
    expect(sha256(await model.files.at(-1)!.bytes())).toBe(sha256(graph));
    const used = requests;
    expect(used).toBeGreaterThan(0);
    const again = await fetchHubModel(make(caches, true), 'org/onnx', 'main');
    expect(again.files.map((file) => file.file)).toEqual(['config.json', 'preprocessor_config.json', 'onnx/model.onnx']);
    expect(requests).toBe(used);
    // Every file's sha256 was recorded when it was stored: known again without reading the body.
    const cached = again.files.at(-1)!;
    expect(cached.sha256).toBe(sha256(graph));
    expect(cached.size).toBe(graph.byteLength);
    expect(sha256(await cached.bytes())).toBe(sha256(graph));
  });

  it('a wrong hash is refused and not stored; 404 and offline are typed', async () => {
    const caches = memoryCacheStorage();
    server.fault('onnx/model.onnx', { kind: 'wrong-hash' });
    await expect(fetchHubModel(make(caches), 'org/onnx', 'main')).rejects.toBeInstanceOf(IntegrityError);
    expect([...caches.entries.get('vitzoo')!.keys()].some((key) => key.endsWith('model.onnx'))).toBe(false);
    await expect(make(caches).get('org/onnx', 'main', 'missing.json')).rejects.toBeInstanceOf(HubFileNotFoundError);
    const before = requests;
    const offline = await make(memoryCacheStorage(), true).get('org/onnx', 'main', 'config.json').catch((e: unknown) => e);
    expect(offline).toBeInstanceOf(OfflineCacheMissError);
    expect(requests).toBe(before);
  });

  it('the same limits as the Node cache: a body past its announced size, an HTML page, a deadline', async () => {
    const caches = memoryCacheStorage();
    server.fault('onnx/model.onnx', { kind: 'endless' });
    const endless = await make(caches).get('org/onnx', 'main', 'onnx/model.onnx').catch((e: unknown) => e);
    expect(endless).toBeInstanceOf(DownloadLimitError);
    expect((endless as DownloadLimitError).value).toBe(graph.byteLength);
    server.clearFaults();
    server.fault('config.json', { kind: 'html' });
    await expect(make(caches).get('org/onnx', 'main', 'config.json')).rejects.toBeInstanceOf(UnexpectedContentError);
    server.clearFaults();
    server.fault('onnx/model.onnx', { kind: 'trickle', bytes: 100, intervalMs: 20 });
    const slow = await createBrowserHubCache({ endpoint: server.url, caches, deadlineMs: 200 }).get('org/onnx', 'main', 'onnx/model.onnx').catch((e: unknown) => e);
    expect((slow as DownloadLimitError).limit).toBe('deadline');
    expect([...(caches.entries.get('vitzoo')?.keys() ?? [])]).toEqual([]);
  });
});
