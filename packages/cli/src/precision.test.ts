import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { maxAbsDifference, parseSafetensors } from '@vitzoo/core';
import { logitsBound } from '@vitzoo/conformance';
import { nodeBackend } from '@vitzoo/runtime-node';
import { runCli } from './test-cli.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'vitzoo-cli-precision-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Bad input must never surface a stack trace or an onnxruntime trace (runCli checks). */
const cli = (args: string[]) => runCli(args, root);

/** Every fixture case (every architecture builds on @vitzoo/onnx/layers, so at every precision). */
const CASES = readdirSync(join(root, 'fixtures/models')).filter((name) => existsSync(join(root, 'fixtures/models', name, 'config.json'))).sort();

/**
 * Every case's largest |logit − reference| as measured (onnxruntime-node 1.30, batch 2 and each
 * sample alone; README "Lower precision"): a case may not get more than a quarter worse.
 */
const MEASURED: Record<string, Record<'fp16' | 'int8' | 'q4', number>> = {
  vit_tiny: { fp16: 1.11e-3, int8: 4.48e-2, q4: 1.72e-1 },
  vit_gap: { fp16: 7.83e-4, int8: 8.08e-2, q4: 1.98e-1 },
  deit_distilled: { fp16: 7.38e-4, int8: 3.16e-2, q4: 2.12e-1 },
  vit_tiny_at48: { fp16: 7.45e-4, int8: 4.76e-2, q4: 1.69e-1 },
  vit_tiny_dynamic: { fp16: 1.24e-3, int8: 4.0e-2, q4: 1.95e-1 },
  swin_tiny: { fp16: 7.85e-4, int8: 3.64e-2, q4: 2.72e-1 },
  cait_tiny: { fp16: 7.99e-4, int8: 4.21e-2, q4: 2.12e-1 },
  cswin_tiny: { fp16: 3.9e-3, int8: 4.54e-1, q4: 1.57 },
  fdvit_tiny: { fp16: 6.8e-4, int8: 4.13e-2, q4: 3.28e-1 },
};

const referenceLogits = (name: string) => parseSafetensors(readFileSync(join(root, 'fixtures/models', name, 'io.safetensors'))).tensors.logits!;

describe('vitzoo verify --dtype', () => {
  test.each(['fp16', 'int8', 'q4'] as const)('%s: every case within its documented bound, batch 2 and each sample alone', async (dtype) => {
    const { code, out } = await cli(['verify', ...CASES.map((name) => `fixtures/models/${name}`), '--dtype', dtype, '--json']);
    const report = JSON.parse(out);
    expect(report.cases.map((item: { case: string }) => item.case)).toEqual(CASES);
    expect(Object.keys(MEASURED).sort()).toEqual(CASES);
    for (const item of report.cases) {
      expect({ case: item.case, status: item.status, dtype: item.dtype, error: item.error }).toEqual({ case: item.case, status: 'pass', dtype, error: undefined });
      expect(item.comparisons).toHaveLength(3);
      const bound = logitsBound(dtype, referenceLogits(item.case));
      if (dtype === 'fp16') expect(bound).toBe(1e-2);
      expect(item.tolerance).toBe(bound);
      for (const comparison of item.comparisons) {
        expect(comparison.output).toBe('logits');
        expect(comparison.tolerance).toBe(bound);
        expect(comparison.maxAbsDiff).toBeLessThanOrEqual(comparison.tolerance);
        expect(comparison.maxAbsDiff, `${item.case} ${dtype}`).toBeLessThanOrEqual(MEASURED[item.case]![dtype] * 1.25);
        // a lower precision changes the numbers: a graph that silently stayed fp32 would show ~1e-7
        expect(comparison.maxAbsDiff).toBeGreaterThan(1e-5);
        expect(comparison.topOne.total).toBe(comparison.batch);
        expect(comparison.topOne.required).toBe(dtype === 'fp16');
        if (dtype === 'fp16') expect(comparison.topOne.equal).toBe(comparison.batch);
      }
    }
    expect(code).toBe(0);
  });

  test('an unknown dtype is a usage error naming the choices', async () => {
    const { code, err } = await cli(['verify', 'fixtures/models/vit_tiny', '--dtype', 'int4']);
    expect(code).toBe(2);
    expect(err).toMatch(/Allowed choices are fp32, fp16, int8, q4/);
  });
});

