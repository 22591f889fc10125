import * as ort from 'onnxruntime-node';
import { createDefaultRegistry, graphBytes } from 'vitzoo';
import { GraphBuilder, serializeModel } from '@vitzoo/onnx';
import { randomStateDict } from './random-weights.mjs';
import { interleavedMedians } from './timing.mjs';

/**
 * Multiply-accumulate counts (GMACs at batch 1) of the backbone (`features`: every token through
 * every block, no head). DeiT's are counted here from the config (timm's model cards round them up
 * to 1.3 and 4.6): patch embedding 196·768·D, then per block qkv 197·D·3D, q·kᵀ and attention·v
 * 2·197²·D, proj 197·D², MLP 2·197·D·4D. The others as published: timm's model cards for Swin-T and
 * CaiT-XXS24, the CSWin paper (FLOPs there are MACs) and the FDViT paper.
 */
const deitMacs = (dim) => (196 * 768 * dim + 12 * (197 * dim * 3 * dim + 2 * 197 * 197 * dim + 197 * dim * dim + 2 * 197 * dim * 4 * dim)) / 1e9;
const GMACS = {
  deit_tiny_patch16_224: deitMacs(192),
  deit_small_patch16_224: deitMacs(384),
  swin_tiny_patch4_window7_224: 4.5,
  cait_xxs24_224: 2.5,
  cswin_tiny_224: 4.3,
  fdvit_s: 2.8,
};

/** A session computing one square MatMul [n, n] · [n, n] (a constant B), and its input. */
async function squareMatMul(n, threads) {
  const g = new GraphBuilder();
  const a = g.input('a', 'float32', [n, n]);
  const b = g.constant('float32', [n, n], Float32Array.from({ length: n * n }, (_, i) => ((i * 7919) % 1000) / 1000 - 0.5));
  g.output(g.matMul(a, b), 'y', 'float32', [n, n]);
  const session = await ort.InferenceSession.create(serializeModel(g.build()), { intraOpNumThreads: threads, interOpNumThreads: 1 });
  const x = new ort.Tensor('float32', new Float32Array(n * n).fill(0.5), [n, n]);
  return { n, flops: 2 * n ** 3, run: () => session.run({ a: x }), release: () => session.release() };
}

/**
 * The MatMul roof at `threads`: the fastest of several large square MatMuls (the size where MLAS's
 * SGEMM peaks depends on the caches), as a session to time again beside each model. Measured once
 * up front only to pick the size; the roof a model is compared with is timed in the same
 * interleaved rounds as the model, so machine load moves both alike and no model can show above it.
 */
async function matMulRoof(threads) {
  let best;
  for (const n of [256, 384, 512, 768, 1024]) {
    const candidate = await squareMatMul(n, threads);
    const [ms] = await interleavedMedians([candidate.run], { warmup: 3, runs: 9 });
    const gflops = candidate.flops / (ms / 1000) / 1e9;
    if (!best || gflops > best.gflops) {
      await best?.matMul.release();
      best = { matMul: candidate, gflops };
    } else await candidate.release();
  }
  return best.matMul;
}

/** Inference time of random-weight models and the share of the MatMul roof (same threads, same rounds) they achieve. */
export async function run({ log }) {
  const registry = createDefaultRegistry();
  const rows = [];
  for (const threads of [1, 2]) {
    const roof = await matMulRoof(threads);
    log?.(`  MatMul roof at ${threads} thread(s): [${roof.n}, ${roof.n}] square`);
    for (const [name, gmacs] of Object.entries(GMACS)) {
      const { architecture, kwargs } = registry.resolve(name);
      const config = architecture.parseConfig(kwargs);
      // `features`: the whole backbone (with only logits, ViT's last block computes the class token alone, less than the count above)
      const graph = architecture.buildGraph(config, randomStateDict(architecture, config, 3), { outputs: ['features'] });
      const session = await ort.InferenceSession.create(graphBytes(graph), { intraOpNumThreads: threads, interOpNumThreads: 1 });
      const [, , height, width] = graph.inputs[0].shape;
      const x = new ort.Tensor('float32', new Float32Array(3 * height * width).fill(0.1), [1, 3, height, width]);
      const [ms, roofMs] = await interleavedMedians([() => session.run({ pixel_values: x }), roof.run], { runs: 15 });
      await session.release();
      const gflops = (2 * gmacs) / (ms / 1000);
      const roofGflops = roof.flops / (roofMs / 1000) / 1e9;
      rows.push({
        name: `${name} inference, batch 1, ${threads} thread(s)`,
        ours_ms: ms,
        baseline_ms: null,
        ratio: gflops / roofGflops,
        target: 'share of the MatMul roof',
        note: `${gflops.toFixed(1)} GFLOP/s achieved (${gmacs.toFixed(2)} GMACs, features) vs MatMul roof ${roofGflops.toFixed(1)} GFLOP/s ([${roof.n}, ${roof.n}] square, timed in the same rounds)`,
      });
      log?.(`  ${name}: ${ms.toFixed(1)} ms, ${gflops.toFixed(1)} GFLOP/s of ${roofGflops.toFixed(1)}`);
    }
    await roof.release();
  }
  return rows;
}
