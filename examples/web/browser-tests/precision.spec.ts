/**
 * Lower precision in Chromium: the bundled digits models built at fp16, int8 and q4 in the page
 * (wasm, and WebGPU where this Chromium gives an adapter), the 360 test digits compared with the
 * same model at fp32 in the same page. The floors are what onnxruntime-node measures
 * (packages/pipeline/src/precision.test.ts); the are fp16 360, int8 357, q4 350.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseSafetensors } from '@vitzoo/core';
import { logitsBound } from '@vitzoo/conformance';
// @ts-expect-error plain JavaScript helpers shared with tools/bench
import { fixturesDirectory } from './support/workspace.mjs';
// @ts-expect-error plain JavaScript helpers shared with tools/bench
import { startHarness } from './support/harness.mjs';
// @ts-expect-error plain JavaScript helpers shared with tools/bench
import { modelsDirectory } from './support/workspace.mjs';

type Harness = { open(options?: Record<string, unknown>): Promise<Page>; close(): Promise<void> };
type PageHarness = Window['vitzooHarness'];
type Row = { dtype: string; bytes: number; sizeRatio: number; topOne: { equal: number; total: number }; maxLogitDiff: number };

const call = <K extends keyof PageHarness>(target: Page, name: K, ...args: Parameters<PageHarness[K]>) =>
  target.evaluate(([name, args]) => (window.vitzooHarness[name] as (...a: unknown[]) => unknown)(...args), [name, args] as const) as Promise<
    Awaited<ReturnType<PageHarness[K]>>
  >;

/** Agreement with fp32 over the 360 digits and the largest logit difference, as onnxruntime-node measures them. */
const FLOORS: Record<string, Record<string, { agree: number; maxLogitDiff: number }>> = {
  'digits-vit': { fp16: { agree: 360, maxLogitDiff: 1e-2 }, int8: { agree: 360, maxLogitDiff: 0.2 }, q4: { agree: 359, maxLogitDiff: 0.45 } },
  'digits-deit': { fp16: { agree: 360, maxLogitDiff: 1e-2 }, int8: { agree: 360, maxLogitDiff: 0.2 }, q4: { agree: 358, maxLogitDiff: 0.7 } },
};

let harness: Harness;
beforeAll(async () => {
  harness = await startHarness({ mounts: { '/models/': modelsDirectory } });
});
afterAll(async () => {
  await harness?.close();
});

/** Runs `body` in a WebGPU page, or checks and records the reason there is no adapter. */
async function onWebGpu(context: { annotate(message: string, type?: string): unknown }, body: (page: Page) => Promise<void>): Promise<void> {
  const page = await harness.open({ webgpu: true });
  try {
    const unavailable = (await call(page, 'environment')).webGpuUnavailableReason;
    if (unavailable !== null) {
      context.annotate(`WebGPU unavailable, not run: ${unavailable}`, 'warning');
      expect(unavailable.length).toBeGreaterThan(0);
      return;
    }
    await body(page);
  } finally {
    await page.close();
  }
}

async function digits(page: Page, model: string, backend: string, dtypes: string[], count?: number): Promise<Row[]> {
  const result = await call(page, 'digitsAtPrecision', model, backend, dtypes as never, count);
  if ('error' in result) throw new Error(`${model} on ${backend}: ${JSON.stringify(result.error)}`);
  console.log(
    `[precision ${backend}] ${model}, ${result.images} digits, ${result.seconds.toFixed(1)} s: ` +
      result.rows.map((row) => `${row.dtype} ${row.topOne.equal}/${row.topOne.total} max|Δ| ${row.maxLogitDiff.toExponential(2)} ${(row.bytes / 1e3).toFixed(0)} kB`).join('; '),
  );
  return result.rows;
}