describe('vitzoo convert --dtype', () => {
  test('writes smaller graphs that run and stay within the bounds; the summary names the dtype', async () => {
    const sizes: Record<string, number> = {};
    const expected = parseSafetensors(readFileSync(join(root, 'fixtures/models/deit_distilled/io.safetensors'))).tensors;
    for (const dtype of ['fp32', 'fp16', 'int8', 'q4'] as const) {
      const output = join(scratch, `deit-${dtype}.onnx`);
      const { code, out } = await cli(['convert', 'fixtures/models/deit_distilled', '-o', output, '--dtype', dtype, '--json']);
      expect(code).toBe(0);
      const summary = JSON.parse(out);
      expect(summary.dtype).toBe(dtype);
      expect(summary.bytes).toBe(statSync(output).size);
      sizes[dtype] = summary.bytes;
      const session = await nodeBackend.createSession(output);
      try {
        const { logits } = await session.run({ pixel_values: expected.pixel_values! });
        expect(maxAbsDifference(logits!, expected.logits!)).toBeLessThanOrEqual(dtype === 'fp32' ? 1e-4 : logitsBound(dtype, expected.logits!));
      } finally {
        await session.dispose();
      }
    }
    expect(sizes.fp16! / sizes.fp32!).toBeLessThan(0.55);
    expect(sizes.int8! / sizes.fp32!).toBeLessThan(0.45);
    expect(sizes.q4!).toBeLessThan(sizes.int8!);
  });

  test('a block size q4 cannot use is a typed error naming the sizes; nothing is written', async () => {
    const output = join(scratch, 'bad-block.onnx');
    const { code, err } = await cli(['convert', 'fixtures/models/vit_tiny', '-o', output, '--dtype', 'q4', '--q4-block-size', '24']);
    expect(code).toBe(1);
    expect(err).toMatch(/q4BlockSize must be one of 16, 32, 64, 128, 256/);
    expect(readdirSync(scratch).filter((name) => name.startsWith('bad-block'))).toEqual([]);
  });
});

describe('vitzoo compare-dtypes', () => {
  test('prints per dtype the size, top-1 agreement, logit difference, embedding cosine and speed against fp32', async () => {
    const digits = readdirSync(join(root, 'fixtures/digits/test')).sort().slice(0, 24).map((name) => `fixtures/digits/test/${name}`);
    const { code, out } = await cli(['compare-dtypes', 'digits-vit', ...digits, '--runs', '1', '--json']);
    expect(code).toBe(0);
    const report = JSON.parse(out);
    expect(report).toMatchObject({ version: 1, model: 'digits-vit', images: 24 });
    expect(report.dtypes.map((row: { dtype: string }) => row.dtype)).toEqual(['fp32', 'fp16', 'int8', 'q4']);
    for (const row of report.dtypes) {
      expect(Object.keys(row).sort()).toEqual(['bytes', 'dtype', 'embeddingCosine', 'maxLogitDiff', 'msPerImage', 'sizeRatio', 'speedRatio', 'topOne']);
      expect(row.topOne.total).toBe(24);
      expect(row.topOne.equal).toBeGreaterThanOrEqual(23);
      expect(row.embeddingCosine.min).toBeGreaterThan(0.98);
    }
    expect(report.dtypes[1].maxLogitDiff).toBeLessThanOrEqual(1e-2);

    const table = await cli(['compare-dtypes', 'digits-vit', ...digits.slice(0, 4), '--dtypes', 'int8', '--runs', '1']);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/^dtype +size +× fp32 +top-1 = fp32 +max \|logit diff\|/m);
    expect(table.out).toMatch(/^fp32 .* 4\/4 /m);
    expect(table.out).toMatch(/^int8 .* 4\/4 /m);

    const bad = await cli(['compare-dtypes', 'digits-vit', digits[0]!, '--dtypes', 'fp16,int3']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/Unknown dtype "int3"; choose from fp32, fp16, int8, q4/);
  });
});
