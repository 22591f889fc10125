import { createHash } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, truncate, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createRegistry, DownloadError, UnsupportedError, type Architecture, type BuiltGraph, type ProgressEvent } from '@vitzoo/core';
import { OfflineCacheMissError } from './errors.js';
import { cachedGraph, fileSha256, graphCacheKey, graphPath, loadCachedGraph } from './node-graph-cache.js';
import { createSourceResolver, resolveModelSource } from './node-resolve.js';
import { fakeArchitecture } from './test-architecture.js';
import { startHubTestServer, type HubTestServer } from './testing.js';

const FIXTURE = join(__dirname, '..', '..', '..', 'fixtures', 'models', 'vit_tiny');
const sha256 = (bytes: Uint8Array | string) => createHash('sha256').update(bytes).digest('hex');
let server: HubTestServer;
let cacheDir: string;
const release = new Uint8Array(Array.from({ length: 4096 }, (_, i) => (i * 31) % 256));

beforeAll(async () => {
  server = await startHubTestServer({ 'timm/fake_tiny.hub': { 'config.json': JSON.stringify({ architecture: 'fake_tiny' }), 'model.safetensors': release } });
  server.setFile('fake_tiny.pth', release);
});
afterAll(() => server.close());
beforeEach(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'vitzoo-resolve-'));
  server.requests.length = 0;
  server.clearFaults();
});
afterEach(() => rm(cacheDir, { recursive: true, force: true }));

function registryWithReleaseAt(url: string) {
  const variant = fakeArchitecture.variants.fake_tiny!;
  const architecture: Architecture = {
    ...fakeArchitecture,
    variants: { fake_tiny: { ...variant, pretrained: { ...variant.pretrained, release: { ...variant.pretrained.release!, url } } } },
  } as Architecture;
  return createRegistry([architecture]);
}

