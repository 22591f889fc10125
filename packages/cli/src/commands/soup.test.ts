import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { maxAbsDifference, parseSafetensors, type Tensor } from '@vitzoo/core';
import { loadModel, readImageFile } from '@vitzoo/pipeline/node';
import { nodeBackend } from '@vitzoo/runtime-node';
import { createDefaultRegistry } from 'vitzoo';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli } from '../test-cli.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const soups = join(root, 'fixtures/soups');
const recorded = JSON.parse(readFileSync(join(soups, 'soups.json'), 'utf8'));
const expected = parseSafetensors(readFileSync(join(soups, 'expected.safetensors'))).tensors;
const testFiles = readdirSync(join(root, 'fixtures/digits/test')).filter((name) => name.endsWith('.png')).sort();

let scratch: string;
let heldOut: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'vitzoo-cli-soup-'));
  heldOut = join(scratch, 'held-out');
  mkdirSync(heldOut);
  for (const file of recorded.held_out.files as string[]) copyFileSync(join(root, 'fixtures/digits/train', file), join(heldOut, file));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const cli = (args: string[], cwd = root) => runCli(args, cwd);

const argmax = (tensor: Tensor, row: number) => {
  const values = Array.from((tensor.data as Float32Array).subarray(row * 10, row * 10 + 10));
  return values.indexOf(Math.max(...values));
};

/** The folder's test logits against the reference soup's; then `vitzoo classify` on it prints the same top-1 for every image. */
async function checkFolder(dir: string, reference: Tensor, testCorrect: number) {
  const model = await loadModel(dir, { registry: createDefaultRegistry(), backend: nodeBackend, batchSize: 360 });
  const images = await Promise.all(testFiles.map((file) => readImageFile(join(root, 'fixtures/digits/test', file))));
  const logits = (await model.forward(model.transform.applyBatch(images))).logits!;
  await model.dispose();
  expect(maxAbsDifference(logits, reference)).toBeLessThanOrEqual(1e-4);
  const classified = await cli(['classify', 'fixtures/digits/test', '--model', dir, '--json', '--top-k', '1', '--no-graph-cache']);
  expect(classified.code).toBe(0);
  const lines = classified.out.trim().split('\n').map((line) => JSON.parse(line));
  lines.slice(0, 360).forEach((line, row) => expect(line.predictions[0].index).toBe(argmax(reference, row)));
  expect(lines[360]).toMatchObject({ correct: testCorrect, total: 360 });
}

describe('vitzoo soup', () => {
  test('uniform soup of fixtures/soups/{a,b,c}: a model folder classify reads, reproducing the reference soup', async () => {
    const out = join(scratch, 'uniform');
    const { code, out: stdout } = await cli(['soup', 'fixtures/soups/a', 'fixtures/soups/b', 'fixtures/soups/c', '-o', out, '--json']);
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report).toMatchObject({ version: 1, method: 'uniform', chosen: ['fixtures/soups/a', 'fixtures/soups/b', 'fixtures/soups/c'] });
    expect(report.output.dir).toBe(out);
    await checkFolder(out, expected.uniform_logits!, recorded.uniform.test_correct);
  });

  test('--greedy --held-out: the recorded order, choice and held-out counts, printed and recorded in config.json', async () => {
    const out = join(scratch, 'greedy');
    const human = await cli(['soup', 'fixtures/soups/a', 'fixtures/soups/b', 'fixtures/soups/c', '-o', out, '--greedy', '--held-out', heldOut]);
    expect(human.code).toBe(0);
    const [title, first, second, third, steps, chosen, wrote] = human.out.trim().split('\n');
    expect(title).toBe('held-out accuracy of each model (288 images):');
    expect([first, second, third].map((line) => line!.trim().split(/\s+/))).toEqual(
      recorded.greedy.order.map((name: string) => [`fixtures/soups/${name}`, `${recorded.ingredients[name].val_correct}/288`]),
    );
    expect(steps).toBe('greedy soup: start with fixtures/soups/b (284); + fixtures/soups/a → 284 kept; + fixtures/soups/c → ' + steps!.split('→ ').at(-1));
    expect(steps).toMatch(/c → \d+ dropped$/);
    expect(chosen).toBe(`soup of fixtures/soups/b, fixtures/soups/a: ${recorded.greedy.val_correct}/288 held-out`);
    expect(wrote).toMatch(/^wrote .*greedy \(config\.json, model\.safetensors 0\.8 MB\)$/);
    await checkFolder(out, expected.greedy_logits!, recorded.greedy.test_correct);

    // The recipe is recorded in the folder's config.json.
    const recipe = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8')).soup;
    const named = (names: string[]) => names.map((name) => `fixtures/soups/${name}`);
    expect(recipe).toMatchObject({ method: 'greedy', order: named(recorded.greedy.order), chosen: named(recorded.greedy.chosen), correct: recorded.greedy.val_correct });
    expect(recipe.held_out.images).toBe(288);
  });

  test('models of another architecture or shape: exit 1, the typed error lists the differences, nothing is written', async () => {
    const out = join(scratch, 'refused');
    const { code, out: stdout, err } = await cli(['soup', 'fixtures/soups/a', 'models/digits-deit', 'fixtures/models/vit_tiny', '-o', out, '--json']);
    expect(code).toBe(1);
    const { error } = JSON.parse(stdout);
    expect(error.code).toBe('incompatible-models');
    expect(error.differences.map((d: { model: string; field: string }) => `${d.model}: ${d.field}`)).toEqual(
      expect.arrayContaining(['models/digits-deit: architecture', 'fixtures/models/vit_tiny: pos_embed']),
    );
    expect(err).toMatch(/^error: Cannot average these models into a soup: every model must match/);
    expect(existsSync(out)).toBe(false);
  });

  test('bad usage is refused before anything is read', async () => {
    expect((await cli(['soup', 'fixtures/soups/a', 'fixtures/soups/b'])).code).toBe(2); // no -o
    const greedy = await cli(['soup', 'fixtures/soups/a', '-o', join(scratch, 'x'), '--greedy']);
    expect([greedy.code, greedy.err]).toEqual([1, expect.stringMatching(/--greedy needs --held-out/)]);
    const weights = await cli(['soup', 'fixtures/soups/a', 'fixtures/soups/b', '-o', join(scratch, 'x'), '--weights', '1']);
    expect([weights.code, weights.err]).toEqual([1, expect.stringMatching(/--weights must be 2 non-negative numbers/)]);
    const into = await cli(['soup', 'fixtures/soups/a', 'fixtures/soups/b', '-o', 'fixtures/soups/a', '--force']);
    expect([into.code, into.err]).toEqual([1, expect.stringMatching(/is one of the models read/)]);
    const missing = await cli(['soup', 'fixtures/soups/nope', '-o', join(scratch, 'x')]);
    expect([missing.code, missing.err]).toEqual([1, expect.stringMatching(/fixtures\/soups\/nope/)]);
    expect(existsSync(join(scratch, 'x'))).toBe(false);
  });
});
