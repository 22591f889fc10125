import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DownloadError, IntegrityError, InvalidArgumentError, type ProgressEvent } from '@vitzoo/core';
import { HubFileNotFoundError, OfflineCacheMissError } from './errors.js';
import { createFileCache, defaultCacheDir, isOfflineEnvironment } from './node-cache.js';
import { resolveModelSource } from './node-resolve.js';
import { startHubTestServer, type HubTestServer } from './testing.js';

const FIXTURE = join(__dirname, '..', '..', '..', 'fixtures', 'models', 'vit_tiny');
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

/** timm's hub config.json for the vit_tiny fixture: a registered variant name plus the fixture's kwargs. */
const TIMM_CONFIG = JSON.stringify({
  architecture: 'vit_tiny_patch16_224',
  num_classes: 10,
  model_args: { img_size: 32, patch_size: 8, embed_dim: 48, depth: 2, num_heads: 3, mlp_ratio: 4, class_token: true, global_pool: 'token' },
  pretrained_cfg: { input_size: [3, 32, 32], interpolation: 'bicubic', crop_pct: 0.9, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], num_classes: 10 },
});
const ONNX_CONFIG = JSON.stringify({ model_type: 'vit', architectures: ['ViTForImageClassification'], id2label: { 0: 'a', 1: 'b' } });
const PREPROCESSOR = JSON.stringify({ do_resize: true, size: { height: 32, width: 32 }, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5], do_normalize: true, do_rescale: true, rescale_factor: 1 / 255 });

let weights: Uint8Array;
const graph = new Uint8Array(Array.from({ length: 5000 }, (_, i) => (i * 7) % 251));
const quantized = new Uint8Array(Array.from({ length: 1200 }, (_, i) => (i * 13) % 251));
let server: HubTestServer;
let cacheDir: string;

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isDirectory()) out.push(relative(dir, join(entry.parentPath ?? (entry as unknown as { path: string }).path, entry.name)).split(sep).join('/'));
  }
  return out.sort();
}

beforeAll(async () => {
  weights = new Uint8Array(await readFile(join(FIXTURE, 'model.safetensors')));
  server = await startHubTestServer({
    'test-org/vit-tiny-timm': { 'config.json': TIMM_CONFIG, 'model.safetensors': weights },
    'test-org/vit-tiny-onnx': { 'config.json': ONNX_CONFIG, 'preprocessor_config.json': PREPROCESSOR, 'onnx/model.onnx': graph, 'onnx/model_quantized.onnx': quantized },
    'test-org/vit-tiny-pth': { 'config.json': TIMM_CONFIG, 'pytorch_model.bin': weights },
  });
});
afterAll(() => server.close());
beforeEach(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'vitzoo-hub-'));
  server.requests.length = 0;
  server.clearFaults();
});
afterEach(() => rm(cacheDir, { recursive: true, force: true }));

const options = (extra: Record<string, unknown> = {}) => ({ cacheDir, env: { HF_ENDPOINT: server.url }, timeoutMs: 5000, ...extra });

