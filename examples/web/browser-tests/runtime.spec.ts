/**
 * @vitzoo/runtime-web in headless Chromium: the backend contract on wasm (and on runtime-node, for
 * the same behaviour), threads under cross-origin isolation, init failures and WebGPU fallback
 * reasons, every fixture model built and run in the page, and browser decoding parity.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeBackend } from '@vitzoo/runtime-node';
import { runContract, type ContractResult } from './page/contract.js';
// @ts-expect-error plain JavaScript helpers shared with tools/bench
import { startHarness } from './support/harness.mjs';
// @ts-expect-error plain JavaScript helpers shared with tools/bench
import { fixturesDirectory } from './support/workspace.mjs';

type Harness = { open(options?: Record<string, unknown>): Promise<Page>; close(): Promise<void> };
type PageHarness = Window['vitzooHarness'];

let harness: Harness;
let page: Page;
const pageLog: string[] = [];

beforeAll(async () => {
  harness = await startHarness();
  page = await harness.open({ console: (line: string) => pageLog.push(line) });
});
afterAll(async () => {
  await harness?.close();
});

function expectAllPassed(results: ContractResult[]): void {
  const failed = results.filter((result) => !result.passed);
  expect(failed, failed.map((f) => `${f.name}: ${f.detail}`).join('\n')).toEqual([]);
  expect(results.length).toBeGreaterThanOrEqual(12);
}

const call = <K extends keyof PageHarness>(target: Page, name: K, ...args: Parameters<PageHarness[K]>) =>
  target.evaluate(([name, args]) => (window.vitzooHarness[name] as (...a: unknown[]) => unknown)(...args), [name, args] as const) as Promise<
    Awaited<ReturnType<PageHarness[K]>>
  >;

describe('wasm backend contract', () => {
  it('passes in a page that is not cross-origin isolated, with one thread and wasm files from the page origin', async () => {
    const { results, environment } = await call(page, 'contract', 'wasm');
    expectAllPassed(results);
    const origin = new URL(page.url()).origin;
    expect(environment).toEqual({ wasmPaths: `${origin}/ort/`, numThreads: 1, crossOriginIsolated: false });
  });

  it('uses navigator.hardwareConcurrency threads in a cross-origin isolated page', async () => {
    const isolated = await harness.open({ isolated: true });
    const facts = await call(isolated, 'environment');
    const { results, environment } = await call(isolated, 'contract', 'wasm');
    expectAllPassed(results);
    expect(facts.crossOriginIsolated).toBe(true);
    expect(environment?.crossOriginIsolated).toBe(true);
    expect(environment?.numThreads).toBe(Math.max(1, facts.hardwareConcurrency));
    await isolated.close();
  });

  it('is the contract runtime-node keeps too', async () => {
    expectAllPassed(await runContract(nodeBackend));
  });

  it('rejects init with the reason when the wasm files are missing, listing every attempt', async () => {
    const broken = await harness.open({ query: '?wasmPaths=/missing/' });
    const outcome = await call(broken, 'resolve', ['wasm']);
    expect('error' in outcome).toBe(true);
    const error = (outcome as { error: { code: string; message: string; attempts: { backend: string; reason: string }[] } }).error;
    expect(error.code).toBe('backend-unavailable');
    expect(error.attempts.map((a) => a.backend)).toEqual(['wasm']);
    expect(error.attempts[0]!.reason).toContain('/missing/');
    await broken.close();
  });

  it('falls back from WebGPU to wasm with the reason when there is no adapter (browser without WebGPU flags)', async () => {
    const facts = await call(page, 'environment');
    const outcome = (await call(page, 'resolve', ['webgpu', 'wasm'])) as { backend: string; attempts: { backend: string; reason: string }[]; fallbackReason: string | null };
    if (facts.webGpuUnavailableReason === null) {
      // A machine whose Chromium gives an adapter even here: WebGPU must then be the one chosen.
      expect(outcome.backend).toBe('webgpu');
      expect(outcome.attempts).toEqual([]);
    } else {
      expect(outcome.backend).toBe('wasm');
      expect(outcome.attempts).toEqual([{ backend: 'webgpu', reason: facts.webGpuUnavailableReason }]);
      expect(outcome.fallbackReason).toContain('webgpu: ');
    }
  });
});

const cases = readdirSync(join(fixturesDirectory, 'models')).sort();

describe('fixture models built and run in the page (wasm)', () => {
  it('has fixture cases to run', () => {
    expect(cases.length).toBeGreaterThanOrEqual(7);
  });
  it.each(cases)('%s matches its stored outputs at the stored batch and at batch 1', async (name) => {
    const report = await call(page, 'verifyCase', name, 'wasm', true);
    if ('error' in report) throw new Error(`${name}: ${JSON.stringify(report.error)}`);
    const worst = Math.max(...report.comparisons.map((c) => c.maxAbsDiff));
    console.log(
      `[browser wasm] ${name}: max |diff| ${worst.toExponential(2)} over ${report.comparisons.length} comparisons ` +
        `(${report.comparisons.map((c) => `${c.output}@${c.batch}${c.sample === undefined ? '' : `#${c.sample}`}=${c.maxAbsDiff.toExponential(1)}`).join(', ')}); ` +
        `build ${report.timings.buildMs.toFixed(0)} ms, session ${report.timings.sessionMs.toFixed(0)} ms, runs ${report.timings.runMs.toFixed(0)} ms`,
    );
    expect(report.comparisons.map((c) => c.output)).toContain('logits');
    for (const comparison of report.comparisons) expect(comparison.maxAbsDiff, JSON.stringify(comparison)).toBeLessThanOrEqual(report.tolerance!);
  });
});

const images = readdirSync(join(fixturesDirectory, 'images')).sort();
const eightBitRgbPng = ['astronaut.png', 'chelsea.png', 'coffee.png'];

describe('browser decoding (@vitzoo/preprocess/browser) against PIL', () => {
  type Parity = Exclude<Awaited<ReturnType<PageHarness['decodeParity']>>, { error: unknown }>;
  const parity = async (name: string): Promise<Parity> => {
    const result = await call(page, 'decodeParity', name);
    if ('error' in result) throw new Error(`${name}: ${JSON.stringify(result.error)}`);
    console.log(`[browser decode] ${name}: ${JSON.stringify(result)}`);
    return result as Parity;
  };

  it('covers the fixture images', () => {
    expect(images).toEqual(expect.arrayContaining([...eightBitRgbPng, 'rgba_180x250.png', 'gray16_200x150.png']));
  });

  it.each(eightBitRgbPng)('%s (8-bit RGB PNG with an sRGB profile) decodes exactly, and the timm transform then matches exactly', async (name) => {
    const result = await parity(name);
    expect(result.vsDecoded).toMatchObject({ maxDiff: 0, exactFraction: 1 });
    expect(result.transformMaxAbsDiff).toBe(0);
  });

  it('rgba_180x250.png: opaque pixels are exact; Chromium loses the RGB under alpha 0 (canvas stores premultiplied alpha)', async () => {
    const result = await parity('rgba_180x250.png');
    expect(result.vsDecoded.maxDiffOpaque).toBe(0);
    expect(result.vsDecoded.transparentPixels).toBeGreaterThan(0);
    // PIL keeps the stored RGB under transparent pixels; a canvas cannot, so those differ.
    expect(result.vsDecoded.maxDiff).toBeGreaterThan(0);
  });

  it('gray16_200x150.png: Chromium keeps the high byte (equals decoded_msb8), not PIL 9.4\'s clamp to 255', async () => {
    const result = await parity('gray16_200x150.png');
    expect(result.vsMsb8).toMatchObject({ maxDiff: 0, exactFraction: 1 });
    expect(result.vsDecoded.maxDiff).toBeGreaterThan(0);
  });

  it.each(images.filter((name) => name.endsWith('.jpg')))('%s (JPEG) decodes within one level on average, EXIF orientation applied', async (name) => {
    const result = await parity(name);
    expect(result.vsDecoded.meanDiff).toBeLessThanOrEqual(1);
  });
});
