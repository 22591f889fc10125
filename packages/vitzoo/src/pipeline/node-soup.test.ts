import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { IncompatibleModelsError, InvalidArgumentError, UnsupportedError, maxAbsDifference, parseSafetensors, type Tensor } from '@vitzoo/core';
import { nodeBackend } from '@vitzoo/runtime-node';
import { createDefaultRegistry } from '../index.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadModel, readImageDataset, readImageFile, soupModels } from '@vitzoo/pipeline/node';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const soups = join(root, 'fixtures/soups');
const registry = createDefaultRegistry();
const recorded = JSON.parse(readFileSync(join(soups, 'soups.json'), 'utf8')) as {
  held_out: { files: string[] };
  ingredients: Record<string, { val_correct: number; test_correct: number }>;
  greedy: { order: string[]; chosen: string[]; val_correct: number; test_correct: number };
  uniform: { test_correct: number };
};
const expected = parseSafetensors(readFileSync(join(soups, 'expected.safetensors'))).tensors;

let scratch: string;
let heldOutDir: string;
let testImages: Awaited<ReturnType<typeof readImageFile>>[];
let testLabels: number[];

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'vitzoo-soup-'));
  // The held-out images are a list of digits/train files in soups.json: gathered into a folder here.
  heldOutDir = join(scratch, 'held-out');
  mkdirSync(heldOutDir);
  for (const file of recorded.held_out.files) copyFileSync(join(root, 'fixtures/digits/train', file), join(heldOutDir, file));
  const files = readdirSync(join(root, 'fixtures/digits/test')).filter((name) => name.endsWith('.png')).sort();
  testImages = await Promise.all(files.map((file) => readImageFile(join(root, 'fixtures/digits/test', file))));
  testLabels = files.map((file) => Number(/_(\d)\.png$/.exec(file)![1]));
  expect(Array.from(expected.labels!.data as BigInt64Array, Number)).toEqual(testLabels);
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Loads a soup folder as any model folder and compares its test logits with the reference soup's. */
async function checkAgainstReference(dir: string, reference: Tensor, correctCount: number) {
  const model = await loadModel(dir, { registry, backend: nodeBackend, batchSize: 360 });
  try {
    const logits = (await model.forward(model.transform.applyBatch(testImages), { outputs: ['logits'] })).logits!;
    expect(maxAbsDifference(logits, reference)).toBeLessThanOrEqual(1e-4);
    const argmax = (tensor: Tensor, row: number) => {
      const values = Array.from((tensor.data as Float32Array).subarray(row * 10, row * 10 + 10));
      return values.indexOf(Math.max(...values));
    };
    let correct = 0;
    for (let row = 0; row < 360; row += 1) {
      expect(argmax(logits, row)).toBe(argmax(reference, row));
      if (argmax(logits, row) === testLabels[row]) correct += 1;
    }
    expect(correct).toBe(correctCount);
  } finally {
    await model.dispose();
  }
}

