import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CheckpointMismatchError, InvalidArgumentError, createTensor, parseSafetensors, type Tensor } from '@vitzoo/core';
import { nodeBackend } from '@vitzoo/runtime-node';
import { createDefaultRegistry } from '../index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  countLinearCorrect,
  embedDataset,
  firstPerClass,
  fitLogisticRegression,
  labelledImages,
  loadModel,
  readImageDataset,
  readModelFolder,
  replaceHead,
  trainHead,
  writeTrainedModelFolder,
  type ImageDataset,
  type Model,
} from '@vitzoo/pipeline/node';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const registry = createDefaultRegistry();
const probe = JSON.parse(readFileSync(join(root, 'fixtures/digits/probe.json'), 'utf8')) as { test_correct: number; twenty_per_class: { test_correct: number } };

/** Deterministic pseudo-random numbers in [-0.5, 0.5) (xorshift32). */
function random(seed: number): () => number {
  let state = seed >>> 0 || 1;
  return () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296 - 0.5;
  };
}

/**
 * An independent float64 implementation of the objective Σ CE + ‖W‖²/(2C) and its gradient,
 * written plainly (explicit softmax over a copy, no shared code with train-head.ts).
 */
function reference(x: number[][], y: number[], weight: number[][], bias: number[], C: number) {
  const classes = bias.length;
  const gradW = weight.map((row) => row.map(() => 0));
  const gradB = bias.map(() => 0);
  let value = 0;
  x.forEach((row, n) => {
    const z = weight.map((w, c) => bias[c]! + w.reduce((sum, wi, d) => sum + wi * row[d]!, 0));
    const top = Math.max(...z);
    const exps = z.map((v) => Math.exp(v - top));
    const total = exps.reduce((a, b) => a + b, 0);
    const p = exps.map((e) => e / total);
    value += -Math.log(p[y[n]!]!);
    for (let c = 0; c < classes; c++) {
      const r = p[c]! - (c === y[n] ? 1 : 0);
      gradB[c]! += r;
      row.forEach((xd, d) => (gradW[c]![d]! += r * xd));
    }
  });
  weight.forEach((row, c) =>
    row.forEach((w, d) => {
      value += (w * w) / (2 * C);
      gradW[c]![d]! += w / C;
    }),
  );
  return { value, gradW, gradB };
}

function rows(flat: ArrayLike<number>, width: number): number[][] {
  return Array.from({ length: flat.length / width }, (_, r) => Array.from({ length: width }, (_, d) => flat[r * width + d]!));
}

