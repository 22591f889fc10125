/**
 * A sample of the configuration sweeps in headless Chromium on onnxruntime-web's wasm backend:
 * the graphs are built in the page from random weights and must match the float64 references of the
 * Node sweeps (heads ≤ 1e-4, attention ≤ 1e-5) at batch 2 and 1, with no native failure.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { SweepResult } from '@vitzoo/conformance/sweep';
import { SWEEP_SAMPLE } from './page/sweep.js';
// @ts-expect-error plain JavaScript helpers shared with tools/bench
import { startHarness } from './support/harness.mjs';

type Harness = { open(options?: Record<string, unknown>): Promise<Page>; close(): Promise<void> };

let harness: Harness;
let results: SweepResult[];

beforeAll(async () => {
  harness = await startHarness();
  const page = await harness.open();
  try {
    results = (await page.evaluate(() => window.vitzooHarness.sweepSample('wasm'))) as SweepResult[];
  } finally {
    await page.close();
  }
});
afterAll(async () => {
  await harness?.close();
});

describe('configuration sweep sample on wasm', () => {
  it('runs every sampled configuration', () => {
    expect(results.map((result) => result.name)).toEqual(SWEEP_SAMPLE.map((testCase) => testCase.name));
  });

  it.each(SWEEP_SAMPLE.map((testCase) => testCase.name))('%s matches the float64 reference on every output', (name) => {
    const result = results.find((entry) => entry.name === name)!;
    console.log(`[sweep wasm] ${name}: ${JSON.stringify(result.maxAbsDiff)}`);
    expect(result.failures).toEqual([]);
    expect(Object.keys(result.maxAbsDiff)).toContain('logits');
  });
});