describe('resolveModelSource: registry names, release files, local folders', () => {
  it('a registry name with a hub id goes to that repo', async () => {
    const registry = registryWithReleaseAt(`${server.url}/files/fake_tiny.pth`);
    const resolved = await resolveModelSource('fake_tiny.hub', { registry, cacheDir, env: { HF_ENDPOINT: server.url } });
    expect(resolved).toMatchObject({ layout: 'timm', name: 'fake_tiny.hub', source: 'timm/fake_tiny.hub@main', modelFile: 'model.safetensors', revision: server.commit });
  });

  it("a release-file variant: the authors' file in the cache plus a generated timm config.json", async () => {
    const registry = registryWithReleaseAt(`${server.url}/files/fake_tiny.pth`);
    const resolve = createSourceResolver({ registry, cacheDir, env: {} });
    const resolved = await resolve('fake_tiny.release');
    expect(resolved).toMatchObject({ layout: 'timm', modelFile: 'fake_tiny.pth', files: ['config.json', 'fake_tiny.pth'], name: 'fake_tiny.release' });
    expect(sha256(await readFile(join(resolved.dir, 'fake_tiny.pth')))).toBe(sha256(release));
    const config = JSON.parse(await readFile(join(resolved.dir, 'config.json'), 'utf8'));
    expect(config).toMatchObject({ architecture: 'fake_tiny', num_classes: 10, pretrained_cfg: { tag: 'release', input_size: [3, 32, 32], crop_pct: 0.9, file: 'fake_tiny.pth' } });
    server.requests.length = 0;
    expect(await resolve('fake_tiny.release')).toEqual(resolved);
    expect(server.requests).toEqual([]);
    // Offline with a fresh cache: the missing file is named.
    const offline = await resolveModelSource('fake_tiny.release', { registry, cacheDir: join(cacheDir, 'empty'), offline: true }).catch((e: unknown) => e);
    expect(offline).toBeInstanceOf(OfflineCacheMissError);
    expect((offline as OfflineCacheMissError).missing).toEqual(['fake_tiny.pth']);
  });

  it('a release URL that fails: DownloadError, nothing cached', async () => {
    server.fault('/files/fake_tiny.pth', { kind: 'status', status: 503 });
    const registry = registryWithReleaseAt(`${server.url}/files/fake_tiny.pth`);
    const error = await resolveModelSource('fake_tiny.release', { registry, cacheDir }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DownloadError);
    expect((error as DownloadError).status).toBe(503);
  });

  it('a variant without a download source says so', async () => {
    const registry = registryWithReleaseAt(`${server.url}/files/fake_tiny.pth`);
    await expect(resolveModelSource('fake_tiny.nowhere', { registry, cacheDir })).rejects.toBeInstanceOf(UnsupportedError);
  });

  it('a URL of a model file is downloaded into the cache with the config of the registry name it carries; refresh downloads it again', async () => {
    const registry = registryWithReleaseAt(`${server.url}/files/fake_tiny.pth`);
    const url = `${server.url}/files/fake_tiny.pth`;
    const resolved = await resolveModelSource(url, { registry, cacheDir });
    expect(resolved).toMatchObject({ layout: 'timm', modelFile: 'fake_tiny.pth', files: ['config.json', 'fake_tiny.pth'], revision: undefined, name: 'fake_tiny.hub' });
    expect(resolved.dir.startsWith(join(cacheDir, 'urls'))).toBe(true);
    expect(JSON.parse(await readFile(join(resolved.dir, 'config.json'), 'utf8'))).toMatchObject({ architecture: 'fake_tiny', pretrained_cfg: { tag: 'hub', input_size: [3, 32, 32] } });
    // Another architecture for the same URL rewrites the generated config.
    await resolveModelSource(url, { registry, cacheDir, architecture: 'fake_tiny.release' });
    expect(JSON.parse(await readFile(join(resolved.dir, 'config.json'), 'utf8')).pretrained_cfg.tag).toBe('release');
    // Cached: no request; refresh: downloaded again, and a changed file replaces the old one.
    server.requests.length = 0;
    await resolveModelSource(url, { registry, cacheDir });
    expect(server.requests).toEqual([]);
    const changed = release.map((value) => 255 - value);
    server.setFile('fake_tiny.pth', changed);
    try {
      await resolveModelSource(url, { registry, cacheDir, refresh: true });
      expect(server.requests.map((r) => `${r.method} ${r.path}`)).toEqual(['GET /files/fake_tiny.pth']);
      expect(sha256(await readFile(join(resolved.dir, 'fake_tiny.pth')))).toBe(sha256(changed));
      expect((await readdir(resolved.dir)).sort()).toEqual(['config.json', 'fake_tiny.pth']);
    } finally {
      server.setFile('fake_tiny.pth', release);
    }
  });

  it('local folders and files are used in place', async () => {
    const folder = await resolveModelSource(FIXTURE, { cacheDir });
    expect(folder).toMatchObject({ dir: FIXTURE, layout: 'timm', modelFile: 'model.safetensors' });
    const file = await resolveModelSource(join(FIXTURE, 'model.safetensors'), { cacheDir });
    expect(file).toMatchObject({ dir: FIXTURE, layout: 'timm', modelFile: 'model.safetensors' });
    await expect(resolveModelSource('./does-not-exist', { cacheDir })).rejects.toThrow(/No such model folder/);
    await expect(resolveModelSource(' ', { cacheDir })).rejects.toThrow(/^Empty model source/); // not the working directory
    expect(server.requests).toEqual([]);
  });
});