describe('fitLogisticRegression (multinomial, L2 on the weights, L-BFGS)', () => {
  it('matches the optimum of a symmetric two-point problem: a / C = 2 / (1 + e^{2a})', () => {
    // x = +1 is class 0, x = -1 is class 1. By symmetry w1 = -w0 = -a and b = 0, and the objective
    // 2·log(1 + e^{-2a}) + a²/C is stationary where a/C = 2 / (1 + e^{2a}): solved here by bisection.
    for (const C of [1, 0.1, 10]) {
      let low = 0;
      let high = 10;
      for (let i = 0; i < 200; i++) {
        const mid = (low + high) / 2;
        if (mid / C - 2 / (1 + Math.exp(2 * mid)) < 0) low = mid;
        else high = mid;
      }
      const fit = fitLogisticRegression([1, -1], [0, 1], 2, { C, tolerance: 1e-12 });
      expect(fit.converged).toBe(true);
      expect(fit.weight[0]).toBeCloseTo(low, 9);
      expect(fit.weight[1]).toBeCloseTo(-low, 9);
      expect(Math.abs(fit.bias[0]!) + Math.abs(fit.bias[1]!)).toBeLessThan(1e-9);
      expect(fit.objective).toBeCloseTo(2 * Math.log(1 + Math.exp(-2 * low)) + (low * low) / C, 10);
    }
  });

  it('reaches the stationary point of an independent implementation on a random 4-class problem, deterministically', () => {
    const next = random(7);
    const [count, width, classes] = [120, 6, 4];
    const centres = Array.from({ length: classes }, () => Array.from({ length: width }, () => next() * 3));
    const y = Array.from({ length: count }, (_, n) => n % classes);
    const x = y.map((label) => centres[label]!.map((c) => c + next() * 2.5)); // overlapping classes
    for (const C of [1, 0.05]) {
      const fit = fitLogisticRegression(x.flat(), y, classes, { C });
      expect(fit.converged).toBe(true);
      const weight = rows(fit.weight, width);
      const bias = Array.from(fit.bias);
      const at = reference(x, y, weight, bias, C);
      const largest = Math.max(...at.gradW.flat().map(Math.abs), ...at.gradB.map(Math.abs));
      expect(largest / count).toBeLessThan(1e-7); // the minimum of a convex function: the gradient vanishes
      expect(fit.objective).toBeCloseTo(at.value, 8);
      // The reference's gradient is itself checked against central differences of its objective.
      const probe = weight.map((row) => row.map((w) => w + 0.3));
      const analytic = reference(x, y, probe, bias, C).gradW[1]![2]!;
      const step = 1e-6;
      const plus = probe.map((row) => [...row]);
      plus[1]![2]! += step;
      const minus = probe.map((row) => [...row]);
      minus[1]![2]! -= step;
      expect((reference(x, y, plus, bias, C).value - reference(x, y, minus, bias, C).value) / (2 * step)).toBeCloseTo(analytic, 5);
    }
    const again = fitLogisticRegression(x.flat(), y, classes);
    expect(Array.from(again.weight)).toEqual(Array.from(fitLogisticRegression(x.flat(), y, classes).weight));
  });

  it('refuses bad input with typed errors', () => {
    expect(() => fitLogisticRegression([1, 2], [0, 1], 1)).toThrow(InvalidArgumentError);
    expect(() => fitLogisticRegression([1, 2], [0, 2], 2)).toThrow(/label 2/);
    expect(() => fitLogisticRegression([1, 2, 3], [0, 1], 2)).toThrow(/rows/);
    expect(() => fitLogisticRegression([1, Number.NaN], [0, 1], 2)).toThrow(/finite/);
    expect(() => fitLogisticRegression([1, 2], [0, 1], 2, { C: 0 })).toThrow(/C/);
    expect(() => fitLogisticRegression([], [], 2)).toThrow(InvalidArgumentError);
  });
});

describe('replaceHead finds the classifier from the architecture', () => {
  const head = (classes: number, features: number): [Tensor, Tensor] => [
    createTensor('float32', [classes, features], new Float32Array(classes * features).fill(0.5)),
    createTensor('float32', [classes], new Float32Array(classes).fill(-1)),
  ];
  it.each([
    ['vit_tiny', ['head.bias', 'head.weight']],
    ['deit_distilled', ['head.bias', 'head.weight', 'head_dist.bias', 'head_dist.weight']],
    ['swin_tiny', ['head.fc.bias', 'head.fc.weight']],
    ['cait_tiny', ['head.bias', 'head.weight']],
  ])('%s: %j get the new head; everything else is the backbone\'s', (name, keys) => {
    const dir = join(root, 'fixtures/models', name);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
    const stateDict = parseSafetensors(readFileSync(join(dir, 'model.safetensors'))).tensors;
    const architecture = registry.architecture(config.architecture);
    const features = stateDict[keys.find((key) => key.endsWith('weight'))!]!.shape[1]!;
    const [weight, bias] = head(3, features);
    const replaced = replaceHead({ architecture, kwargs: config.kwargs, stateDict, weight, bias });
    expect(replaced.headKeys.sort()).toEqual(keys);
    expect(replaced.kwargs.num_classes).toBe(3);
    for (const key of keys) expect(replaced.stateDict[key]).toBe(key.endsWith('weight') ? weight : bias);
    for (const [key, tensor] of Object.entries(replaced.stateDict)) if (!keys.includes(key)) expect(tensor).toBe(stateDict[key]);
    const [wrong, wrongBias] = head(3, features + 1);
    expect(() => replaceHead({ architecture, kwargs: config.kwargs, stateDict, weight: wrong, bias: wrongBias })).toThrow(/pre_logits/);
    const partial = { ...stateDict };
    delete partial[Object.keys(partial).find((key) => !keys.includes(key))!];
    expect(() => replaceHead({ architecture, kwargs: config.kwargs, stateDict: partial, weight, bias })).toThrow(CheckpointMismatchError);
  });
});

