/**
 * examples/web's production build, served statically (COOP/COEP) on 127.0.0.1, in headless
 * Chromium: no Node-only modules in it; the bundled digits model offline; a timm-layout repo from a
 * hub-shaped server on another origin (CORS) by `?model=&endpoint=`, with the same predictions as
 * Node and a reload that asks the hub for nothing; the Web Worker path; a .pth picked through the
 * file input; bad input shown in the status with data-state="error" while the page keeps working.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join, relative } from 'node:path';
import { createRegistry, graphBytes, type BuiltGraph, type Prediction } from '@vitzoo/core';
import { startHubTestServer, type HubTestServer } from '@vitzoo/hub/testing';
import { loadGraph, loadModel } from '@vitzoo/pipeline/node';
import { loadImage, overlayHeatmap } from '@vitzoo/preprocess/node';
import { nodeBackend } from '@vitzoo/runtime-node';
import { vit } from '@vitzoo/vit';
import type { Browser, Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain JavaScript helpers shared with tools/bench
import { launchChromium } from './support/chromium.mjs';
// @ts-expect-error plain JavaScript helpers shared with tools/bench
import { serveStatic } from './support/static-server.mjs';
// @ts-expect-error plain JavaScript helpers shared with tools/bench
import { fixturesDirectory, repositoryRoot, webExampleDirectory } from './support/workspace.mjs';

let outDir: string;
let server: { url: string; close(): Promise<void> };
let hub: HubTestServer;
let browser: Browser;
const digitsVit = join(repositoryRoot, 'models', 'digits-vit');
const vitCase = join(fixturesDirectory, 'models', 'vit_tiny');
const digitFiles = ['0021_1.png', '0024_4.png'].map((name) => join(fixturesDirectory, 'digits', 'test', name));

beforeAll(async () => {
  outDir = mkdtempSync(join(tmpdir(), 'vitzoo-web-dist-'));
  await build({ root: webExampleDirectory, configFile: join(webExampleDirectory, 'vite.config.ts'), logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  server = await serveStatic({ mounts: { '/': outDir }, isolated: true });
  const config = readFileSync(join(digitsVit, 'config.json'), 'utf8');
  const weights = new Uint8Array(readFileSync(join(digitsVit, 'model.safetensors')));
  // The digits ViT in the transformers.js ONNX layout: a graph that runs as it is (no heat-map outputs).
  const onnx = graphBytes((await loadGraph(digitsVit, { registry: createRegistry([vit]) })).graph as BuiltGraph);
  const digitsOnnx = {
    'config.json': JSON.stringify({ model_type: 'vit', architectures: ['ViTForImageClassification'], image_size: 32, id2label: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [i, String(i)])) }),
    'preprocessor_config.json': JSON.stringify({ do_resize: true, size: { height: 32, width: 32 }, resample: 3, do_rescale: true, rescale_factor: 1 / 255, do_normalize: true, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] }),
    'onnx/model.onnx': onnx,
  };
  hub = await startHubTestServer({
    'test/digits-vit': { 'config.json': config, 'model.safetensors': weights },
    'test/digits-onnx': digitsOnnx,
    'test/no-weights': { 'config.json': config },
    'test/corrupt': { 'config.json': config, 'model.safetensors': weights.slice(0, 3000) },
  });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
  await hub?.close();
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

function files(directory: string): string[] {
  return readdirSync(directory).flatMap((name) => {
    const path = join(directory, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

/** Node's top 5 for an image file: the reference the page must equal. */
async function nodeTop5(folder: string, image: string, weights?: string): Promise<Prediction[]> {
  const model = await loadModel(folder, { registry: createRegistry([vit]), backend: nodeBackend, ...(weights ? { weights } : {}) });
  try {
    return (await model.classify(await loadImage(image), { topK: 5 }))[0]!;
  } finally {
    await model.dispose();
  }
}

