/**
 * The browser file source, run in Node (which has fetch, Response, File and Web Crypto; the Cache
 * API is `memoryCacheStorage`): hub repos through the hub protocol into the cache, a second load
 * from the cache with no request and no build, model folders over HTTP, picked files, and the
 * errors a page shows. Real Chromium runs the same code in examples/web/browser-tests.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import {
  DownloadError,
  FileNotFoundError,
  InvalidArgumentError,
  InvalidSafetensorsError,
  createRegistry,
  parseSafetensors,
  type Architecture,
  type ProgressEvent,
} from '@vitzoo/core';
import { HubFileNotFoundError, OfflineCacheMissError } from '@vitzoo/hub';
import { memoryCacheStorage, startHubTestServer, type HubTestServer } from '@vitzoo/hub/testing';
import { loadImage } from '@vitzoo/preprocess/node';
import { nodeBackend } from '@vitzoo/runtime-node';
import { vit } from '@vitzoo/vit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { createBrowserFileSource, loadModel, type LoadModelOptions } from '@vitzoo/pipeline/browser';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
let server: HubTestServer;
let config: string;
let weights: Uint8Array;
let legacyPth: Uint8Array;
let builds = 0;
const counted: Architecture = {
  ...vit,
  buildGraph: (...args: Parameters<typeof vit.buildGraph>) => {
    builds++;
    return vit.buildGraph(...args);
  },
} as Architecture;
const registry = createRegistry([counted]);
const digits = ['0021_1.png', '0024_4.png', '0028_8.png'];
const labels = [1, 4, 8];

beforeAll(async () => {
  config = await readFile(`${root}models/digits-vit/config.json`, 'utf8');
  weights = new Uint8Array(await readFile(`${root}models/digits-vit/model.safetensors`));
  legacyPth = new Uint8Array(await readFile(`${root}fixtures/models/vit_tiny/model_legacy.pth`));
  server = await startHubTestServer({
    'test/digits-vit': { 'config.json': config, 'model.safetensors': weights },
    'test/no-weights': { 'config.json': config, 'README.md': 'no weights here' },
    'test/corrupt': { 'config.json': config, 'model.safetensors': weights.slice(0, 2000) },
  });
  server.setFile('digits-vit/config.json', new TextEncoder().encode(config));
  server.setFile('digits-vit/model.safetensors', weights);
});
afterAll(() => server?.close());
beforeEach(() => {
  server.requests.length = 0;
  builds = 0;
});

const options = (caches: CacheStorage, extra: Partial<LoadModelOptions> = {}): LoadModelOptions => ({
  registry,
  backend: nodeBackend,
  endpoint: server.url,
  fileSource: createBrowserFileSource({ caches }),
  ...extra,
});

async function topLabels(model: Awaited<ReturnType<typeof loadModel>>): Promise<number[]> {
  const images = await Promise.all(digits.map((file) => loadImage(`${root}fixtures/digits/test/${file}`)));
  return (await model.classify(images, { topK: 1 })).map(([best]) => best!.index);
}

describe('createBrowserFileSource: hub repos', () => {
  it('downloads a timm-layout repo with progress, builds once; a second load makes no request and builds nothing', async () => {
    const caches = memoryCacheStorage();
    const events: ProgressEvent[] = [];
    const first = await loadModel('test/digits-vit', options(caches, { progress: (event) => events.push(event) }));
    try {
      expect(await topLabels(first)).toEqual(labels);
      expect(first.details).toEqual({ source: 'test/digits-vit@main', backend: 'node', dtype: 'fp32', graph: 'built' });
    } finally {
      await first.dispose();
    }
    expect(builds).toBe(1);
    const downloads = events.filter((event) => event.stage === 'download' && event.file === 'model.safetensors');
    expect(downloads.at(-1)).toEqual({ stage: 'download', file: 'model.safetensors', loaded: weights.byteLength, total: weights.byteLength });
    expect(events.at(-1)).toEqual({ stage: 'session' });
    expect(events.some((event) => event.stage === 'build')).toBe(true);

    server.requests.length = 0;
    const offline = createBrowserFileSource({ caches, offline: true });
    const second = await loadModel('test/digits-vit', options(caches, { fileSource: offline }));
    try {
      expect(await topLabels(second)).toEqual(labels);
      expect(second.details?.graph).toBe('cached');
    } finally {
      await second.dispose();
    }
    expect(server.requests).toEqual([]);
    expect(builds).toBe(1);
  });

  it('cache: false keeps nothing (another load downloads again)', async () => {
    const caches = memoryCacheStorage();
    await (await loadModel('test/digits-vit', options(caches, { cache: false }))).dispose();
    expect(caches.entries.size).toBe(0);
    const count = server.requests.length;
    await (await loadModel('test/digits-vit', options(caches, { cache: false }))).dispose();
    expect(server.requests.length).toBe(count * 2);
    expect(builds).toBe(2);
  });

  it('a repo without weights, corrupt weights, an unreachable endpoint and an empty offline cache are typed errors', async () => {
    const caches = memoryCacheStorage();
    await expect(loadModel('test/no-weights', options(caches))).rejects.toSatisfy(
      (error: unknown) => HubFileNotFoundError.isInstance(error) && /model\.safetensors/.test((error as Error).message),
    );
    await expect(loadModel('test/corrupt', options(caches))).rejects.toBeInstanceOf(InvalidSafetensorsError);
    await expect(loadModel('test/digits-vit', options(caches, { endpoint: 'http://127.0.0.1:9' }))).rejects.toBeInstanceOf(DownloadError);
    const offline = createBrowserFileSource({ caches: memoryCacheStorage(), offline: true });
    await expect(loadModel('test/digits-vit', options(caches, { fileSource: offline }))).rejects.toBeInstanceOf(OfflineCacheMissError);
  });
});

describe('createBrowserFileSource: model folders over HTTP', () => {
  it('loads config.json + model.safetensors from a folder URL', async () => {
    const model = await loadModel(`${server.url}/files/digits-vit/`, options(memoryCacheStorage()));
    try {
      expect(await topLabels(model)).toEqual(labels);
      expect(model.details?.source).toBe(`${server.url}/files/digits-vit/`);
    } finally {
      await model.dispose();
    }
    expect(server.requests.map((request) => request.path)).toEqual(['/files/digits-vit/config.json', '/files/digits-vit/model.safetensors']);
  });

  it('a folder without config.json is a DownloadError naming it', async () => {
    await expect(loadModel(`${server.url}/files/nothing/`, options(memoryCacheStorage()))).rejects.toSatisfy(
      (error: unknown) => DownloadError.isInstance(error) && /config\.json/.test((error as Error).message),
    );
  });
});

describe('loadModel: picked files (File objects, as from <input type=file>)', () => {
  it('config.json + model.safetensors, or config.json + a .pth checkpoint, give the same predictions', async () => {
    const picked = [new File([config], 'config.json'), new File([weights as Uint8Array<ArrayBuffer>], 'model.safetensors')];
    const model = await loadModel(picked, { registry, backend: nodeBackend });
    try {
      expect(await topLabels(model)).toEqual(labels);
      expect(model.details?.source).toBe('picked files');
    } finally {
      await model.dispose();
    }
    // The vit_tiny fixture case's legacy .pth (torch.save's zip) beside its config.
    const caseConfig = await readFile(`${root}fixtures/models/vit_tiny/config.json`, 'utf8');
    const io = parseSafetensors(new Uint8Array(await readFile(`${root}fixtures/models/vit_tiny/io.safetensors`))).tensors;
    const fromPth = await loadModel([new File([caseConfig], 'config.json'), new File([legacyPth as Uint8Array<ArrayBuffer>], 'model_legacy.pth')], { registry, backend: nodeBackend });
    try {
      const { logits } = await fromPth.forward(io.pixel_values!);
      let diff = 0;
      for (let i = 0; i < logits!.data.length; i++) diff = Math.max(diff, Math.abs((logits!.data[i] as number) - (io.logits!.data[i] as number)));
      expect(diff).toBeLessThanOrEqual(1e-4);
    } finally {
      await fromPth.dispose();
    }
  });

  it('refuses files without config.json, without weights, or two files of one name', async () => {
    await expect(loadModel([new File([weights as Uint8Array<ArrayBuffer>], 'model.safetensors')], { registry, backend: nodeBackend })).rejects.toSatisfy(
      (error: unknown) => InvalidArgumentError.isInstance(error) && /config\.json/.test((error as Error).message),
    );
    await expect(loadModel([new File([config], 'config.json'), new File(['hello'], 'notes.txt')], { registry, backend: nodeBackend })).rejects.toBeInstanceOf(FileNotFoundError);
    await expect(loadModel([new File([config], 'config.json'), new File([config], 'config.json')], { registry, backend: nodeBackend })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(loadModel([new File([config], 'config.json'), new File(['not safetensors at all'], 'model.safetensors')], { registry, backend: nodeBackend })).rejects.toBeInstanceOf(
      InvalidSafetensorsError,
    );
  });
});
