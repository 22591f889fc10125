/**
 * @vitzoo/pipeline with the real architectures: these tests live in the vitzoo package because the
 * architecture packages' own tests use @vitzoo/conformance, which loads cases through the pipeline
 * (a pipeline test depending on them would be a build cycle).
 */
import { readdir, readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parseSafetensors, type Tensor } from '@vitzoo/core';
import { createTransform, loadImage } from '@vitzoo/preprocess/node';
import { nodeBackend } from '@vitzoo/runtime-node';
import { createRegistry } from '@vitzoo/core';
import { cswin } from '@vitzoo/cswin';
import { deit } from '@vitzoo/deit';
import { vit } from '@vitzoo/vit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, type Model } from '@vitzoo/pipeline/node';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const digits = `${root}fixtures/digits/`;
const registry = createRegistry([vit, deit, cswin]);

interface Expected {
  logits: Tensor;
  labels: number[];
  predictions: Record<string, number>;
}

async function expected(model: 'vit' | 'deit'): Promise<Expected> {
  const io = parseSafetensors(await readFile(`${digits}${model}/io.safetensors`)).tensors;
  const predictions = JSON.parse(await readFile(`${digits}${model}/predictions.json`, 'utf8')).predictions as Record<string, number>;
  return { logits: io.logits!, labels: Array.from(io.labels!.data as BigInt64Array, Number), predictions };
}

let files: string[];
let images: Awaited<ReturnType<typeof loadImage>>[];

beforeAll(async () => {
  files = (await readdir(`${digits}test`)).filter((name) => name.endsWith('.png')).sort();
  // Decoded once and shared: the PNG decode is part of the pipeline under test.
  images = await Promise.all(files.map((file) => loadImage(`${digits}test/${file}`)));
});

describe('digits fixtures', () => {
  it('has the 360 test PNGs, named <index>_<label>.png in labels.json order', async () => {
    const labels = JSON.parse(await readFile(`${digits}labels.json`, 'utf8')).labels as Record<string, number>;
    expect(files).toHaveLength(360);
    expect(Object.keys(labels).sort()).toEqual(files);
    for (const file of files) expect(labels[file]).toBe(Number(/_(\d)\.png$/.exec(file)![1]));
  });

  it("the models' preprocessing leaves a 32x32 image untouched: x = (u8 / 255 - 0.5) / 0.5", async () => {
    for (const name of ['digits-vit', 'digits-deit']) {
      const config = JSON.parse(await readFile(`${root}models/${name}/config.json`, 'utf8'));
      const cfg = config.pretrained_cfg;
      const transform = createTransform({ inputSize: cfg.input_size, interpolation: cfg.interpolation, cropPct: cfg.crop_pct, cropMode: cfg.crop_mode, mean: cfg.mean, std: cfg.std });
      let compared = 0;
      let mismatches = 0;
      for (const image of images) {
        expect([image.width, image.height]).toEqual([32, 32]);
        const tensor = transform.apply(image);
        expect(tensor.shape).toEqual([3, 32, 32]);
        for (let channel = 0; channel < 3; channel++) {
          for (let i = 0; i < 32 * 32; i++) {
            const u8 = image.channels === 1 ? image.data[i]! : image.data[i * image.channels + channel]!;
            if (tensor.data[channel * 1024 + i] !== Math.fround((Math.fround(u8 / 255) - 0.5) / 0.5)) mismatches++;
            compared++;
          }
        }
      }
      expect(compared).toBe(360 * 3 * 32 * 32);
      expect(mismatches).toBe(0);
    }
  });
});

for (const [name, fixture, correctCount] of [
  ['digits-vit', 'vit', 348],
  ['digits-deit', 'deit', 342],
] as const) {
  describe(`models/${name}: the full pipeline (PNG decode, preprocessing, model) against torch`, () => {
    let model: Model;
    let reference: Expected;
    beforeAll(async () => {
      model = await loadModel(`${root}models/${name}`, { registry, backend: nodeBackend, outputs: ['logits', 'pre_logits'], batchSize: 128 });
      reference = await expected(fixture);
    });
    afterAll(() => model?.dispose());

    it(`gives torch's argmax on every test PNG, logits within 1e-4, accuracy ${correctCount}/360`, async () => {
      const pixels = model.transform.applyBatch(images);
      const { logits } = await model.forward(pixels, { outputs: ['logits'] });
      expect(logits!.shape).toEqual([360, 10]);
      let maxDiff = 0;
      for (let i = 0; i < logits!.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs((logits!.data[i] as number) - (reference.logits.data[i] as number)));
      expect(maxDiff).toBeLessThanOrEqual(1e-4);
      console.info(`${name}: max |logits - torch| = ${maxDiff.toExponential(2)}`);

      const predictions = await model.classify(images, { topK: 3 });
      expect(predictions).toHaveLength(360);
      let correct = 0;
      files.forEach((file, index) => {
        const best = predictions[index]![0]!;
        expect(best.index, file).toBe(reference.predictions[file]);
        expect(best.label).toBe(String(best.index));
        if (best.index === reference.labels[index]) correct++;
      });
      expect(correct).toBe(correctCount);
    });

    it('scores are the float64 softmax of the logits, best first', async () => {
      const [first] = await model.classify(images[0]!, { topK: 10 });
      const row = Array.from(reference.logits.data.subarray(0, 10) as Float32Array);
      const max = Math.max(...row);
      const sum = row.reduce((total, value) => total + Math.exp(value - max), 0);
      expect(first).toHaveLength(10);
      for (const prediction of first!) expect(prediction.score).toBeCloseTo(Math.exp(row[prediction.index]! - max) / sum, 5);
      for (let i = 1; i < first!.length; i++) expect(first![i]!.score).toBeLessThanOrEqual(first![i - 1]!.score);
      expect(first!.reduce((total, p) => total + p.score, 0)).toBeCloseTo(1, 12);
    });

    it('embeds: pre_logits [N, 64], L2-normalised on request', async () => {
      const raw = await model.embed(images.slice(0, 5));
      const unit = await model.embed(images.slice(0, 5), { normalize: true });
      expect(raw.shape).toEqual([5, 64]);
      for (let row = 0; row < 5; row++) {
        const vector = raw.data.subarray(row * 64, (row + 1) * 64);
        const norm = Math.sqrt(vector.reduce((total, value) => total + value * value, 0));
        let squared = 0;
        for (let i = 0; i < 64; i++) {
          expect(unit.data[row * 64 + i]).toBeCloseTo(vector[i]! / norm, 6);
          squared += unit.data[row * 64 + i]! ** 2;
        }
        expect(squared).toBeCloseTo(1, 5);
      }
    });
  });
}