/** The heat-map canvas: its pixel size, its box and the preview's image box on the page, its RGBA pixels. */
async function shownHeatmap(page: Page): Promise<{ size: number[]; box: number[]; image: number[]; pixels: number[] }> {
  return page.evaluate(() => {
    const canvas = document.querySelector<HTMLCanvasElement>('[data-testid=heatmap]')!;
    const preview = document.querySelector<HTMLCanvasElement>('#preview')!;
    const [box, previewBox] = [canvas.getBoundingClientRect(), preview.getBoundingClientRect()];
    const pixels = canvas.getContext('2d')!.getImageData(0, 0, canvas.width, canvas.height).data;
    return {
      size: [canvas.width, canvas.height],
      box: [box.left, box.top, box.width, box.height],
      // a 32x32 digit fills the square preview: its content box (inside the border)
      image: [previewBox.left + preview.clientLeft, previewBox.top + preview.clientTop, preview.clientWidth, preview.clientHeight],
      pixels: Array.from(pixels),
    };
  });
}

/** The page's heat-map pixels equal Node's overlay of the same image (library: explain, then overlayHeatmap; wasm and CPU agree within a level). */
async function expectNodeOverlay(pixels: readonly number[], imagePath: string): Promise<void> {
  const model = await loadModel(digitsVit, { registry: createRegistry([vit]), backend: nodeBackend, outputs: ['logits', 'rollout'] });
  let expected: Uint8Array;
  try {
    const image = await loadImage(imagePath);
    const [heat] = await model.explain(image);
    expected = overlayHeatmap(image, heat!, { opacity: 0.5 }).data as Uint8Array;
  } finally {
    await model.dispose();
  }
  expect(pixels.length).toBe((expected.length / 3) * 4);
  let largest = 0;
  for (let p = 0; p < expected.length / 3; p++) {
    for (let c = 0; c < 3; c++) largest = Math.max(largest, Math.abs(pixels[p * 4 + c]! - expected[p * 3 + c]!));
    expect(pixels[p * 4 + 3]).toBe(255);
  }
  expect(largest).toBeLessThanOrEqual(1);
  expect(new Set(pixels).size).toBeGreaterThan(10); // not a constant picture
}

async function open(query: string): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(`${server.url}/index.html${query}`);
  await settled(page);
  return page;
}

/** Waits until the status is not 'loading'; returns its state. */
async function settled(page: Page): Promise<string> {
  await page.waitForFunction(() => document.querySelector('[data-testid=status]')?.getAttribute('data-state') !== 'loading', null, { timeout: 90_000 });
  return (await page.getAttribute('[data-testid=status]', 'data-state'))!;
}

async function expectReady(page: Page): Promise<void> {
  expect(await settled(page), (await page.textContent('[data-testid=status]')) ?? '').toBe('ready');
}

async function predictions(page: Page): Promise<{ label: string; score: number }[]> {
  return page.$$eval('[data-testid=predictions] li', (items) => items.map((item) => ({ label: item.dataset.label!, score: Number(item.dataset.score) })));
}

/** Picks an image through the file input and waits for its predictions. */
async function classifyFile(page: Page, path: string): Promise<{ label: string; score: number }[]> {
  await page.setInputFiles('input[type=file][data-testid=image-input]', path);
  const name = path.split('/').pop()!;
  await page.waitForFunction(
    (file) => document.querySelector('[data-testid=predictions]')?.getAttribute('data-image') === file || document.querySelector('[data-testid=status]')?.getAttribute('data-state') === 'error',
    name,
    { timeout: 60_000 },
  );
  await expectReady(page);
  return predictions(page);
}

function expectSamePredictions(page: { label: string; score: number }[], node: Prediction[]): void {
  expect(page.map((row) => row.label)).toEqual(node.map((row) => row.label));
  for (let i = 0; i < node.length; i++) expect(Math.abs(page[i]!.score - node[i]!.score)).toBeLessThanOrEqual(1e-5);
}

