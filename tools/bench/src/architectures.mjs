import * as ort from 'onnxruntime-node';
import { createDefaultRegistry, graphBytes } from 'vitzoo';
import { GraphBuilder, serializeModel } from '@vitzoo/onnx';
import { randomStateDict } from './random-weights.mjs';
import { interleavedMedians } from './timing.mjs';

/**
 * Multiply-accumulate counts (GMACs at batch 1) as published: timm's model cards for Swin-T, CaiT-XXS24
 * and DeiT-Ti, the CSWin paper (FLOPs there are MACs) and the FDViT paper.
 */
const GMACS = {
  deit_tiny_patch16_224: 1.3,
  swin_tiny_patch4_window7_224: 4.5,
  cait_xxs24_224: 2.5,
  cswin_tiny_224: 4.3,
  fdvit_s: 2.8,
};

/** GFLOP/s of one large MatMul under the same session options: the machine's practical roof. */
async function matMulRoof(threads) {
  const n = 1024;
  const g = new GraphBuilder();
  const a = g.input('a', 'float32', [n, n]);
  const b = g.constant('float32', [n, n], Float32Array.from({ length: n * n }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5));
  g.output(g.matMul(a, b), 'y', 'float32', [n, n]);
  const session = await ort.InferenceSession.create(serializeModel(g.build()), { intraOpNumThreads: threads, interOpNumThreads: 1 });
  const x = new ort.Tensor('float32', new Float32Array(n * n).fill(0.5), [n, n]);
  const [ms] = await interleavedMedians([() => session.run({ a: x })], { runs: 15 });
  await session.release();
  return (2 * n ** 3) / (ms / 1000) / 1e9;
}

/** Inference time of random-weight models and the GFLOP/s they achieve against the MatMul roof. */
export async function run({ log }) {
  const threads = 1;
  const roof = await matMulRoof(threads);
  log?.(`  MatMul roof (${threads} thread): ${roof.toFixed(1)} GFLOP/s`);
  const registry = createDefaultRegistry();
  const rows = [];
  for (const [name, gmacs] of Object.entries(GMACS)) {
    const { architecture, kwargs } = registry.resolve(name);
    const config = architecture.parseConfig(kwargs);
    const graph = architecture.buildGraph(config, randomStateDict(architecture, config, 3), { outputs: ['logits'] });
    const session = await ort.InferenceSession.create(graphBytes(graph), { intraOpNumThreads: threads, interOpNumThreads: 1 });
    const [, , height, width] = graph.inputs[0].shape;
    const x = new ort.Tensor('float32', new Float32Array(3 * height * width).fill(0.1), [1, 3, height, width]);
    const [ms] = await interleavedMedians([() => session.run({ pixel_values: x })], { runs: 20 });
    await session.release();
    const gflops = (2 * gmacs) / (ms / 1000);
    rows.push({
      name: `${name} inference, batch 1, ${threads} thread`,
      ours_ms: ms,
      baseline_ms: null,
      ratio: gflops / roof,
      target: 'fraction of MatMul roof',
      note: `${gflops.toFixed(1)} GFLOP/s achieved (${gmacs} GMACs) vs MatMul roof ${roof.toFixed(1)} GFLOP/s`,
    });
    log?.(`  ${name}: ${ms.toFixed(1)} ms, ${gflops.toFixed(1)} GFLOP/s`);
  }
  return rows;
}
