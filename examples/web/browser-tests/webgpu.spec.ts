/**
 * WebGPU in headless Chromium (SwiftShader's software adapter when the flags give one). When no
 * adapter is offered, the suite says so (console line + test annotation) and checks the reason
 * instead of passing silently.
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// @ts-expect-error plain JavaScript helpers shared with tools/bench
import { startHarness } from './support/harness.mjs';

type Harness = { open(options?: Record<string, unknown>): Promise<Page>; close(): Promise<void> };
type PageHarness = Window['vitzooHarness'];

const call = <K extends keyof PageHarness>(target: Page, name: K, ...args: Parameters<PageHarness[K]>) =>
  target.evaluate(([name, args]) => (window.vitzooHarness[name] as (...a: unknown[]) => unknown)(...args), [name, args] as const) as Promise<
    Awaited<ReturnType<PageHarness[K]>>
  >;

/**
 * Cases run on WebGPU at their stored batch. SwiftShader compiles every shader on the CPU, so the
 * slowest cases (cait_tiny ~13 s, cswin_tiny ~24 s, fdvit_tiny ~25 s on 2 cores; they pass at
 * 9.5e-7 / 5.2e-6 / 1.1e-6) run only with VITZOO_WEBGPU_ALL_CASES=1, to keep the suite within its
 * time budget. swin_tiny runs always: its graph gives com.microsoft MultiHeadAttention the attention
 * bias at the full (batch * windows, heads, S, S) shape, the only one the WebGPU kernel accepts.
 */
const CASES = ['vit_tiny', 'vit_gap', 'deit_distilled', 'swin_tiny', ...(process.env.VITZOO_WEBGPU_ALL_CASES ? ['cait_tiny', 'cswin_tiny', 'fdvit_tiny'] : [])];

let harness: Harness;
let page: Page;
let unavailable: string | null = null;

beforeAll(async () => {
  harness = await startHarness();
  page = await harness.open({ webgpu: true });
  unavailable = (await call(page, 'environment')).webGpuUnavailableReason;
  console.log(unavailable === null ? '[webgpu] adapter available (headless Chromium, SwiftShader flags)' : `[webgpu] UNAVAILABLE: ${unavailable}`);
});
afterAll(async () => {
  await harness?.close();
});

describe('WebGPU backend', () => {
  it('reports whether this Chromium gives a WebGPU adapter', async (context) => {
    context.annotate(unavailable === null ? 'WebGPU adapter available' : `WebGPU unavailable: ${unavailable}`, unavailable === null ? 'notice' : 'warning');
    const outcome = (await call(page, 'resolve', ['webgpu', 'wasm'])) as { backend: string; fallbackReason: string | null };
    if (unavailable === null) {
      expect(outcome.backend).toBe('webgpu');
    } else {
      expect(outcome.backend).toBe('wasm');
      expect(outcome.fallbackReason).toBe(`webgpu: ${unavailable}`);
    }
  });

  it('passes the backend contract (or init rejects with the unavailability reason)', async (context) => {
    if (unavailable !== null) {
      context.annotate(`WebGPU unavailable, contract not run: ${unavailable}`, 'warning');
      const outcome = (await call(page, 'resolve', ['webgpu'])) as { error?: { code: string; message: string } };
      expect(outcome.error?.code).toBe('backend-unavailable');
      expect(outcome.error?.message).toContain(unavailable);
      return;
    }
    const { results } = await call(page, 'contract', 'webgpu');
    const failed = results.filter((result) => !result.passed);
    expect(failed, failed.map((f) => `${f.name}: ${f.detail}`).join('\n')).toEqual([]);
  });

  it.for(CASES)('%s on WebGPU', async (name, context) => {
    if (unavailable !== null) {
      context.annotate(`WebGPU unavailable, ${name} not run: ${unavailable}`, 'warning');
      expect(unavailable.length).toBeGreaterThan(0);
      return;
    }
    const report = await call(page, 'verifyCase', name, 'webgpu', false);
    if ('error' in report) throw new Error(`${name}: ${JSON.stringify(report.error)}`);
    expect(report.comparisons.map((c) => c.output)).toContain('logits');
    const worst = Math.max(...report.comparisons.map((c) => c.maxAbsDiff));
    console.log(`[webgpu] ${name}: max |diff| ${worst.toExponential(2)} (${report.comparisons.map((c) => `${c.output}=${c.maxAbsDiff.toExponential(1)}`).join(', ')})`);
    for (const comparison of report.comparisons) expect(comparison.maxAbsDiff, JSON.stringify(comparison)).toBeLessThanOrEqual(report.tolerance!);
  });
});