describe('trainHead on the frozen digits ViT (models/digits-vit) against the scikit-learn probe', () => {
  let scratch: string;
  let vit: Model;
  let train: ImageDataset;
  let test: ImageDataset;
  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'vitzoo-train-head-'));
    vit = await loadModel(join(root, 'models/digits-vit'), { registry, backend: nodeBackend, outputs: ['pre_logits'], batchSize: 128 });
    train = await readImageDataset(join(root, 'fixtures/digits/train'));
    test = await readImageDataset(join(root, 'fixtures/digits/test'));
  });
  afterAll(async () => {
    await vit?.dispose();
    rmSync(scratch, { recursive: true, force: true });
  });

  it(`all 1,437 training images: within 1 point of the probe's ${probe.test_correct}/360 on the test set`, async () => {
    expect(train.labels).toHaveLength(1437);
    expect(train.classNames).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    const events: { loaded?: number; total?: number }[] = [];
    const head = await trainHead(vit, train, { validation: test, progress: (event) => event.stage === 'embed' && events.push(event) });
    expect(head.fit.converged).toBe(true);
    expect(Math.abs(head.validation!.correct - probe.test_correct)).toBeLessThanOrEqual(3.6); // 1 point of 360 images
    expect(head.validation!.total).toBe(360);
    expect(events.at(-1)).toEqual({ stage: 'embed', loaded: 1797, total: 1797 });
    expect(events.map((event) => event.loaded)).toEqual([...events.map((event) => event.loaded)].sort((a, b) => a! - b!));
    expect(head.train.correct / head.train.total).toBeGreaterThan(0.98);
    expect(head.weight.shape).toEqual([10, 64]);
  });

  it(`the first 20 images of each class: within 2 points of the probe's ${probe.twenty_per_class.test_correct}/360; the folder it writes classifies the same`, async () => {
    const subset = firstPerClass(train, 20);
    expect(subset.labels).toHaveLength(200);
    // the first 20 of each class in sorted file-name order
    const byClass = new Map<number, string[]>();
    train.names.forEach((name, i) => byClass.set(train.labels[i]!, [...(byClass.get(train.labels[i]!) ?? []), name]));
    expect(subset.names).toEqual(train.names.filter((name, i) => byClass.get(train.labels[i]!)!.indexOf(name) < 20));
    const head = await trainHead(vit, subset, { validation: test });
    expect(Math.abs(head.validation!.correct - probe.twenty_per_class.test_correct)).toBeLessThanOrEqual(7.2); // 2 points of 360
    expect(head.train).toEqual({ correct: 200, total: 200, accuracy: 1 });

    const outDir = join(scratch, 'vit-head');
    const written = await writeTrainedModelFolder(await readModelFolder(join(root, 'models/digits-vit'), registry), head, outDir, { record: { train: 'digits/train, 20 per class' } });
    expect(written.headKeys.sort()).toEqual(['head.bias', 'head.weight']);
    const config = JSON.parse(readFileSync(join(outDir, 'config.json'), 'utf8'));
    expect(config.num_classes).toBe(10);
    expect(config.pretrained_cfg.label_names).toEqual(head.classNames);
    expect(config.train_head).toMatchObject({ train: 'digits/train, 20 per class', train_accuracy: head.train, validation_accuracy: head.validation, C: 1, converged: true });
    expect(config.test_accuracy).toBeUndefined();
    // The trained folder is a model folder: its logits are W·pre_logits + b, and it classifies as the head did.
    const trained = await loadModel(outDir, { registry, backend: nodeBackend, outputs: ['logits', 'pre_logits'], batchSize: 360 });
    try {
      const images = await Promise.all(test.labels.map((_, i) => test.image(i)));
      const { logits, pre_logits: features } = await trained.forward(trained.transform.applyBatch(images));
      let largest = 0;
      for (let n = 0; n < 360; n++) {
        for (let c = 0; c < 10; c++) {
          let value = head.bias.data[c]!;
          for (let d = 0; d < 64; d++) value += head.weight.data[c * 64 + d]! * (features!.data as Float32Array)[n * 64 + d]!;
          largest = Math.max(largest, Math.abs(value - (logits!.data[n * 10 + c] as number)));
        }
      }
      expect(largest).toBeLessThan(1e-4);
      expect(countLinearCorrect(head.weight.data, head.bias.data, features!.data as Float32Array, test.labels)).toBe(head.validation!.correct);
      const predictions = await trained.classify(images, { topK: 1 });
      expect(predictions.filter(([top], i) => top!.index === test.labels[i]).length).toBe(head.validation!.correct);
    } finally {
      await trained.dispose();
    }
  });

  it('a distilled DeiT backbone gets the head in both heads, so its logits are W·pre_logits + b', async () => {
    const deit = await loadModel(join(root, 'models/digits-deit'), { registry, backend: nodeBackend, outputs: ['pre_logits'], batchSize: 200 });
    const subset = firstPerClass(train, 5);
    const head = await trainHead(deit, subset);
    await deit.dispose();
    const outDir = join(scratch, 'deit-head');
    const written = await writeTrainedModelFolder(await readModelFolder(join(root, 'models/digits-deit'), registry), head, outDir);
    expect(written.headKeys.sort()).toEqual(['head.bias', 'head.weight', 'head_dist.bias', 'head_dist.weight']);
    const trained = await loadModel(outDir, { registry, backend: nodeBackend, outputs: ['logits', 'pre_logits'] });
    try {
      const images = await Promise.all(subset.labels.map((_, i) => subset.image(i)));
      const { logits, pre_logits: features } = await trained.forward(trained.transform.applyBatch(images));
      const expected = new Float32Array(images.length * 10);
      for (let n = 0; n < images.length; n++) {
        for (let c = 0; c < 10; c++) {
          let value = head.bias.data[c]!;
          for (let d = 0; d < 64; d++) value += head.weight.data[c * 64 + d]! * (features!.data as Float32Array)[n * 64 + d]!;
          expected[n * 10 + c] = value;
        }
      }
      expect(Math.max(...Array.from(expected, (v, i) => Math.abs(v - (logits!.data[i] as number))))).toBeLessThan(1e-4);
    } finally {
      await trained.dispose();
    }
  });

  it('refuses datasets it cannot train on, and validation classes the training set lacks', async () => {
    const image = await train.image(0);
    await expect(trainHead(vit, labelledImages([image], [3], ['a', 'b']))).rejects.toThrow(/label 3/);
    await expect(trainHead(vit, labelledImages([image, image], [0, 0], ['only']))).rejects.toThrow(/at least 2 classes/);
    const two = labelledImages([image, image], [0, 1], ['a', 'b']);
    await expect(trainHead(vit, two, { validation: labelledImages([image], [0], ['c']) })).rejects.toThrow(/class 'c'/);
    await expect(trainHead(vit, labelledImages([], [], ['a', 'b']))).rejects.toThrow(/no images/);
    const withoutPreLogits = await loadModel(join(root, 'models/digits-vit'), { registry, backend: nodeBackend });
    await expect(trainHead(withoutPreLogits, two)).rejects.toThrow(/pre_logits/);
    await withoutPreLogits.dispose();
    const embedded = await embedDataset(vit, two);
    expect(embedded.shape).toEqual([2, 64]);
  });
});
