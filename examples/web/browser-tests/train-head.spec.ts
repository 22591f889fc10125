/**
 * A head trained with vitzoo train-head's API in Node, written as a model folder, loads in
 * Chromium the way the demo loads models (config.json + model.safetensors, graph built in the
 * page, onnxruntime-web wasm) and classifies digits as onnxruntime-node does; and trainHead itself
 * runs in the page (the API is platform-free) with Node's result.
 */
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { firstPerClass, loadModel, readImageDataset, readImageFile, readModelFolder, trainHead, writeTrainedModelFolder } from '@vitzoo/pipeline/node';
import { nodeBackend } from '@vitzoo/runtime-node';
import { createDefaultRegistry } from 'vitzoo';
// @ts-expect-error plain JavaScript helpers shared with tools/bench
import { startHarness } from './support/harness.mjs';
// @ts-expect-error plain JavaScript helpers shared with tools/bench
import { fixturesDirectory, repositoryRoot } from './support/workspace.mjs';

type Harness = { open(options?: Record<string, unknown>): Promise<Page>; close(): Promise<void> };

const registry = createDefaultRegistry();
let scratch: string;
let harness: Harness;
let page: Page;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'vitzoo-browser-head-'));
  const backbone = await loadModel(join(repositoryRoot, 'models/digits-vit'), { registry, backend: nodeBackend, outputs: ['pre_logits'], batchSize: 100 });
  const train = firstPerClass(await readImageDataset(join(fixturesDirectory, 'digits/train')), 20);
  const head = await trainHead(backbone, train);
  await backbone.dispose();
  await writeTrainedModelFolder(await readModelFolder(join(repositoryRoot, 'models/digits-vit'), registry), head, join(scratch, 'digits-head'));
  harness = await startHarness({ mounts: { '/trained/': scratch, '/models/': join(repositoryRoot, 'models') } });
  page = await harness.open();
});
afterAll(async () => {
  await harness?.close();
  if (scratch) rmSync(scratch, { recursive: true, force: true });
});

describe('a trained head in the browser', () => {
  it('loads the train-head folder in the page and classifies test digits as Node does (top 3, scores within 1e-5)', async () => {
    const files = readdirSync(join(fixturesDirectory, 'digits/test')).filter((name) => name.endsWith('.png')).sort().filter((_, i) => i % 45 === 0);
    expect(files.length).toBeGreaterThanOrEqual(8);
    const result = (await page.evaluate(
      ([urls]) => window.vitzooHarness.classifyFolder('/trained/digits-head/', urls, 'wasm'),
      [files.map((file) => `/fixtures/digits/test/${file}`)] as const,
    )) as { labels?: string[]; predictions?: { index: number; label: string; score: number }[][]; error?: unknown };
    expect(result.error).toBeUndefined();
    expect(result.labels).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    const model = await loadModel(join(scratch, 'digits-head'), { registry, backend: nodeBackend });
    const node = await model.classify(await Promise.all(files.map((file) => readImageFile(join(fixturesDirectory, 'digits/test', file)))), { topK: 3 });
    await model.dispose();
    result.predictions!.forEach((predictions, i) => {
      expect(predictions.map((p) => p.index), files[i]).toEqual(node[i]!.map((p) => p.index));
      predictions.forEach((p, k) => expect(Math.abs(p.score - node[i]![k]!.score), files[i]).toBeLessThan(1e-5));
    });
  });

  it('trains a head in the page with the platform-free API: the same head as in Node', async () => {
    const dataset = firstPerClass(await readImageDataset(join(fixturesDirectory, 'digits/train')), 3);
    const urls = dataset.names.map((name) => `/fixtures/digits/train/${name}`);
    const inPage = (await page.evaluate(
      ([urls, labels, classNames]) => window.vitzooHarness.trainHeadInPage('/models/digits-vit/', urls, labels, classNames, 'wasm'),
      [urls, [...dataset.labels], [...dataset.classNames]] as const,
    )) as { weight?: number[]; bias?: number[]; train?: { correct: number; total: number }; converged?: boolean; error?: unknown };
    expect(inPage.error).toBeUndefined();
    const backbone = await loadModel(join(repositoryRoot, 'models/digits-vit'), { registry, backend: nodeBackend, outputs: ['pre_logits'] });
    const node = await trainHead(backbone, dataset);
    await backbone.dispose();
    expect(inPage.converged).toBe(true);
    expect(inPage.train).toEqual({ correct: node.train.correct, total: 30, accuracy: node.train.accuracy });
    const largest = Math.max(...inPage.weight!.map((w, i) => Math.abs(w - node.weight.data[i]!)), ...inPage.bias!.map((b, i) => Math.abs(b - node.bias.data[i]!)));
    expect(largest).toBeLessThan(1e-3); // embeddings from onnxruntime-web and -node differ by ~1e-6; the optimum barely moves
  });
});
