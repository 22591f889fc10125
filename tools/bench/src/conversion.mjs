import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serializeSafetensors, vit } from 'vitzoo';
import { randomStateDict } from './random-weights.mjs';
import { medianOf, runChild } from './timing.mjs';

const child = (mode, weights, output) => runChild(new URL('./convert-child.mjs', import.meta.url), [mode, weights, output]);

/** ViT-B/16 conversion of random weights: time and peak RSS, against copying the same file. */
export async function run({ log }) {
  const dir = mkdtempSync(join(tmpdir(), 'vitzoo-bench-'));
  try {
    const config = vit.parseConfig({ img_size: 224, patch_size: 16, embed_dim: 768, depth: 12, num_heads: 12 });
    const weights = join(dir, 'model.safetensors');
    writeFileSync(weights, serializeSafetensors(randomStateDict(vit, config, 7)));
    const size = statSync(weights).size;
    log?.(`  ViT-B/16 random weights: ${(size / 1e6).toFixed(0)} MB`);
    const runs = { convert: [], copy: [] };
    for (let i = 0; i < 3; i++) {
      runs.copy.push(child('copy', weights, join(dir, 'copy.safetensors')));
      runs.convert.push(child('convert', weights, join(dir, 'model.onnx')));
    }
    const convertSeconds = medianOf(runs.convert, 'seconds');
    const copySeconds = medianOf(runs.copy, 'seconds');
    const convertRss = medianOf(runs.convert, 'maxRssBytes');
    const copyRss = medianOf(runs.copy, 'maxRssBytes');
    return [
      {
        name: 'ViT-B/16 conversion time (read + build + write .onnx)',
        ours_ms: convertSeconds * 1000,
        baseline_ms: copySeconds * 1000,
        ratio: convertSeconds / copySeconds,
        target: '<= 3 s',
        note: `baseline: reading and writing the same ${(size / 1e6).toFixed(0)} MB file; absolute ${convertSeconds.toFixed(2)} s`,
      },
      {
        name: 'ViT-B/16 conversion peak RSS / weights size',
        ours_ms: null,
        baseline_ms: null,
        ratio: convertRss / size,
        target: '<= 2',
        note: `peak RSS ${(convertRss / 1e6).toFixed(0)} MB (file copy: ${(copyRss / 1e6).toFixed(0)} MB = ${(copyRss / size).toFixed(2)}x) for ${(size / 1e6).toFixed(0)} MB of weights`,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