describe('examples/web production build', () => {
  it('serves onnxruntime-web, the worker and the demo models from its own folder (no CDN)', () => {
    const built = files(outDir).map((path) => relative(outDir, path));
    expect(built).toEqual(
      expect.arrayContaining(['index.html', 'ort/ort-wasm-simd-threaded.jsep.wasm', 'ort/ort-wasm-simd-threaded.jsep.mjs', 'models/digits-vit/config.json', 'models/digits-vit/model.safetensors', 'models/digits-deit/model.safetensors']),
    );
    expect(built.some((path) => /^assets\/worker-.*\.js$/.test(path))).toBe(true);
    // The wasm binary is emitted once (onnxruntime-web's extern-wasm build), not also as a hashed asset.
    expect(built.filter((path) => path.endsWith('.wasm'))).toEqual(['ort/ort-wasm-simd-threaded.jsep.wasm']);
    const javascript = built.filter((path) => /\.(m?js|html)$/.test(path)).map((path) => readFileSync(join(outDir, path), 'utf8')).join('\n');
    expect(javascript).not.toMatch(/https?:\/\/cdn\.|jsdelivr|unpkg\.com/);
  });

  it('contains no onnxruntime-node, no sharp and no node: imports', () => {
    const javascript = files(outDir).filter((path) => /\.(m?js)$/.test(path));
    expect(javascript.length).toBeGreaterThan(0);
    for (const path of javascript) {
      const text = readFileSync(path, 'utf8');
      expect(text, path).not.toContain('onnxruntime-node');
      expect(text, path).not.toMatch(/["'`]sharp["'`]/);
      // onnxruntime-web's own code keeps one guarded require("node:os") for Node (unreached in browsers); no other node: module.
      const nodeModules = [...text.matchAll(/["'`](node:[a-z_/]+)["'`]/g)].map((match) => match[1]);
      expect(nodeModules.filter((name) => name !== 'node:os'), path).toEqual([]);
      expect(text, path).not.toMatch(/\bfrom\s*["']node:|\bimport\s*\(\s*["']node:/);
    }
  });
});

describe('the demo page, bundled digits model (offline default)', () => {
  let page: Page;
  beforeAll(async () => {
    page = await open('?backend=wasm');
  });
  afterAll(() => page?.close());

  it('loads the digits ViT on wasm with threads and shows backend, precision and graph', async () => {
    await expectReady(page);
    expect(await page.textContent('[data-testid=backend-in-use]')).toBe('wasm');
    expect(await page.textContent('[data-testid=dtype-in-use]')).toBe('fp32');
    expect(await page.textContent('[data-testid=graph-source]')).toBe('converted in the page');
    expect(await page.evaluate(() => crossOriginIsolated)).toBe(true);
  });

  it('classifies sample digits (accessible buttons) like Node: top 5 in rank order with labels and scores', async () => {
    const labels = await page.$$eval('button[data-sample]', (buttons) => buttons.map((button) => button.getAttribute('aria-label')));
    expect(labels).toEqual(Array.from({ length: 10 }, (_, digit) => `Classify the sample digit ${digit}`));
    for (const digit of [3, 7]) {
      await page.click(`button[data-sample="${digit}"]`);
      await page.waitForFunction((name) => document.querySelector('[data-testid=predictions]')?.getAttribute('data-image') === name, `digit-${digit}.png`);
      await expectReady(page);
      const rows = await predictions(page);
      expect(rows).toHaveLength(5);
      expect(rows[0]!.label).toBe(String(digit));
      expectSamePredictions(rows, await nodeTop5(digitsVit, join(webExampleDirectory, 'public', 'samples', `digit-${digit}.png`)));
      expect(await page.textContent('[data-testid=preprocess-ms]')).toMatch(/^\d+\.\d ms/);
      expect(await page.textContent('[data-testid=inference-ms]')).toMatch(/^\d+\.\d ms/);
    }
  });

  it('draws the heat map over the classified digit: the library overlay (rollout, opacity 0.5) at the image\'s displayed place and size; the toggle hides it', async () => {
    await page.click('button[data-sample="3"]');
    await page.waitForFunction(() => document.querySelector('[data-testid=heatmap]')?.getAttribute('data-image') === 'digit-3.png');
    await expectReady(page);
    expect(await page.isVisible('[data-testid=heatmap]')).toBe(true);
    expect(await page.getAttribute('[data-testid=heatmap]', 'data-method')).toBe('rollout');
    const shown = await shownHeatmap(page);
    expect(shown.size).toEqual([32, 32]);
    shown.box.forEach((value, index) => expect(Math.abs(value - shown.image[index]!), `box ${index}`).toBeLessThan(0.01));
    await expectNodeOverlay(shown.pixels, join(webExampleDirectory, 'public', 'samples', 'digit-3.png'));
    await page.click('[data-testid=heatmap-toggle]');
    expect(await page.isVisible('[data-testid=heatmap]')).toBe(false);
    await page.click('[data-testid=heatmap-toggle]');
    await page.waitForFunction(() => !document.querySelector('[data-testid=heatmap]')!.hasAttribute('hidden'));
  });

  it('hints that a photo goes to a digits model; a new model clears the old predictions and facts', async () => {
    await classifyFile(page, join(fixturesDirectory, 'images', 'chelsea.png'));
    expect(await page.isVisible('[data-testid=hint]')).toBe(true);
    expect(await page.textContent('[data-testid=hint]')).toMatch(/only knows the digits 0–9/);
    await classifyFile(page, digitFiles[0]!);
    expect(await page.isVisible('[data-testid=hint]')).toBe(false);
    await page.fill('[data-testid=model-input]', 'digits-deit');
    await page.click('[data-testid=load-button]');
    await page.waitForFunction(() => document.querySelector('[data-testid=predictions]')?.children.length === 0);
    expect(await page.getAttribute('[data-testid=predictions]', 'data-image')).toBeNull();
    await expectReady(page);
    expect(await page.textContent('[data-testid=model-in-use]')).toBe('digits-deit');
    expect((await classifyFile(page, digitFiles[1]!))[0]!.label).toBe('4');
  });

  it('does not overflow horizontally at a 390 px wide viewport', async () => {
    await page.setViewportSize({ width: 390, height: 844 });
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(390);
  });
});

describe('the demo page against a hub on another origin', () => {
  it('loads ?model=org/repo&endpoint=…, classifies like Node, and after a reload asks the hub for nothing', async () => {
    hub.requests.length = 0;
    const page = await open(`?model=test/digits-vit&endpoint=${encodeURIComponent(hub.url)}&backend=wasm`);
    try {
      await expectReady(page);
      expect(new URL(hub.url).origin).not.toBe(new URL(server.url).origin);
      expect(hub.requests.some((request) => request.path.startsWith('/cdn/'))).toBe(true);
      expect(await page.textContent('[data-testid=graph-source]')).toBe('converted in the page');
      for (const file of digitFiles) expectSamePredictions(await classifyFile(page, file), await nodeTop5(digitsVit, file));

      hub.requests.length = 0;
      await page.reload();
      await expectReady(page);
      expect(await page.textContent('[data-testid=graph-source]')).toBe('from the browser cache (not rebuilt)');
      expect(hub.requests).toEqual([]);
      expectSamePredictions(await classifyFile(page, digitFiles[0]!), await nodeTop5(digitsVit, digitFiles[0]!));
    } finally {
      await page.close();
    }
  });

  it('runs the model in a Web Worker with the same predictions and the same heat map', async () => {
    const page = await open(`?model=test/digits-vit&endpoint=${encodeURIComponent(hub.url)}&backend=wasm&worker=1`);
    try {
      await expectReady(page);
      expect(await page.textContent('[data-testid=backend-in-use]')).toBe('wasm, in a Web Worker');
      expect(await page.evaluate(() => performance.getEntriesByType('resource').some((entry) => /worker-.*\.js$/.test(entry.name)))).toBe(true);
      for (const file of digitFiles) expectSamePredictions(await classifyFile(page, file), await nodeTop5(digitsVit, file));
      // The worker built the outputs heat maps need (loadModel's explain option) and draws the same overlay.
      const last = digitFiles.at(-1)!;
      await page.waitForFunction((name) => document.querySelector('[data-testid=heatmap]')?.getAttribute('data-image') === name, basename(last));
      expect(await page.isVisible('[data-testid=heatmap]')).toBe(true);
      expect(await page.getAttribute('[data-testid=heatmap]', 'data-method')).toBe('rollout');
      await expectNodeOverlay((await shownHeatmap(page)).pixels, last);
    } finally {
      await page.close();
    }
  });

  it('an ONNX graph run as it is loads without heat-map outputs, in the page and in a worker, and the note says why', async () => {
    for (const worker of ['', '&worker=1']) {
      const page = await open(`?model=test/digits-onnx&endpoint=${encodeURIComponent(hub.url)}&backend=wasm${worker}`);
      try {
        await expectReady(page);
        expect(await page.textContent('[data-testid=graph-source]'), worker).toBe('ONNX as published');
        expect((await classifyFile(page, digitFiles[1]!))[0]!.label, worker).toBe('4');
        await page.waitForFunction(() => !document.querySelector('[data-testid=heatmap-note]')!.hasAttribute('hidden'));
        expect(await page.textContent('[data-testid=heatmap-note]'), worker).toMatch(/^No heat map: .*run as it is, which gives only its logits/);
        expect(await page.isVisible('[data-testid=heatmap]'), worker).toBe(false);
      } finally {
        await page.close();
      }
    }
  });

  it('shows bad input in the status (data-state="error") and keeps working', async () => {
    const page = await open('?backend=wasm');
    try {
      await expectReady(page);
      const expectError = async (pattern: RegExp) => {
        expect(await settled(page)).toBe('error');
        expect(await page.textContent('[data-testid=status]')).toMatch(pattern);
      };
      const loadName = async (model: string, endpoint = hub.url) => {
        await page.fill('[data-testid=model-input]', model);
        await page.fill('[data-testid=endpoint-input]', endpoint);
        await page.click('[data-testid=load-button]');
      };
      // A file that is not an image.
      await page.setInputFiles('input[type=file][data-testid=image-input]', join(digitsVit, 'config.json'));
      await expectError(/Could not classify config\.json: Invalid image/);
      await loadName('test/no-weights');
      await expectError(/Could not load test\/no-weights: .*model\.safetensors.*not found/);
      expect(await page.textContent('[data-testid=backend-in-use]')).toBe('–');
      await loadName('test/corrupt');
      await expectError(/Invalid safetensors file/);
      await loadName('test/digits-vit', 'http://127.0.0.1:9');
      await expectError(/Download of http:\/\/127\.0\.0\.1:9\/.*failed: network error/);
      // And the page still works.
      await loadName('digits-vit', '');
      await expectReady(page);
      expect((await classifyFile(page, digitFiles[1]!))[0]!.label).toBe('4');
    } finally {
      await page.close();
    }
  });
});

describe('the demo page with model files picked through the file input', () => {
  it('converts config.json + a .pth checkpoint in the page and classifies like Node', async () => {
    const page = await open('?backend=wasm');
    try {
      await expectReady(page);
      await page.setInputFiles('input[type=file][data-testid=model-files]', [join(vitCase, 'config.json'), join(vitCase, 'model_legacy.pth')]);
      await page.waitForFunction(() => document.querySelector('[data-testid=model-in-use]')?.textContent === 'config.json + model_legacy.pth', null, { timeout: 60_000 });
      await expectReady(page);
      const image = join(fixturesDirectory, 'images', 'coffee.png');
      expectSamePredictions(await classifyFile(page, image), await nodeTop5(vitCase, image, join(vitCase, 'model_legacy.pth')));
    } finally {
      await page.close();
    }
  });
});