describe('soupModels (fixtures/soups: three fine-tunes of the digits ViT)', () => {
  const ingredients = ['a', 'b', 'c'].map((name) => join(soups, name));

  it('uniform soup: a model folder whose test logits are the reference soup\'s (≤ 1e-4, every argmax equal, 349/360)', async () => {
    const outDir = join(scratch, 'uniform');
    const events: number[] = [];
    const report = await soupModels(ingredients, { outDir, registry, progress: (event) => event.stage === 'soup' && events.push(event.loaded!) });
    expect(report.method).toBe('uniform');
    expect(report.chosen.map((name) => basename(name))).toEqual(['a', 'b', 'c']);
    expect(events.at(-1)).toBe(Object.keys(parseSafetensors(readFileSync(join(soups, 'a/model.safetensors'))).tensors).length);
    const config = JSON.parse(readFileSync(join(outDir, 'config.json'), 'utf8'));
    const first = JSON.parse(readFileSync(join(soups, 'a/config.json'), 'utf8'));
    expect(config.kwargs).toEqual(first.kwargs);
    expect(config.soup).toMatchObject({ method: 'uniform', ingredients });
    await checkAgainstReference(outDir, expected.uniform_logits!, recorded.uniform.test_correct);
  });

  it('greedy soup on the held-out files: the recorded order, choice and counts; logits equal to the reference greedy soup', async () => {
    const outDir = join(scratch, 'greedy');
    const heldOut = await readImageDataset(heldOutDir);
    expect(heldOut.labels).toHaveLength(288);
    const report = await soupModels(ingredients, { outDir, registry, backend: nodeBackend, heldOut });
    const short = (names: readonly string[]) => names.map((name) => basename(name));
    expect(short(report.order!)).toEqual(recorded.greedy.order);
    expect(short(report.chosen)).toEqual(recorded.greedy.chosen);
    for (const entry of report.ingredients) expect(entry.score).toBe(recorded.ingredients[basename(entry.name)]!.val_correct);
    expect(report.heldOut).toEqual({ total: 288, correct: recorded.greedy.val_correct });
    expect(report.steps!.map((step) => [basename(step.ingredient), step.kept])).toEqual([['b', true], ['a', true], ['c', false]]);
    const config = JSON.parse(readFileSync(join(outDir, 'config.json'), 'utf8'));
    expect(short(config.soup.chosen)).toEqual(['b', 'a']);
    await checkAgainstReference(outDir, expected.greedy_logits!, recorded.greedy.test_correct);
  });

  it('mixes folders with bare .safetensors files and keeps the first folder\'s config', async () => {
    const outDir = join(scratch, 'mixed');
    const report = await soupModels([join(soups, 'b/model.safetensors'), join(soups, 'a'), join(soups, 'c')], { outDir, registry });
    expect(report.ingredients.map((entry) => entry.weights)).toEqual(['b', 'a', 'c'].map((name) => join(soups, name, 'model.safetensors')));
    expect(JSON.parse(readFileSync(join(outDir, 'config.json'), 'utf8')).fine_tune).toEqual(JSON.parse(readFileSync(join(soups, 'a/config.json'), 'utf8')).fine_tune);
    // The same three models in another order: the uniform soup's weights (checked against the reference above).
    const weights = (dir: string) => parseSafetensors(readFileSync(join(dir, 'model.safetensors'))).tensors;
    const [mixed, uniform] = [weights(outDir), weights(join(scratch, 'uniform'))];
    expect(Object.keys(mixed).sort()).toEqual(Object.keys(uniform).sort());
    for (const [key, tensor] of Object.entries(uniform)) expect(maxAbsDifference(mixed[key]!, tensor), key).toBeLessThanOrEqual(1e-7);
  });

  it('refuses models of another shape with an IncompatibleModelsError listing the differences, writing nothing', async () => {
    const outDir = join(scratch, 'refused');
    const error = await soupModels([join(soups, 'a'), join(root, 'models/digits-deit')], { outDir, registry }).catch((caught: unknown) => caught);
    expect(IncompatibleModelsError.isInstance(error)).toBe(true);
    const { differences } = error as IncompatibleModelsError;
    expect(differences.map((d) => d.field)).toEqual(expect.arrayContaining(['architecture']));
    expect(readdirSync(scratch)).not.toContain('refused');
    // Same architecture, other shapes: every tensor that differs is named.
    const bigger = await soupModels([join(soups, 'a'), join(root, 'fixtures/models/vit_tiny')], { outDir, registry }).catch((caught: unknown) => caught);
    expect(IncompatibleModelsError.isInstance(bigger)).toBe(true);
    expect((bigger as IncompatibleModelsError).differences.map((d) => d.field)).toEqual(expect.arrayContaining(['config.embedDim', 'pos_embed']));
  });

  it('never writes into an ingredient\'s folder or a non-empty folder (unless overwrite), and needs one model folder for the config', async () => {
    await expect(soupModels([join(soups, 'a'), join(soups, 'b')], { outDir: join(soups, 'a'), registry, overwrite: true })).rejects.toSatisfy(
      (error: unknown) => InvalidArgumentError.isInstance(error) && /one of the models read/.test((error as Error).message),
    );
    const busy = join(scratch, 'busy');
    mkdirSync(busy);
    writeFileSync(join(busy, 'notes.txt'), 'mine');
    await expect(soupModels([join(soups, 'a')], { outDir: busy, registry })).rejects.toSatisfy((error: unknown) => InvalidArgumentError.isInstance(error) && /not empty/.test((error as Error).message));
    expect(readdirSync(busy)).toEqual(['notes.txt']);
    await soupModels([join(soups, 'a')], { outDir: busy, registry, overwrite: true });
    expect(readdirSync(busy).sort()).toEqual(['config.json', 'model.safetensors', 'notes.txt']);
    await expect(soupModels([join(soups, 'a/model.safetensors')], { outDir: join(scratch, 'bare'), registry })).rejects.toSatisfy(
      (error: unknown) => InvalidArgumentError.isInstance(error) && /model folder/.test((error as Error).message),
    );
  });

  it('reads .pth ingredients whole (the safe PyTorch reader): a folder and its own legacy .pth soup to the same weights', async () => {
    const outDir = join(scratch, 'pth');
    const caseDir = join(root, 'fixtures/models/vit_tiny');
    await soupModels([caseDir, join(caseDir, 'model_legacy.pth')], { outDir, registry });
    const original = parseSafetensors(readFileSync(join(caseDir, 'model.safetensors'))).tensors;
    const soup = parseSafetensors(readFileSync(join(outDir, 'model.safetensors'))).tensors;
    expect(Object.keys(soup).sort()).toEqual(Object.keys(original).sort());
    for (const [key, tensor] of Object.entries(original)) expect(maxAbsDifference(soup[key]!, tensor), key).toBe(0); // (x + x) / 2 = x exactly
  });

  it('an ONNX-layout folder is no ingredient', async () => {
    const onnxDir = join(scratch, 'onnx-model');
    mkdirSync(join(onnxDir, 'onnx'), { recursive: true });
    writeFileSync(join(onnxDir, 'config.json'), JSON.stringify({ model_type: 'vit', id2label: { 0: 'a' } }));
    writeFileSync(join(onnxDir, 'preprocessor_config.json'), '{}');
    writeFileSync(join(onnxDir, 'onnx/model.onnx'), new Uint8Array(4));
    await expect(soupModels([join(soups, 'a'), onnxDir], { outDir: join(scratch, 'never'), registry })).rejects.toSatisfy(UnsupportedError.isInstance);
  });
});

