import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { convertCheckpoint, graphBytes, parseSafetensors, deit } from 'vitzoo';
import { interleavedMedians } from './timing.mjs';

export const PERF_DIR = process.env.VITZOO_PERF_DIR ?? new URL('../../../../shared/perf/deit_tiny_patch16_224/', import.meta.url).pathname;

/** DeiT-tiny/16 @224: our graph vs the torch-exported ONNX of the same weights, same session options. */
export async function run({ log }) {
  if (!existsSync(join(PERF_DIR, 'reference.onnx'))) {
    return [{ name: 'deit_tiny_patch16_224 vs torch.onnx.export', note: `skipped: ${PERF_DIR} not found (set VITZOO_PERF_DIR)` }];
  }
  const config = JSON.parse(readFileSync(join(PERF_DIR, 'config.json'), 'utf8'));
  const stateDict = parseSafetensors(readFileSync(join(PERF_DIR, 'model.safetensors'))).tensors;
  const io = parseSafetensors(readFileSync(join(PERF_DIR, 'io.safetensors'))).tensors;
  const ours = graphBytes(convertCheckpoint({ architecture: deit, kwargs: config.kwargs, stateDict }));
  const reference = readFileSync(join(PERF_DIR, 'reference.onnx'));
  const rows = [];
  for (const threads of [1, 2]) {
    for (const batch of [1, 2]) {
      const options = { intraOpNumThreads: threads, interOpNumThreads: 1 };
      const [referenceSession, ourSession] = await Promise.all([ort.InferenceSession.create(reference, options), ort.InferenceSession.create(ours, options)]);
      const x = new ort.Tensor('float32', io.pixel_values.data.slice(0, batch * 3 * 224 * 224), [batch, 3, 224, 224]);
      const check = [(await referenceSession.run({ pixel_values: x })).logits.data, (await ourSession.run({ pixel_values: x })).logits.data];
      let diff = 0;
      for (let i = 0; i < check[0].length; i++) diff = Math.max(diff, Math.abs(check[0][i] - check[1][i]));
      const [baseline, mine] = await interleavedMedians([() => referenceSession.run({ pixel_values: x }), () => ourSession.run({ pixel_values: x })], { runs: 25 });
      rows.push({
        name: `deit_tiny_patch16_224 inference, batch ${batch}, ${threads} thread(s)`,
        ours_ms: mine,
        baseline_ms: baseline,
        ratio: mine / baseline,
        target: '<= 0.85',
        note: `baseline: torch.onnx.export graph; max |logit diff| ${diff.toExponential(1)}`,
      });
      log?.(`  ${rows.at(-1).name}: ${mine.toFixed(2)} ms vs ${baseline.toFixed(2)} ms`);
      await referenceSession.release();
      await ourSession.release();
    }
  }
  return rows;
}