describe('digits at fp16, int8 and q4 in Chromium (wasm)', () => {
  it.each(Object.keys(FLOORS))('%s: top-1 agrees with fp32 on the 360 test digits as in onnxruntime-node', async (model) => {
    const page = await harness.open();
    try {
      const rows = await digits(page, model, 'wasm', ['fp16', 'int8', 'q4']);
      expect(rows.map((row) => row.dtype)).toEqual(['fp32', 'fp16', 'int8', 'q4']);
      for (const row of rows.slice(1)) {
        const floor = FLOORS[model]![row.dtype]!;
        expect(row.topOne, row.dtype).toEqual({ equal: expect.any(Number), total: 360 });
        expect(row.topOne.equal, row.dtype).toBeGreaterThanOrEqual(floor.agree);
        expect(row.maxLogitDiff, row.dtype).toBeLessThanOrEqual(floor.maxLogitDiff);
        expect(row.sizeRatio, row.dtype).toBeLessThan(0.55);
      }
    } finally {
      await page.close();
    }
  }, 600_000);
});

/**
 * SwiftShader runs every shader on the CPU (minutes for a few digits on the shared 2-core machine):
 * WebGPU checks the first 4 digits, to keep the suite within its time budget.
 */
const WEBGPU_DIGITS = 4;

describe('digits at lower precision on WebGPU', () => {
  it('digits-vit at fp16 (float16 storage, float32 compute) and q4 (MatMulNBits on WebGPU), or the reason WebGPU is unavailable', (context) =>
    onWebGpu(context, async (page) => {
      const rows = await digits(page, 'digits-vit', 'webgpu', ['fp16', 'q4'], WEBGPU_DIGITS);
      expect(rows.map((row) => row.dtype)).toEqual(['fp32', 'fp16', 'q4']);
      for (const row of rows.slice(1)) {
        const floor = FLOORS['digits-vit']![row.dtype]!;
        expect(row.topOne.total).toBe(WEBGPU_DIGITS);
        expect(row.topOne.equal, row.dtype).toBeGreaterThanOrEqual(WEBGPU_DIGITS - (360 - floor.agree));
        expect(row.maxLogitDiff, row.dtype).toBeLessThanOrEqual(floor.maxLogitDiff);
      }
    }), 600_000);
});

const cases = readdirSync(join(fixturesDirectory, 'models')).sort();
const bound = (name: string, dtype: 'fp16' | 'int8' | 'q4') => logitsBound(dtype, parseSafetensors(readFileSync(join(fixturesDirectory, 'models', name, 'io.safetensors'))).tensors.logits!);

async function fixtureCase(page: Page, name: string, backend: string, dtype: 'fp16' | 'int8' | 'q4') {
  const result = await call(page, 'caseAtPrecision', name, backend, dtype);
  if ('error' in result) throw new Error(`${name} ${dtype} on ${backend}: ${JSON.stringify(result.error)}`);
  console.log(`[precision ${backend}] ${name} ${dtype}: max |logit diff| ${result.maxAbsDiff.toExponential(2)}, top-1 ${result.topOne.equal}/${result.topOne.total}, ${(result.graphBytes / 1e3).toFixed(0)} kB`);
  expect(result.maxAbsDiff).toBeLessThanOrEqual(bound(name, dtype));
  if (dtype === 'fp16') expect(result.topOne.equal).toBe(result.topOne.total);
}

describe('every fixture case at fp16, int8 and q4 in Chromium (wasm), within the verify bounds', () => {
  it.each(cases)('%s', async (name) => {
    const page = await harness.open();
    try {
      for (const dtype of ['fp16', 'int8', 'q4'] as const) await fixtureCase(page, name, 'wasm', dtype);
    } finally {
      await page.close();
    }
  });
});

describe('q4 fixture cases on WebGPU', () => {
  // vit_tiny: blocks of 16 (K = 48); fdvit_tiny: widths padded to a multiple of 16 (activations zero-padded in the graph).
  it.each(['vit_tiny', 'fdvit_tiny'])('%s at q4, or the reason WebGPU is unavailable', (name, context) => onWebGpu(context, (page) => fixtureCase(page, name, 'webgpu', 'q4')), 600_000);
});
