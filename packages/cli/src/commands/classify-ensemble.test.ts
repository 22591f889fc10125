import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSafetensors } from '@vitzoo/core';
import { describe, expect, test } from 'vitest';
import { runCli } from '../test-cli.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const files = readdirSync(join(root, 'fixtures/digits/test')).filter((name) => name.endsWith('.png')).sort();
const torch = (name: string) => parseSafetensors(readFileSync(join(root, `fixtures/digits/${name}/io.safetensors`))).tensors.logits!.data as Float32Array;

const cli = (args: string[], cwd = root) => runCli(args, cwd);

function softmax(row: ArrayLike<number>): number[] {
  const values = Array.from(row);
  const top = Math.max(...values);
  const exps = values.map((v) => Math.exp(v - top));
  const sum = exps.reduce((a, b) => a + b, 0);
  return exps.map((e) => e / sum);
}

describe('vitzoo classify with several --model: an ensemble', () => {
  test('the digits ViT and DeiT (default --combine mean-probs): every top-1 and the accuracy of torch\'s combined outputs', async () => {
    const combine = 'mean-probs' as string; // mean-logits is checked through the API (packages/pipeline/src/ensemble.test.ts)
    const { code, out } = await cli(['classify', 'fixtures/digits/test', '--model', 'digits-vit', '--model', 'digits-deit', '--json', '--top-k', '1', '--no-graph-cache']);
    expect(code).toBe(0);
    const lines = out.trim().split('\n').map((line) => JSON.parse(line));
    const [vit, deit] = [torch('vit'), torch('deit')];
    let correct = 0;
    files.forEach((file, row) => {
      const a = vit.subarray(row * 10, row * 10 + 10);
      const b = deit.subarray(row * 10, row * 10 + 10);
      const scores = combine === 'mean-probs' ? softmax(a).map((p, c) => (p + softmax(b)[c]!) / 2) : softmax(Array.from(a, (v, c) => (v + b[c]!) / 2));
      const top = scores.indexOf(Math.max(...scores));
      expect(lines[row]).toMatchObject({ image: `fixtures/digits/test/${file}`, predictions: [{ index: top }] });
      expect(lines[row].predictions[0].score).toBeCloseTo(scores[top]!, 5);
      if (top === Number(/_(\d)\.png$/.exec(file)![1])) correct++;
    });
    expect(lines[360]).toEqual({ version: 1, accuracy: correct / 360, correct, total: 360 });
  });

  test('human output names every member; options are checked', async () => {
    const human = await cli(['classify', 'fixtures/digits/test/0021_1.png', '--model', 'digits-vit', '--model', 'digits-deit', '--top-k', '1', '--no-graph-cache']);
    expect(human.code).toBe(0);
    expect(human.out).toMatch(/^fixtures\/digits\/test\/0021_1\.png: 1 \d+\.\d\d%  \(correct\)\n\naccuracy: 1\/1 = 100\.00% \(models\/digits-vit \+ models\/digits-deit\)\n$/);
    const combine = await cli(['classify', 'fixtures/digits/test', '--model', 'digits-vit', '--model', 'digits-deit', '--combine', 'vote']);
    expect([combine.code, combine.err]).toEqual([1, expect.stringMatching(/--combine must be mean-probs or mean-logits/)]);
    const weights = await cli(['classify', 'fixtures/digits/test', '--model', 'digits-vit', '--model', 'digits-deit', '--weights', 'models/digits-vit/model.safetensors']);
    expect([weights.code, weights.err]).toEqual([1, expect.stringMatching(/--weights names one weights file/)]);
  });
});
