// Soups and head training. (1) vitzoo soup of three ViT-B/16-sized random checkpoints, in a child
// process (time and peak RSS), against reading the three files and writing one (the I/O floor).
// (2) train-head on the 1,437 digits training images (embed with the frozen digits ViT + fit the
// head) against embedding the same images alone (the backbone pass a head needs anyway).
import { mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { serializeSafetensors, vit, createDefaultRegistry } from 'vitzoo';
import { embedDataset, loadModel, readImageDataset, trainHead } from '@vitzoo/pipeline/node';
import { nodeBackend } from '@vitzoo/runtime-node';
import { randomStateDict } from './random-weights.mjs';
import { median, medianOf, runChild } from './timing.mjs';

const root = fileURLToPath(new URL('../../../', import.meta.url));

const child = (mode, output, folders) => runChild(new URL('./soup-child.mjs', import.meta.url), [mode, output, ...folders]);

async function soupRows(log) {
  const dir = mkdtempSync(join(tmpdir(), 'vitzoo-bench-soup-'));
  try {
    const kwargs = { img_size: 224, patch_size: 16, embed_dim: 768, depth: 12, num_heads: 12 };
    const config = vit.parseConfig(kwargs);
    const folders = [];
    for (const seed of [11, 12, 13]) {
      const folder = join(dir, `vit-b-${seed}`);
      mkdirSync(folder);
      writeFileSync(join(folder, 'model.safetensors'), serializeSafetensors(randomStateDict(vit, config, seed)));
      writeFileSync(join(folder, 'config.json'), JSON.stringify({ architecture: 'vit_base_patch16_224', num_classes: 1000, model_args: kwargs }));
      folders.push(folder);
    }
    const size = statSync(join(folders[0], 'model.safetensors')).size;
    log?.(`  three ViT-B/16 random checkpoints: ${(size / 1e6).toFixed(0)} MB each`);
    const runs = { soup: [], copy: [] };
    for (let i = 0; i < 3; i++) {
      for (const mode of ['copy', 'soup']) {
        const output = join(dir, `${mode}-${i}`);
        mkdirSync(output);
        runs[mode].push(child(mode, output, folders));
        rmSync(output, { recursive: true, force: true });
      }
    }
    const soupSeconds = medianOf(runs.soup, 'seconds');
    const copySeconds = medianOf(runs.copy, 'seconds');
    const soupRss = medianOf(runs.soup, 'maxRssBytes');
    const copyRss = medianOf(runs.copy, 'maxRssBytes');
    return [
      {
        name: 'soup of three ViT-B/16 checkpoints (read 3, average in float64, write 1)',
        ours_ms: soupSeconds * 1000,
        baseline_ms: copySeconds * 1000,
        ratio: soupSeconds / copySeconds,
        target: '<= 2x the I/O floor',
        note: `baseline: reading the three ${(size / 1e6).toFixed(0)} MB files and writing one; absolute ${soupSeconds.toFixed(2)} s`,
      },
      {
        name: 'soup of three ViT-B/16 checkpoints: peak RSS / one model',
        ours_ms: null,
        baseline_ms: null,
        ratio: soupRss / size,
        target: '<= 1',
        note: `peak RSS ${(soupRss / 1e6).toFixed(0)} MB for three ${(size / 1e6).toFixed(0)} MB models (the I/O floor's child, reading whole files: ${(copyRss / size).toFixed(2)}x)`,
      },
    ];
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function trainHeadRows(log) {
  const registry = createDefaultRegistry();
  const model = await loadModel(join(root, 'models/digits-vit'), { registry, backend: nodeBackend, outputs: ['pre_logits'], batchSize: 64 });
  try {
    const train = await readImageDataset(join(root, 'fixtures/digits/train'));
    log?.(`  digits: ${train.labels.length} training images, frozen digits ViT`);
    const times = { train: [], embed: [] };
    let head;
    for (let i = 0; i < 3; i++) {
      let started = performance.now();
      await embedDataset(model, train);
      times.embed.push(performance.now() - started);
      started = performance.now();
      head = await trainHead(model, train);
      times.train.push(performance.now() - started);
    }
    const [ours, baseline] = [median(times.train), median(times.embed)];
    return [
      {
        name: `train-head on the ${train.labels.length} digits (embed + L-BFGS fit)`,
        ours_ms: ours,
        baseline_ms: baseline,
        ratio: ours / baseline,
        target: '<= 2x the embedding pass',
        note: `baseline: decoding and embedding the same images; the fit took ${head.fit.iterations} L-BFGS iterations (${((ours - baseline) / 1000).toFixed(2)} s)`,
      },
    ];
  } finally {
    await model.dispose();
  }
}

export async function run({ log }) {
  return [...(await soupRows(log)), ...(await trainHeadRows(log))];
}