describe('resolveModelSource against a hub-shaped server', () => {
  it('fetches a timm-layout repo, pinned to the commit, then serves it from the cache with zero requests', async () => {
    const events: ProgressEvent[] = [];
    const first = await resolveModelSource('test-org/vit-tiny-timm', options({ progress: (e: ProgressEvent) => events.push(e) }));
    expect(first.layout).toBe('timm');
    expect(first.modelFile).toBe('model.safetensors');
    expect(first.files).toEqual(['config.json', 'model.safetensors']);
    expect(first.revision).toBe(server.commit);
    expect(first.dir).toBe(join(cacheDir, 'hub', 'models--test-org--vit-tiny-timm', 'snapshots', server.commit));
    expect(sha256(await readFile(join(first.dir, 'model.safetensors')))).toBe(sha256(weights));
    expect(await readFile(join(first.dir, 'config.json'), 'utf8')).toBe(TIMM_CONFIG);
    // huggingface_hub's layout: blobs by etag (sha256 for LFS files), snapshot links, refs/main.
    const files = await listFiles(join(cacheDir, 'hub', 'models--test-org--vit-tiny-timm'));
    expect(files).toContain(`blobs/${sha256(weights)}`);
    expect(files).toContain(`snapshots/${server.commit}/model.safetensors`);
    expect(await readFile(join(cacheDir, 'hub', 'models--test-org--vit-tiny-timm', 'refs', 'main'), 'utf8')).toBe(server.commit);
    expect(files.some((file) => file.includes('.incomplete') || file.includes('.tmp') || file.includes('.partial'))).toBe(false);
    // The weights came through the hub's 302 to the CDN route, with progress up to the full size.
    expect(server.requests.map((r) => `${r.method} ${r.path}`)).toContain(`GET /cdn/${sha256(weights)}`);
    const last = events.filter((e) => e.file === 'model.safetensors').at(-1);
    expect(last).toEqual({ stage: 'download', file: 'model.safetensors', loaded: weights.byteLength, total: weights.byteLength });

    server.requests.length = 0;
    const second = await resolveModelSource('test-org/vit-tiny-timm', options());
    expect(second).toEqual(first);
    expect(server.requests).toEqual([]);
    const offline = await resolveModelSource('test-org/vit-tiny-timm', options({ env: { VITZOO_OFFLINE: '1' } }));
    expect(offline.dir).toBe(first.dir);
    expect(server.requests).toEqual([]);
  });

  it('fetches a transformers.js ONNX repo (model.onnx, or model_quantized.onnx on request)', async () => {
    const resolved = await resolveModelSource('hf-hub:test-org/vit-tiny-onnx', options());
    expect(resolved.layout).toBe('onnx');
    expect(resolved.files).toEqual(['config.json', 'preprocessor_config.json', 'onnx/model.onnx']);
    expect(sha256(await readFile(join(resolved.dir, 'onnx', 'model.onnx')))).toBe(sha256(graph));
    expect(await readFile(join(resolved.dir, 'preprocessor_config.json'), 'utf8')).toBe(PREPROCESSOR);
    const small = await resolveModelSource('test-org/vit-tiny-onnx', options({ quantized: true }));
    expect(small.modelFile).toBe('onnx/model_quantized.onnx');
    expect(sha256(await readFile(join(small.dir, small.modelFile)))).toBe(sha256(quantized));
    // Pinned by commit: the same snapshot folder.
    expect(small.dir).toBe(resolved.dir);
  });

  it('accepts org/repo@commit and falls back to pytorch_model.bin', async () => {
    const resolved = await resolveModelSource(`test-org/vit-tiny-pth@${server.commit}`, options());
    expect(resolved.modelFile).toBe('pytorch_model.bin');
    expect(resolved.revision).toBe(server.commit);
    expect(sha256(await readFile(join(resolved.dir, 'pytorch_model.bin')))).toBe(sha256(weights));
    expect(server.requests.some((r) => r.path.endsWith('/model.safetensors'))).toBe(true);
  });

  it('sends HF_TOKEN as a bearer token', async () => {
    await resolveModelSource('test-org/vit-tiny-onnx', options({ env: { HF_ENDPOINT: server.url, HF_TOKEN: 'hf_secret' } }));
    const resolves = server.requests.filter((r) => r.path.includes('/resolve/'));
    expect(resolves.length).toBeGreaterThan(0);
    for (const request of resolves) expect(request.headers.authorization).toBe('Bearer hf_secret');
  });

  it('404: a typed error naming the repo and the file', async () => {
    const missingRepo = await resolveModelSource('test-org/nope', options()).catch((e: unknown) => e);
    expect(missingRepo).toBeInstanceOf(HubFileNotFoundError);
    expect((missingRepo as HubFileNotFoundError).repo).toBe('test-org/nope');
    expect((missingRepo as HubFileNotFoundError).file).toBe('config.json');
    expect((missingRepo as Error).message).toContain("'config.json' of hub repo 'test-org/nope'");
    server.setRepo('test-org/no-weights', { 'config.json': TIMM_CONFIG });
    const noWeights = await resolveModelSource('test-org/no-weights', options()).catch((e: unknown) => e);
    expect(HubFileNotFoundError.isInstance(noWeights)).toBe(true);
    expect((noWeights as HubFileNotFoundError).file).toBe('model.safetensors');
    expect((noWeights as Error).message).toContain('test-org/no-weights');
  });

  it('500: DownloadError with the status, nothing cached', async () => {
    server.fault('model.safetensors', { kind: 'status', status: 500 });
    const error = await resolveModelSource('test-org/vit-tiny-timm', options()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DownloadError);
    expect((error as DownloadError).status).toBe(500);
    const files = await listFiles(cacheDir);
    expect(files.filter((file) => file.includes('blobs/'))).toEqual([`hub/models--test-org--vit-tiny-timm/blobs/${createHash('sha1').update(`blob ${TIMM_CONFIG.length}\0`).update(TIMM_CONFIG).digest('hex')}`]);
    expect(files.some((file) => file.endsWith('model.safetensors'))).toBe(false);
  });

  it('truncated body: DownloadError, no cache entry, then resumed with Range', async () => {
    server.fault('model.safetensors', { kind: 'truncate', bytes: 3000 }, 1);
    const error = await resolveModelSource('test-org/vit-tiny-timm', options()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DownloadError);
    const repoDir = join(cacheDir, 'hub', 'models--test-org--vit-tiny-timm');
    let files = await listFiles(repoDir);
    expect(files.some((file) => file.endsWith('/model.safetensors'))).toBe(false);
    expect(files).not.toContain(`blobs/${sha256(weights)}`);
    // What arrived before the connection closed is parked for the next attempt.
    const parked = (await stat(join(repoDir, 'blobs', `${sha256(weights)}.partial`))).size;
    expect(parked).toBeGreaterThan(0);
    expect(parked).toBeLessThanOrEqual(3000);

    server.requests.length = 0;
    const resolved = await resolveModelSource('test-org/vit-tiny-timm', options());
    expect(sha256(await readFile(join(resolved.dir, 'model.safetensors')))).toBe(sha256(weights));
    const get = server.requests.find((r) => r.method === 'GET' && r.path.startsWith('/cdn/'));
    expect(get?.headers.range).toBe(`bytes=${parked}-`);
    files = await listFiles(repoDir);
    expect(files.some((file) => file.includes('.partial') || file.includes('.incomplete'))).toBe(false);
  });

  it('restarts cleanly when the server ignores Range', async () => {
    server.fault('model.safetensors', { kind: 'truncate', bytes: 2000 }, 1);
    await expect(resolveModelSource('test-org/vit-tiny-timm', options())).rejects.toBeInstanceOf(DownloadError);
    server.fault('model.safetensors', { kind: 'no-range' });
    const resolved = await resolveModelSource('test-org/vit-tiny-timm', options());
    expect(sha256(await readFile(join(resolved.dir, 'model.safetensors')))).toBe(sha256(weights));
  });

  it('a stalled server: DownloadError (timeout), nothing cached', async () => {
    server.fault('model.safetensors', { kind: 'stall', bytes: 100 });
    const started = Date.now();
    const error = await resolveModelSource('test-org/vit-tiny-timm', options({ timeoutMs: 300 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DownloadError);
    expect((error as Error).message).toMatch(/no data received for 300 ms \(timeout/);
    expect(Date.now() - started).toBeLessThan(5000);
    const files = await listFiles(cacheDir);
    expect(files.some((file) => file.endsWith('/model.safetensors') || file.endsWith(sha256(weights)))).toBe(false);
  });

  it('a server that never answers: DownloadError (timeout)', async () => {
    server.fault('config.json', { kind: 'stall' });
    server.setRepo('test-org/slow', { 'config.json': TIMM_CONFIG });
    const error = await resolveModelSource('test-org/slow', options({ timeoutMs: 300 })).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DownloadError);
    expect((error as Error).message).toContain('timeout');
  });

  it('wrong hash: IntegrityError, nothing cached (not even a partial)', async () => {
    server.fault('model.safetensors', { kind: 'wrong-hash' });
    const error = await resolveModelSource('test-org/vit-tiny-timm', options()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(IntegrityError);
    expect((error as IntegrityError).actual).toBe(`sha256 ${sha256(weights)}`);
    const files = await listFiles(join(cacheDir, 'hub', 'models--test-org--vit-tiny-timm'));
    expect(files.filter((file) => !file.endsWith('config.json') && !file.startsWith('refs/') && !/^blobs\/[0-9a-f]{40}$/.test(file))).toEqual([]);
  });

  it('refuses path-traversal file names before any request or write', async () => {
    const cache = createFileCache(options());
    for (const name of ['../evil', '../../etc/passwd', '/etc/passwd', 'onnx/../../x', 'a\\..\\b', 'C:/x', 'a//b', './config.json', '']) {
      const error = await cache.get('test-org/vit-tiny-timm', 'main', name).catch((e: unknown) => e);
      expect(error, name).toBeInstanceOf(InvalidArgumentError);
      expect((error as InvalidArgumentError).argument).toBe('file');
    }
    await expect(cache.get('../x', 'main', 'config.json')).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(cache.get('test-org/vit-tiny-timm', '../../x', 'config.json')).rejects.toBeInstanceOf(InvalidArgumentError);
    expect(server.requests).toEqual([]);
    expect(await listFiles(cacheDir)).toEqual([]);
  });

  it('a hostile ETag never becomes a path outside the cache', async () => {
    server.fault('model.safetensors', { kind: 'etag', etag: '../../../../escaped' });
    const resolved = await resolveModelSource('test-org/vit-tiny-timm', options());
    expect(sha256(await readFile(join(resolved.dir, 'model.safetensors')))).toBe(sha256(weights));
    const blobs = await readdir(join(cacheDir, 'hub', 'models--test-org--vit-tiny-timm', 'blobs'));
    expect(blobs.every((name) => /^[0-9a-f]{40,64}$/.test(name))).toBe(true);
    expect(await readdir(cacheDir)).toEqual(['hub']);
  });

  it('offline: never touches the network and names the missing files', async () => {
    const cold = await resolveModelSource('test-org/vit-tiny-timm', options({ offline: true })).catch((e: unknown) => e);
    expect(cold).toBeInstanceOf(OfflineCacheMissError);
    expect((cold as OfflineCacheMissError).missing).toEqual(['config.json']);
    // config.json cached, weights not: the message names the weights.
    await createFileCache(options()).get('test-org/vit-tiny-timm', 'main', 'config.json');
    server.requests.length = 0;
    const warm = await resolveModelSource('test-org/vit-tiny-timm', options({ env: { HF_ENDPOINT: server.url, HF_HUB_OFFLINE: '1' } })).catch((e: unknown) => e);
    expect(warm).toBeInstanceOf(OfflineCacheMissError);
    expect((warm as OfflineCacheMissError).missing).toEqual(['model.safetensors (or pytorch_model.bin)']);
    expect((warm as Error).message).toContain("'model.safetensors (or pytorch_model.bin)'");
    expect(server.requests).toEqual([]);
  });

  it('two concurrent downloads of the same files both succeed with identical bytes', async () => {
    // The CDN holds each body back 300 ms, so both downloads are in flight at once.
    server.fault('model.safetensors', { kind: 'delay', ms: 300 });
    const [a, b, c, d] = await Promise.all([
      createFileCache(options()).get('test-org/vit-tiny-timm', 'main', 'model.safetensors'),
      createFileCache(options()).get('test-org/vit-tiny-timm', 'main', 'model.safetensors'),
      resolveModelSource('test-org/vit-tiny-timm', options()),
      resolveModelSource('test-org/vit-tiny-timm', options()),
    ]);
    expect(a.path).toBe(b.path);
    expect(c.dir).toBe(d.dir);
    expect(sha256(await a.bytes())).toBe(sha256(weights));
    expect(sha256(await b.bytes())).toBe(sha256(weights));
    expect(sha256(await readFile(join(c.dir, 'model.safetensors')))).toBe(sha256(weights));
    expect(server.requests.filter((r) => r.method === 'GET' && r.path.startsWith('/cdn/')).length).toBeGreaterThanOrEqual(2);
    const files = await listFiles(cacheDir);
    expect(files.some((file) => file.includes('.incomplete') || file.includes('.tmp'))).toBe(false);
  });

  it('refresh re-checks the hub; a cached blob is not downloaded again', async () => {
    await resolveModelSource('test-org/vit-tiny-timm', options());
    server.requests.length = 0;
    await resolveModelSource('test-org/vit-tiny-timm', options({ refresh: true }));
    expect(server.requests.every((r) => r.method === 'HEAD')).toBe(true);
    expect(server.requests.length).toBe(2);
  });
});

describe('cache location and environment', () => {
  it('VITZOO_CACHE, then XDG_CACHE_HOME/vitzoo, then ~/.cache/vitzoo', () => {
    expect(defaultCacheDir({ VITZOO_CACHE: '/tmp/a', XDG_CACHE_HOME: '/tmp/b' })).toBe('/tmp/a');
    expect(defaultCacheDir({ XDG_CACHE_HOME: '/tmp/b' })).toBe(join('/tmp/b', 'vitzoo'));
    expect(defaultCacheDir({})).toMatch(/[/\\]\.cache[/\\]vitzoo$/);
    expect(isOfflineEnvironment({ VITZOO_OFFLINE: '1' })).toBe(true);
    expect(isOfflineEnvironment({ HF_HUB_OFFLINE: 'true' })).toBe(true);
    expect(isOfflineEnvironment({ HF_HUB_OFFLINE: '0' })).toBe(false);
  });
});
