import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSafetensors } from '@vitzoo/core';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli } from '../test-cli.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const probe = JSON.parse(readFileSync(join(root, 'fixtures/digits/probe.json'), 'utf8'));

let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'vitzoo-cli-train-head-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const cli = (args: string[], cwd = root) => runCli(args, cwd);

describe('vitzoo train-head', () => {
  test('a head on the frozen digits ViT from the first 20 images per class: near the probe, and the folder classifies through vitzoo classify', async () => {
    const out = join(scratch, 'digits-head');
    const { code, out: stdout } = await cli([
      'train-head', '--model', 'digits-vit', '--train', 'fixtures/digits/train', '--per-class', '20', '--val', 'fixtures/digits/test', '-o', out, '--json', '--no-graph-cache',
    ]);
    expect(code).toBe(0);
    const report = JSON.parse(stdout);
    expect(report.classes).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
    expect(report.train).toEqual({ correct: 200, total: 200, accuracy: 1 });
    expect(Math.abs(report.validation.correct - probe.twenty_per_class.test_correct)).toBeLessThanOrEqual(7.2); // 2 points of 360
    expect(report.fit.converged).toBe(true);
    expect(readdirSync(out).sort()).toEqual(['config.json', 'model.safetensors']);
    // The backbone's weights with a new head: every other tensor byte-identical.
    const backbone = parseSafetensors(readFileSync(join(root, 'models/digits-vit/model.safetensors'))).tensors;
    const trained = parseSafetensors(readFileSync(join(out, 'model.safetensors'))).tensors;
    expect(Object.keys(trained).sort()).toEqual(Object.keys(backbone).sort());
    for (const [key, tensor] of Object.entries(backbone)) {
      if (key.startsWith('head.')) expect(Array.from(trained[key]!.data as Float32Array)).not.toEqual(Array.from(tensor.data as Float32Array));
      else expect(Buffer.from((trained[key]!.data as Float32Array).buffer, trained[key]!.data.byteOffset, trained[key]!.data.byteLength).equals(Buffer.from((tensor.data as Float32Array).buffer, tensor.data.byteOffset, tensor.data.byteLength)), key).toBe(true);
    }
    const config = JSON.parse(readFileSync(join(out, 'config.json'), 'utf8'));
    expect(config.train_head).toMatchObject({ backbone: 'digits-vit', train: { folder: 'fixtures/digits/train', images: 200, per_class: 20 }, validation_folder: 'fixtures/digits/test', validation_accuracy: report.validation });

    const classified = await cli(['classify', 'fixtures/digits/test', '--model', out, '--json', '--no-graph-cache']);
    expect(classified.code).toBe(0);
    const lines = classified.out.trim().split('\n').map((line) => JSON.parse(line));
    expect(lines.at(-1)).toMatchObject({ correct: report.validation.correct, total: 360 });

    const human = await cli(['train-head', '--model', 'digits-vit', '--train', 'fixtures/digits/train', '--per-class', '2', '-o', out, '--force', '--no-graph-cache']);
    expect(human.code).toBe(0);
    expect(human.out).toMatch(/^head: 10 classes \(0, 1, 2, 3, 4, 5, 6, 7, 8, 9\) on 64 backbone features\nL-BFGS: \d+ iterations, converged \(C = 1\)\ntrain accuracy: 20\/20 = 100\.00%\nwrote .*digits-head \(config\.json, model\.safetensors; new head\.weight, head\.bias\)\n$/);
  });

  test('refuses bad options and outputs before the backbone runs', async () => {
    const base = ['train-head', '--model', 'digits-vit', '--train', 'fixtures/digits/train'];
    expect((await cli(base)).code).toBe(2); // no -o
    const c = await cli([...base, '-o', join(scratch, 'x'), '--c', '0']);
    expect([c.code, c.err]).toEqual([1, expect.stringMatching(/--c must be a positive number/)]);
    const perClass = await cli([...base, '-o', join(scratch, 'x'), '--per-class', 'many']);
    expect([perClass.code, perClass.err]).toEqual([1, expect.stringMatching(/--per-class must be a positive integer/)]);
    const into = await cli([...base, '-o', 'models/digits-vit', '--force']);
    expect([into.code, into.err]).toEqual([1, expect.stringMatching(/is one of the models read/)]);
    const notEmpty = await cli([...base, '-o', 'fixtures/soups']);
    expect([notEmpty.code, notEmpty.err]).toEqual([1, expect.stringMatching(/is not empty/)]);
    const noData = await cli(['train-head', '--model', 'digits-vit', '--train', 'fixtures/soups', '-o', join(scratch, 'x')]);
    expect(noData.code).toBe(1);
    expect(existsSync(join(scratch, 'x'))).toBe(false);
  });
});
