/**
 * examples/web's production build: no Node-only modules in it, and served statically it loads the
 * bundled digits model, classifies sample digits (the DOM shows the label) and shows the backend
 * and timings.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { build } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain JavaScript helpers shared with tools/bench
import { launchChromium } from './support/chromium.mjs';
// @ts-expect-error plain JavaScript helpers shared with tools/bench
import { serveStatic } from './support/static-server.mjs';
// @ts-expect-error plain JavaScript helpers shared with tools/bench
import { webExampleDirectory } from './support/workspace.mjs';

let outDir: string;
let server: { url: string; close(): Promise<void> };
let browser: Browser;

beforeAll(async () => {
  outDir = mkdtempSync(join(tmpdir(), 'vitzoo-web-dist-'));
  await build({ root: webExampleDirectory, configFile: join(webExampleDirectory, 'vite.config.ts'), logLevel: 'warn', build: { outDir, emptyOutDir: true } });
  server = await serveStatic({ mounts: { '/': outDir }, isolated: true });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await server?.close();
  if (outDir) rmSync(outDir, { recursive: true, force: true });
});

function files(directory: string): string[] {
  return readdirSync(directory).flatMap((name) => {
    const path = join(directory, name);
    return statSync(path).isDirectory() ? files(path) : [path];
  });
}

describe('examples/web production build', () => {
  it('serves onnxruntime-web and the demo models from its own folder (no CDN)', () => {
    const built = files(outDir).map((path) => relative(outDir, path));
    expect(built).toEqual(
      expect.arrayContaining([
        'index.html',
        'ort/ort-wasm-simd-threaded.jsep.wasm',
        'ort/ort-wasm-simd-threaded.jsep.mjs',
        'models/digits-vit/config.json',
        'models/digits-vit/model.safetensors',
        'models/digits-deit/model.safetensors',
      ]),
    );
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

describe('the demo page', () => {
  let page: Page;
  let classified = 0;
  const classifySample = async (digit: number) => {
    await page.click(`button[data-sample="${digit}"]`);
    classified++;
    await page.waitForFunction((n) => document.body.dataset.classified === String(n) || document.body.dataset.state === 'error', classified, { timeout: 60_000 });
    expect(await page.getAttribute('body', 'data-state'), (await page.textContent('#status')) ?? '').toBe('done');
  };

  beforeAll(async () => {
    page = await browser.newPage();
    await page.goto(`${server.url}/index.html?backend=wasm`);
    await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset.state ?? ''), null, { timeout: 90_000 });
  });

  it('loads the digits ViT on wasm with threads (the static server sends COOP/COEP)', async () => {
    expect(await page.textContent('#status')).toBe('digits-vit ready on wasm. Pick an image.');
    expect(await page.textContent('#backend-in-use')).toBe('wasm, 2 threads'.replace('2', String(await page.evaluate(() => navigator.hardwareConcurrency))));
  });

  it.each([3, 7, 0])('classifies the sample digit %i correctly and shows the top 5 with timings', async (digit) => {
    await classifySample(digit);
    expect(await page.textContent('#top-label')).toBe(String(digit));
    const rows = await page.$$eval('#predictions li', (items) => items.map((item) => ({ label: item.dataset.label, score: Number(item.dataset.score) })));
    expect(rows).toHaveLength(5);
    expect(rows[0]!.label).toBe(String(digit));
    expect(rows[0]!.score).toBeGreaterThan(0.5);
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.score).toBeLessThanOrEqual(rows[i - 1]!.score);
    expect(await page.textContent('#preprocess-ms')).toMatch(/^\d+\.\d ms/);
    expect(await page.textContent('#inference-ms')).toMatch(/^\d+\.\d ms$/);
  });

  it('switches to the distilled DeiT and classifies with it', async () => {
    await page.selectOption('#model', 'digits-deit');
    await page.waitForFunction(() => document.getElementById('status')?.textContent?.startsWith('digits-deit ready'), null, { timeout: 60_000 });
    await classifySample(5);
    expect(await page.textContent('#top-label')).toBe('5');
    expect(await page.textContent('#status')).toBe('Classified sample digit 5 with digits-deit on wasm.');
  });
});
