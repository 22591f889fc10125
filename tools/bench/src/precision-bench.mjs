// Lower precision: graph sizes of a ViT-B/16 at fp16 / int8 / q4 as ratios of fp32, and the speed of
// DeiT-S/16 @224 at each precision against our fp32 graph of the same weights, in the same run
// (onnxruntime-node at 1 and 2 threads; onnxruntime-web's wasm backend in Node, 1 thread). The three
// int8 kernel forms ONNX Runtime offers are measured side by side (the layers use the fastest).
// Random weights (tools/bench/src/random-weights.mjs): speed and size do not depend on the values.
import * as ort from 'onnxruntime-node';
import { convertCheckpoint, createDefaultRegistry, graphBytes } from 'vitzoo';
import { INT8_KERNEL, INT8_KERNELS } from '@vitzoo/onnx/layers';
import { randomStateDict } from './random-weights.mjs';
import { interleavedMedians } from './timing.mjs';

const registry = createDefaultRegistry();

function model(name, seed) {
  const { architecture, kwargs } = registry.resolve(name);
  const config = architecture.parseConfig(kwargs);
  return { architecture, kwargs, config, stateDict: randomStateDict(architecture, config, seed) };
}

/** Built graphs by label: fp32, fp16, int8 (each kernel form), q4. */
function graphs({ architecture, kwargs, config, stateDict }) {
  const out = {};
  for (const dtype of ['fp32', 'fp16', 'q4']) out[dtype] = graphBytes(convertCheckpoint({ architecture, kwargs, stateDict, dtype }));
  // The int8 forms through the layers' int8Kernel option (not a public build option: convertCheckpoint always uses INT8_KERNEL).
  for (const kernel of INT8_KERNELS) {
    out[`int8 ${kernel}`] = graphBytes(architecture.buildGraph(config, architecture.filterCheckpoint ? architecture.filterCheckpoint(stateDict, config) : stateDict, { outputs: ['logits'], dtype: 'int8', int8Kernel: kernel }));
  }
  return out;
}

async function timeSessions(runtime, built, threads, input) {
  const labels = Object.keys(built);
  const sessions = [];
  for (const label of labels) sessions.push(await runtime.InferenceSession.create(built[label], { intraOpNumThreads: threads, interOpNumThreads: 1, executionProviders: runtime === ort ? ['cpu'] : ['wasm'] }));
  const x = new runtime.Tensor('float32', input, [1, 3, 224, 224]);
  const medians = await interleavedMedians(sessions.map((session) => () => session.run({ pixel_values: x })), { warmup: 3, runs: runtime === ort ? 15 : 7 });
  for (const session of sessions) await session.release();
  return Object.fromEntries(labels.map((label, index) => [label, medians[index]]));
}

export async function run({ log }) {
  const rows = [];

  // Sizes on a ViT-B/16 (86 M parameters), as the targets are stated.
  const base = model('vit_base_patch16_224', 7);
  const sizes = {};
  for (const dtype of ['fp32', 'fp16', 'int8', 'q4']) {
    const started = performance.now();
    const graph = convertCheckpoint({ architecture: base.architecture, kwargs: base.kwargs, stateDict: base.stateDict, dtype });
    sizes[dtype] = graph.byteLength;
    let written = 0;
    for (const chunk of graph.chunks()) written += chunk.byteLength; // build + quantize + serialise, as a conversion writes it
    const seconds = (performance.now() - started) / 1000;
    log?.(`  ViT-B/16 ${dtype}: ${(written / 1e6).toFixed(1)} MB, built and serialised in ${seconds.toFixed(2)} s`);
  }
  const targets = { fp16: 0.55, int8: 0.4, q4: 0.3 };
  for (const dtype of ['fp16', 'int8', 'q4']) {
    rows.push({
      name: `ViT-B/16 graph size, ${dtype} / fp32`,
      ours_ms: null,
      baseline_ms: null,
      ratio: sizes[dtype] / sizes.fp32,
      target: `<= ${targets[dtype]}`,
      note: `${(sizes[dtype] / 1e6).toFixed(1)} MB vs ${(sizes.fp32 / 1e6).toFixed(1)} MB`,
    });
  }

  // Speed on DeiT-S/16 @224, batch 1.
  const small = model('deit_small_patch16_224', 11);
  const built = graphs(small);
  const input = Float32Array.from({ length: 3 * 224 * 224 }, (_, i) => Math.sin(i) * 0.5);
  const speedTargets = { [`int8 ${INT8_KERNEL}`]: '<= 0.6' };
  for (const threads of [1, 2]) {
    const times = await timeSessions(ort, built, threads, input);
    for (const [label, ms] of Object.entries(times)) {
      if (label === 'fp32') continue;
      rows.push({
        name: `deit_small_patch16_224 ${label} vs fp32, batch 1, ${threads} thread(s), onnxruntime-node`,
        ours_ms: ms,
        baseline_ms: times.fp32,
        ratio: ms / times.fp32,
        target: speedTargets[label] ?? (label.startsWith('int8') ? 'kernel form (measured)' : ''),
        note: label.startsWith('int8') ? (label === `int8 ${INT8_KERNEL}` ? 'the form int8 graphs use' : 'alternative int8 form') : label === 'fp16' ? 'float16 storage, float32 compute' : 'MatMulNBits, block 32',
      });
      log?.(`  ${rows.at(-1).name}: ${ms.toFixed(1)} ms vs ${times.fp32.toFixed(1)} ms`);
    }
  }

  // The same graphs on onnxruntime-web's wasm backend (the CPU provider compiled to WebAssembly), in Node, 1 thread.
  let web;
  try {
    web = await import('onnxruntime-web');
    web.env.wasm.numThreads = 1;
  } catch (error) {
    rows.push({ name: 'deit_small_patch16_224 at lower precision, onnxruntime-web wasm', note: `skipped: onnxruntime-web not loadable (${error.message})` });
    return rows;
  }
  const wasmTimes = await timeSessions(web, built, 1, input);
  for (const [label, ms] of Object.entries(wasmTimes)) {
    if (label === 'fp32') continue;
    rows.push({
      name: `deit_small_patch16_224 ${label} vs fp32, batch 1, 1 thread, onnxruntime-web wasm (in Node)`,
      ours_ms: ms,
      baseline_ms: wasmTimes.fp32,
      ratio: ms / wasmTimes.fp32,
      target: label.startsWith('int8') ? 'kernel form (measured)' : '',
      note: label === `int8 ${INT8_KERNEL}` ? 'the form int8 graphs use' : '',
    });
    log?.(`  ${rows.at(-1).name}: ${ms.toFixed(1)} ms vs ${wasmTimes.fp32.toFixed(1)} ms`);
  }
  return rows;
}
