/**
 * The same fixture model's inference time in headless Chromium (onnxruntime-web wasm) and in Node
 * (onnxruntime-node), as a ratio. Uses the browser test harness of examples/web (built test page,
 * 127.0.0.1 static server, Debian's chromium via playwright-core).
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const webExample = new URL('../../../examples/web/', import.meta.url);
const CASE = 'vit_tiny';
const RUNS = 60;
const WARMUP = 10;

async function nodeMedianMs(caseDir, threads) {
  // Resolved from this package (tools/bench depends on vitzoo and onnxruntime-node).
  const ort = await import('onnxruntime-node');
  const { convertCheckpoint, graphBytes, parseSafetensors, createDefaultRegistry } = await import('vitzoo');
  const config = JSON.parse(readFileSync(join(caseDir, 'config.json'), 'utf8'));
  const stateDict = parseSafetensors(readFileSync(join(caseDir, 'model.safetensors'))).tensors;
  const input = parseSafetensors(readFileSync(join(caseDir, 'io.safetensors'))).tensors.pixel_values;
  const graph = convertCheckpoint({ architecture: createDefaultRegistry().architecture(config.architecture), kwargs: config.kwargs, stateDict });
  const session = await ort.InferenceSession.create(graphBytes(graph), { intraOpNumThreads: threads, interOpNumThreads: 1 });
  const perSample = input.data.length / input.shape[0];
  const x = new ort.Tensor('float32', input.data.slice(0, perSample), [1, ...input.shape.slice(1)]);
  for (let i = 0; i < WARMUP; i++) await session.run({ pixel_values: x });
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const start = performance.now();
    await session.run({ pixel_values: x });
    times.push(performance.now() - start);
  }
  await session.release();
  times.sort((a, b) => a - b);
  return times[times.length >> 1];
}

export async function run({ log } = {}) {
  const support = new URL('browser-tests/support/', webExample);
  const { chromiumPath } = await import(new URL('chromium.mjs', support).href);
  const { existsSync } = await import('node:fs');
  const name = `${CASE} batch 1 inference: Chromium wasm vs Node onnxruntime-node`;
  if (!existsSync(chromiumPath)) return [{ name, note: `skipped: no Chromium at ${chromiumPath} (run scripts/install-chromium.sh)` }];
  // playwright-core and vite are examples/web's dev dependencies; make sure they resolve from there.
  createRequire(new URL('package.json', webExample)).resolve('playwright-core');
  const { startHarness } = await import(new URL('harness.mjs', support).href);
  const { fixturesDirectory } = await import(new URL('workspace.mjs', support).href);
  const caseDir = join(fixturesDirectory, 'models', CASE);
  const harness = await startHarness();
  const rows = [];
  try {
    for (const isolated of [false, true]) {
      const page = await harness.open({ isolated });
      const browser = await page.evaluate(([c, r, w]) => window.vitzooHarness.benchmarkCase(c, 'wasm', r, w), [CASE, RUNS, WARMUP]);
      await page.close();
      const threads = browser.environment.numThreads;
      const node = await nodeMedianMs(caseDir, threads);
      rows.push({
        name: `${name}, ${threads} thread(s)${isolated ? ' (cross-origin isolated page)' : ''}`,
        ours_ms: browser.medianMs,
        baseline_ms: node,
        ratio: browser.medianMs / node,
        note: `median of ${RUNS} runs after ${WARMUP} warm-up (page timer 0.1 ms when not isolated); ours = onnxruntime-web 1.30 wasm in headless Chromium, baseline = onnxruntime-node 1.30 CPU, same graph, same thread count`,
      });
      log?.(`  ${rows.at(-1).name}: ${browser.medianMs.toFixed(3)} ms vs ${node.toFixed(3)} ms (x${(browser.medianMs / node).toFixed(2)})`);
    }
  } finally {
    await harness.close();
  }
  return rows;
}

// `node tools/bench/src/browser-bench.mjs` runs it alone.
if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  console.table(await run({ log: console.log }));
}
