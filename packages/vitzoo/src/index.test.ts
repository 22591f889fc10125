/**
 * The batteries-included Node entry: two lines of user code classify a digit from a local folder,
 * a hub repo and a registry name (downloaded from a hub-shaped server on 127.0.0.1, then from the
 * cache with no request and no conversion).
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startHubTestServer, type HubTestServer } from '@vitzoo/hub/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidArgumentError, UnknownModelError, loadImage, loadModel } from './index.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const digit = `${root}fixtures/digits/test/0024_4.png`;
let server: HubTestServer;
let cache: string;

beforeAll(async () => {
  const files = { 'config.json': await readFile(`${root}models/digits-vit/config.json`, 'utf8'), 'model.safetensors': new Uint8Array(await readFile(`${root}models/digits-vit/model.safetensors`)) };
  // A registry name resolves to its hub repo (timm/<name>): served here with the digits ViT's files.
  server = await startHubTestServer({ 'test/digits-vit': files, 'timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k': files });
  cache = await mkdtemp(join(tmpdir(), 'vitzoo-entry-'));
});
afterAll(async () => {
  await server?.close();
  if (cache) await rm(cache, { recursive: true, force: true });
});

describe("loadModel of 'vitzoo' (Node)", () => {
  it('classifies a bundled digit from a local folder with the default registry and the node backend', async () => {
    const model = await loadModel(`${root}models/digits-vit`);
    const [top] = await model.classify(await loadImage(digit), { topK: 1 });
    expect(top).toEqual([{ index: 4, label: '4', score: expect.any(Number) }]);
    expect(model.details).toMatchObject({ backend: 'node', dtype: 'fp32', graph: 'built' });
    await model.dispose();
  });

  it('downloads a hub repo and a registry name into the cache; the second load neither downloads nor converts', async () => {
    for (const name of ['test/digits-vit', 'vit_tiny_patch16_224.augreg_in21k_ft_in1k']) {
      for (const round of [0, 1]) {
        server.requests.length = 0;
        const model = await loadModel(name, { endpoint: server.url, cache });
        const [top] = await model.classify(await loadImage(digit), { topK: 1 });
        expect(top![0]!.index).toBe(4);
        // The graph cache is keyed by the weights' sha256 (not the repo): both repos hold the same
        // weights, so only the very first load converts.
        expect(model.details?.graph).toBe(name === 'test/digits-vit' && round === 0 ? 'built' : 'cached');
        await model.dispose();
        if (round === 0) expect(server.requests.some((request) => request.path.startsWith('/cdn/'))).toBe(true);
        else expect(server.requests).toEqual([]);
      }
    }
  });

  it('refuses unknown names and bad options with typed errors', async () => {
    await expect(loadModel('vit_tiny_patch16_2244', { endpoint: server.url, cache })).rejects.toBeInstanceOf(UnknownModelError);
    await expect(loadModel(`${root}models/digits-vit`, { device: 'tpu' as never })).rejects.toBeInstanceOf(InvalidArgumentError);
    await expect(loadModel(`${root}models/digits-vit`, { dtype: 'fp8' as never })).rejects.toBeInstanceOf(InvalidArgumentError);
  });
});
