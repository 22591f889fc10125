import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IncompatibleModelsError, InvalidArgumentError, createTensor, parseSafetensors } from '@vitzoo/core';
import { nodeBackend } from '@vitzoo/runtime-node';
import { createDefaultRegistry } from '../index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModel, createEnsemble, loadModel, readImageFile, type Ensemble, type Model } from '@vitzoo/pipeline/node';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const registry = createDefaultRegistry();
const files = readdirSync(join(root, 'fixtures/digits/test')).filter((name) => name.endsWith('.png')).sort();
const labels = files.map((file) => Number(/_(\d)\.png$/.exec(file)![1]));
/** torch's logits of each member on the test images (fixtures/digits/<model>/io.safetensors), independent of our runtime. */
const torchLogits = (name: 'vit' | 'deit') => parseSafetensors(readFileSync(join(root, `fixtures/digits/${name}/io.safetensors`))).tensors.logits!.data as Float32Array;

function softmax(row: ArrayLike<number>): number[] {
  const values = Array.from(row);
  const top = Math.max(...values);
  const exps = values.map((v) => Math.exp(v - top));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

let vit: Model;
let deit: Model;
let images: Awaited<ReturnType<typeof readImageFile>>[];
let ensemble: Ensemble;

beforeAll(async () => {
  vit = await loadModel(join(root, 'models/digits-vit'), { registry, backend: nodeBackend, outputs: ['logits', 'pre_logits'], batchSize: 180 });
  deit = await loadModel(join(root, 'models/digits-deit'), { registry, backend: nodeBackend, outputs: ['logits', 'pre_logits'], batchSize: 100 });
  images = await Promise.all(files.map((file) => readImageFile(join(root, 'fixtures/digits/test', file))));
  ensemble = createEnsemble([vit, deit]);
});
afterAll(async () => {
  await ensemble?.dispose();
});

describe('an ensemble of the digits ViT and DeiT', () => {
  it.each(['mean-probs', 'mean-logits'] as const)('%s: scores are the combination of torch\'s member outputs (≤ 1e-5); accuracy on the 360 test digits', async (combine) => {
    const members = createEnsemble([vit, deit], { combine });
    const predictions = await members.classify(images, { topK: 10 });
    const [a, b] = [torchLogits('vit'), torchLogits('deit')];
    let largest = 0;
    let correct = 0;
    let expectedCorrect = 0;
    predictions.forEach((list, row) => {
      const slice = (data: Float32Array) => data.subarray(row * 10, row * 10 + 10);
      const expected =
        combine === 'mean-probs'
          ? softmax(slice(a)).map((p, c) => (p + softmax(slice(b))[c]!) / 2)
          : softmax(Array.from(slice(a), (v, c) => (v + slice(b)[c]!) / 2));
      for (const prediction of list) largest = Math.max(largest, Math.abs(prediction.score - expected[prediction.index]!));
      expect(list.map((p) => p.index).sort()).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
      if (list[0]!.index === labels[row]) correct += 1;
      if (expected.indexOf(Math.max(...expected)) === labels[row]) expectedCorrect += 1;
    });
    expect(largest).toBeLessThan(1e-5);
    // The accuracy in the README (mean-probs 348/360, mean-logits 349/360; members ViT 348, DeiT 342) is torch's combination's.
    expect(correct).toBe(expectedCorrect);
  });

  it('embeds side by side (concat) or averaged (mean), each member on its own preprocessing', async () => {
    const some = images.slice(0, 7);
    const [a, b] = [await vit.embed(some), await deit.embed(some)];
    const concat = await ensemble.embed(some);
    expect(concat.shape).toEqual([7, 128]);
    for (let row = 0; row < 7; row++) {
      expect(Array.from(concat.data.subarray(row * 128, row * 128 + 64))).toEqual(Array.from(a.data.subarray(row * 64, row * 64 + 64)));
      expect(Array.from(concat.data.subarray(row * 128 + 64, row * 128 + 128))).toEqual(Array.from(b.data.subarray(row * 64, row * 64 + 64)));
    }
    const mean = await createEnsemble([vit, deit], { embed: 'mean' }).embed(some, { normalize: true });
    expect(mean.shape).toEqual([7, 64]);
    for (let row = 0; row < 7; row++) {
      const raw = Array.from({ length: 64 }, (_, i) => (a.data[row * 64 + i]! + b.data[row * 64 + i]!) / 2);
      const norm = Math.hypot(...raw);
      for (let i = 0; i < 64; i++) expect(mean.data[row * 64 + i]).toBeCloseTo(raw[i]! / norm, 6);
    }
  });

  it('refuses preprocessed tensors, members with other classes, and bad options', async () => {
    await expect(ensemble.classify(vit.transform.applyBatch(images.slice(0, 2)))).rejects.toSatisfy(
      (error: unknown) => InvalidArgumentError.isInstance(error) && /preprocesses images for each member/.test((error as Error).message),
    );
    // Other class names: refused when the ensemble is made.
    const named = await loadModel(join(root, 'models/digits-vit'), { registry, backend: nodeBackend, labelNames: ['zero', '1', '2', '3', '4', '5', '6', '7', '8', '9'] });
    const renamed = (() => {
      try {
        return createEnsemble([vit, named]);
      } catch (caught) {
        return caught;
      }
    })();
    expect(IncompatibleModelsError.isInstance(renamed)).toBe(true);
    expect((renamed as IncompatibleModelsError).differences).toEqual([{ model: 'member 2', field: 'class 0', expected: '"0"', actual: '"zero"' }]);
    await named.dispose();
    // Another number of classes: a 3-class head on the digits ViT.
    const config = JSON.parse(readFileSync(join(root, 'fixtures/soups/a/config.json'), 'utf8'));
    const stateDict = parseSafetensors(readFileSync(join(root, 'fixtures/soups/a/model.safetensors'))).tensors;
    const three = await buildModel({
      registry,
      backend: nodeBackend,
      architecture: 'vit',
      kwargs: { ...config.kwargs, num_classes: 3 },
      stateDict: { ...stateDict, 'head.weight': createTensor('float32', [3, 64]), 'head.bias': createTensor('float32', [3]) },
      pretrained: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], cropPct: 1 },
    });
    expect(() => createEnsemble([vit, three])).toThrow(IncompatibleModelsError);
    await three.dispose();
    expect(() => createEnsemble([])).toThrow(InvalidArgumentError);
    expect(() => createEnsemble([vit], { combine: 'vote' as never })).toThrow(/combine/);
  });
});
