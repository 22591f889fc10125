// `vitzoo serve` under load: DeiT-tiny/16 @224 (random weights), the built CLI in a child process,
// autocannon sending binary FP32 pixel_values [1, 3, 224, 224] (the binary tensor data extension)
// to POST /v2/models/deit/infer. Dynamic batching on (--max-batch 32, the default --max-delay-ms 0) against off
// (--max-batch 1: every request its own run), at concurrency 1 and 32, measured in the same run.
// Run `pnpm build` first.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { createDefaultRegistry, serializeSafetensors } from 'vitzoo';
import { randomStateDict } from './random-weights.mjs';

const CLI = fileURLToPath(new URL('../../../packages/cli/dist/bin.js', import.meta.url));
const MODEL = 'deit_tiny_patch16_224';
/** Requests per measurement (a fixed amount, so a slow, shared machine still gives whole measurements). */
const AMOUNT = { warmup: 64, concurrency1: 40, concurrency32: 384 };

/** A timm-layout model folder with random weights (no download). */
function writeModelFolder(dir) {
  const { architecture, kwargs } = createDefaultRegistry().resolve(MODEL);
  const stateDict = randomStateDict(architecture, architecture.parseConfig(kwargs), 7);
  writeFileSync(join(dir, 'config.json'), JSON.stringify({ architecture: MODEL, num_classes: 1000 }));
  writeFileSync(join(dir, 'model.safetensors'), serializeSafetensors(stateDict));
}

/** Starts `vitzoo serve` and resolves with its URL once the model is ready. */
async function startServer(modelDir, args) {
  const child = spawn(process.execPath, [CLI, 'serve', '--model', `deit=${modelDir}`, '--port', '0', '--log-level', 'warn', '--no-graph-cache', '--request-timeout-ms', '120000', ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const exited = new Promise((resolve) => child.on('close', resolve));
  const started = Date.now();
  while (!/ready at /.test(stderr)) {
    if (child.exitCode !== null || Date.now() - started > 120_000) throw new Error(`vitzoo serve did not start: ${stderr}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const url = /listening on (http:\/\/[^\s]+)/.exec(stderr)[1];
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      const code = await exited;
      if (code !== 0) throw new Error(`vitzoo serve exited ${code}: ${stderr}`);
    },
  };
}

/** One binary inference request: JSON header, then 3x224x224 little-endian float32 values. */
function requestBody() {
  const values = new Float32Array(3 * 224 * 224);
  for (let i = 0; i < values.length; i++) values[i] = Math.sin(i * 0.001);
  const binary = Buffer.from(values.buffer);
  const header = Buffer.from(JSON.stringify({ inputs: [{ name: 'pixel_values', shape: [1, 3, 224, 224], datatype: 'FP32', parameters: { binary_data_size: binary.length } }], outputs: [{ name: 'logits', parameters: { binary_data: true } }] }));
  return { body: Buffer.concat([header, binary]), headers: { 'content-type': 'application/octet-stream', 'inference-header-content-length': String(header.length) } };
}

async function load(url, connections, amount) {
  const { body, headers } = requestBody();
  const result = await autocannon({ url: `${url}/v2/models/deit/infer`, method: 'POST', headers, body, connections, amount, timeout: 120 });
  if (result.errors > 0 || result.non2xx > 0 || result.timeouts > 0) {
    throw new Error(`${result.errors} errors, ${result.non2xx} non-2xx answers, ${result.timeouts} timeouts at concurrency ${connections}`);
  }
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, requests: result.requests.total };
}

export async function run({ log }) {
  const dir = mkdtempSync(join(tmpdir(), 'vitzoo-bench-serve-'));
  const threads = Math.min(availableParallelism(), 2);
  const results = {};
  try {
    writeModelFolder(dir);
    for (const [mode, args] of [
      ['off', ['--max-batch', '1']],
      ['on', ['--max-batch', '32']],
    ]) {
      const server = await startServer(dir, [...args, '--threads', String(threads)]);
      try {
        await load(server.url, 32, AMOUNT.warmup);
        results[mode] = { 1: await load(server.url, 1, AMOUNT.concurrency1), 32: await load(server.url, 32, AMOUNT.concurrency32) };
      } finally {
        await server.stop();
      }
      for (const connections of [1, 32]) {
        const r = results[mode][connections];
        log?.(`  batching ${mode}, concurrency ${connections}: ${r.rps.toFixed(1)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms (${r.requests} requests)`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  const { on, off } = results;
  const load1 = loadavg()[0].toFixed(1);
  const describe = (r) => `${r.rps.toFixed(1)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms`;
  const throughput = on[32].rps / off[32].rps;
  log?.(`  throughput at concurrency 32: batching on / off = ${throughput.toFixed(2)}x (target >= 1.5x)`);
  return [
    {
      name: `serve ${MODEL} (random weights), concurrency 1: p50 latency, batching on vs off`,
      ours_ms: on[1].p50,
      baseline_ms: off[1].p50,
      ratio: on[1].p50 / off[1].p50,
      target: '',
      note: `on: ${describe(on[1])}; off (--max-batch 1): ${describe(off[1])}; binary FP32 pixel_values, ${threads} runtime thread(s), autocannon; load average ${load1} on ${availableParallelism()} cores`,
    },
    {
      name: `serve ${MODEL} (random weights), concurrency 32: ms per request (1 / throughput), batching on vs off`,
      ours_ms: 1000 / on[32].rps,
      baseline_ms: 1000 / off[32].rps,
      ratio: off[32].rps / on[32].rps,
      target: '<= 0.667 (throughput >= 1.5x)',
      note: `throughput ${throughput.toFixed(2)}x; on: ${describe(on[32])}; off (--max-batch 1): ${describe(off[32])}`,
    },
  ];
}