describe('graph cache', () => {
  const graphOf = (bytes: Uint8Array): BuiltGraph => ({
    inputs: [],
    outputs: [],
    byteLength: bytes.byteLength,
    *chunks() {
      yield bytes.subarray(0, 10);
      yield bytes.subarray(10);
    },
  });
  const base = { weightsSha256: sha256('weights'), architecture: 'vit', kwargs: { depth: 2, embed_dim: 48 }, outputs: ['logits'], builderVersion: '0.1.0' };

  it('keys on weights, config, outputs, options and builder version; canonical in key order', () => {
    const key = graphCacheKey(base);
    expect(key).toMatch(/^[0-9a-f]{64}$/);
    expect(graphCacheKey({ ...base, kwargs: { embed_dim: 48, depth: 2 } })).toBe(key);
    const variations = [
      { weightsSha256: sha256('other') },
      { kwargs: { depth: 3, embed_dim: 48 } },
      { outputs: ['logits', 'pre_logits'] },
      { outputs: ['pre_logits', 'logits'] },
      { builderVersion: '0.2.0' },
      { architecture: 'deit' },
      { options: { precision: 'fp16' } },
    ];
    const keys = new Set(variations.map((change) => graphCacheKey({ ...base, ...change })));
    expect(keys.size).toBe(variations.length);
    expect(keys.has(key)).toBe(false);
    expect(() => graphCacheKey({ ...base, weightsSha256: 'abc' })).toThrow(/sha256/);
  });

  it('builds once, stores atomically, and a second call skips the build', async () => {
    const bytes = new Uint8Array(Array.from({ length: 100 }, (_, i) => i));
    const key = graphCacheKey(base);
    let builds = 0;
    const events: ProgressEvent[] = [];
    const build = () => {
      builds++;
      return graphOf(bytes);
    };
    const path = await cachedGraph(key, build, { cacheDir, progress: (e) => events.push(e) });
    expect(path).toBe(join(cacheDir, 'graphs', `${key}.onnx`));
    expect(path).toBe(graphPath(key, { cacheDir }));
    expect(new Uint8Array(await readFile(path))).toEqual(bytes);
    expect(events.at(-1)).toMatchObject({ loaded: 100, total: 100, stage: 'build' });
    expect(await cachedGraph(key, build, { cacheDir })).toBe(path);
    expect(builds).toBe(1);
    // A build that lies about its size leaves nothing behind.
    const badKey = graphCacheKey({ ...base, builderVersion: 'bad' });
    await expect(cachedGraph(badKey, () => ({ ...graphOf(bytes), byteLength: 99 }), { cacheDir })).rejects.toThrow(RangeError);
    expect((await readdir(join(cacheDir, 'graphs'))).sort()).toEqual([`${key}.json`, `${key}.onnx`]);
    expect(JSON.parse(await readFile(join(cacheDir, 'graphs', `${key}.json`), 'utf8'))).toEqual({ version: 1, key, size: 100, sha256: sha256(bytes) });
    await expect(cachedGraph('../../evil', build, { cacheDir })).rejects.toThrow(/must be lower-case hex/);
  });

  it('a stored graph that does not match its entry (flipped byte, truncated, no entry) is rebuilt, never used', async () => {
    const bytes = new Uint8Array(Array.from({ length: 100 }, (_, i) => 255 - i));
    const key = graphCacheKey({ ...base, builderVersion: 'corrupt' });
    let builds = 0;
    const build = () => {
      builds++;
      return graphOf(bytes);
    };
    const path = graphPath(key, { cacheDir });
    await cachedGraph(key, build, { cacheDir });
    const corruptions: [string, () => Promise<void>][] = [
      ['flipped byte', async () => writeFile(path, Uint8Array.from(bytes, (value, index) => (index === 50 ? value ^ 1 : value)))],
      ['truncated', () => truncate(path, 60)],
      ['entry removed', () => unlink(path.replace(/\.onnx$/, '.json'))],
      ['entry of garbage', () => writeFile(path.replace(/\.onnx$/, '.json'), '{"version": 1, "key": ')],
    ];
    for (const [what, corrupt] of corruptions) {
      await corrupt();
      const before = builds;
      expect(await cachedGraph(key, build, { cacheDir }), what).toBe(path);
      expect(builds, what).toBe(before + 1);
      expect(new Uint8Array(await readFile(path)), what).toEqual(bytes);
    }
    // loadCachedGraph: the bytes come verified from the cache, or rebuilt with the reason.
    const hit = await loadCachedGraph(key, build, { cacheDir });
    expect(hit).toMatchObject({ status: 'cached', path });
    expect(hit.bytes).toEqual(bytes);
    await writeFile(path, Uint8Array.from(bytes, (value, index) => (index === 7 ? value ^ 128 : value)));
    const rebuilt = await loadCachedGraph(key, build, { cacheDir });
    expect(rebuilt.status).toBe('rebuilt');
    expect(rebuilt.problem).toMatch(/^sha256 [0-9a-f]{64}, the cache entry says [0-9a-f]{64}$/);
    expect(rebuilt.bytes).toEqual(bytes);
    expect(new Uint8Array(await readFile(path))).toEqual(bytes);
    await truncate(path, 10);
    expect((await loadCachedGraph(key, build, { cacheDir })).problem).toBe('size 10 bytes, the cache entry says 100');
    const fresh = await loadCachedGraph(graphCacheKey({ ...base, builderVersion: 'fresh' }), build, { cacheDir });
    expect(fresh.status).toBe('built');
    expect(fresh.bytes).toEqual(bytes);
  });

  it('fileSha256 hashes files, and trusts sha256-named cache blobs', async () => {
    const weights = await readFile(join(FIXTURE, 'model.safetensors'));
    expect(await fileSha256(join(FIXTURE, 'model.safetensors'))).toBe(sha256(weights));
    server.setRepo('org/blob', { 'config.json': '{}', 'model.safetensors': weights });
    const { createFileCache } = await import('./node-cache.js');
    const file = await createFileCache({ cacheDir, env: { HF_ENDPOINT: server.url } }).get('org/blob', 'main', 'model.safetensors');
    expect(await fileSha256(file.path!)).toBe(sha256(weights));
  });
});
