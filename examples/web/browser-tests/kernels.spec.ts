/**
 * The kernel contract probes of @vitzoo/conformance/kernel-contracts (documented in
 * packages/onnx/KERNELS.md) in headless Chromium: onnxruntime-web's wasm backend, and its WebGPU
 * backend on SwiftShader's software adapter when the flags give one. Each probe must do what
 * KERNEL_PROBES records for the provider (work, or fail with an error), and on WebGPU run where it
 * records (a WebGPU kernel, or ONNX Runtime's CPU fallback).
 */
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { placementFromLog, type KernelProbeResult } from '@vitzoo/conformance/kernel-contracts';
import { PROBE_MARKER } from './page/kernels.js';
// @ts-expect-error plain JavaScript helpers shared with tools/bench
import { startHarness } from './support/harness.mjs';

type Harness = { open(options?: Record<string, unknown>): Promise<Page>; close(): Promise<void> };

let harness: Harness;

beforeAll(async () => {
  harness = await startHarness();
});
afterAll(async () => {
  await harness?.close();
});

type ProbeRun = { results: KernelProbeResult[]; adapter: { shaderF16: boolean; vendor: string; architecture: string } | null; milliseconds: number };

/** Opens a page, runs every probe on `backend` and attaches to each result where its node ran (from ONNX Runtime's log). */
async function runProbes(backend: 'wasm' | 'webgpu'): Promise<ProbeRun & { unavailable: string | null }> {
  const lines: string[] = [];
  let ended: () => void;
  const end = new Promise<void>((resolve) => (ended = resolve));
  const page = await harness.open({
    webgpu: backend === 'webgpu',
    console: (line: string) => {
      lines.push(line);
      if (line.endsWith(`${PROBE_MARKER}end`)) ended();
    },
  });
  try {
    const environment = backend === 'webgpu' ? await page.evaluate(() => window.vitzooHarness.environment()) : null;
    const unavailable = environment?.webGpuUnavailableReason ?? null;
    if (unavailable !== null) return { results: [], adapter: null, milliseconds: 0, unavailable };
    const run = (await page.evaluate((name) => window.vitzooHarness.kernelProbes(name), backend)) as ProbeRun;
    // The console messages arrive after the evaluation's result at the latest shortly; without them no placement is known.
    await Promise.race([end, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    const logs = new Map<string, string[]>();
    let current: string[] = [];
    for (const line of lines) {
      const at = line.indexOf(PROBE_MARKER);
      if (at >= 0) logs.set(line.slice(at + PROBE_MARKER.length), (current = []));
      else current.push(line);
    }
    if (backend === 'webgpu') for (const result of run.results) result.placement = placementFromLog(logs.get(result.id) ?? [], result.op);
    return { ...run, unavailable: null };
  } finally {
    await page.close();
  }
}

function report(provider: string, results: readonly KernelProbeResult[]): void {
  for (const result of results) {
    const where = result.placement ? ` on ${result.placement}` : '';
    console.log(`[kernels ${provider}] ${result.id}: ${result.outcome}${where} (${result.detail})`);
  }
}

function expectAsRecorded(results: readonly KernelProbeResult[]): void {
  const failed = results.filter((result) => !result.passed || result.placement !== result.expectedPlacement);
  const where = (placement: string | undefined) => (placement ? ` on ${placement}` : '');
  const describe = (r: KernelProbeResult) => `${r.id}: got ${r.outcome}${where(r.placement)}, recorded ${r.expected}${where(r.expectedPlacement)} (${r.detail})`;
  expect(failed.map(describe)).toEqual([]);
  expect(results.length).toBeGreaterThanOrEqual(50);
}

describe('kernel contracts in Chromium', () => {
  it('wasm: every probe does what KERNEL_PROBES records', async () => {
    const { results, milliseconds } = await runProbes('wasm');
    console.log(`[kernels wasm] ${results.length} probes in ${milliseconds.toFixed(0)} ms`);
    report('wasm', results);
    expectAsRecorded(results);
  });

  it('webgpu (SwiftShader): every probe does what KERNEL_PROBES records, on the provider it records', async (context) => {
    const { results, adapter, milliseconds, unavailable } = await runProbes('webgpu');
    if (unavailable !== null) {
      context.annotate(`WebGPU unavailable, kernel probes not run: ${unavailable}`, 'warning');
      console.log(`[kernels webgpu] UNAVAILABLE: ${unavailable}`);
      expect(unavailable.length).toBeGreaterThan(0);
      return;
    }
    console.log(`[kernels webgpu] ${results.length} probes in ${milliseconds.toFixed(0)} ms on ${JSON.stringify(adapter)}`);
    report('webgpu', results);
    expectAsRecorded(results);
  });
});
