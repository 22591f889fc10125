import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { float16ToFloat32, parseSafetensors } from '@vitzoo/core';
import { run } from '../run.js';
import { captureIo } from '../test-io.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'vitzoo-preprocess-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function cli(args: string[], cwd = root) {
  const io = captureIo(cwd);
  const code = await run(args, io);
  expect(io.err).not.toMatch(/\n\s+at .*\(/);
  expect(io.err).not.toMatch(/internal error/);
  return { code, out: io.out, err: io.err };
}

function read(path: string) {
  return parseSafetensors(readFileSync(path));
}

describe('vitzoo preprocess', () => {
  test("explicit timm options reproduce the fixture's PIL/torchvision tensor bit for bit", async () => {
    const reference = read(join(root, 'fixtures/preprocess/chelsea.safetensors')).tensors;
    const cases: [string, string[]][] = [
      ['timm_bicubic_09', ['--size', '224', '--interpolation', 'bicubic', '--crop-pct', '0.9']],
      ['timm_bilinear_0875', ['--size', '224', '--interpolation', 'bilinear', '--crop-pct', '0.875', '--crop-mode', 'center']],
      ['hf_vit_bicubic_squash', ['--size', '224', '--interpolation', 'bicubic', '--crop-pct', '1', '--crop-mode', 'squash', '--mean', '0.485,0.456,0.406', '--std', '0.229,0.224,0.225']],
    ];
    for (const [name, options] of cases) {
      const output = join(scratch, `${name}.safetensors`);
      const { code, out } = await cli(['preprocess', 'fixtures/images/chelsea.png', ...options, '-o', output]);
      expect(code, name).toBe(0);
      expect(out).toMatch(/^wrote .*: pixel_values \[1, 3, 224, 224\] float32\n  fixtures\/images\/chelsea\.png 451x300 -> resized/);
      const { tensors, metadata } = read(output);
      expect(Object.keys(tensors)).toEqual(['pixel_values']);
      expect(tensors.pixel_values!.shape).toEqual([1, 3, 224, 224]);
      const ours = tensors.pixel_values!.data as Float32Array;
      const theirs = reference[name]!.data as Float32Array;
      expect(ours.length).toBe(theirs.length);
      let differing = 0;
      for (let i = 0; i < ours.length; i++) if (ours[i] !== theirs[i]) differing++;
      expect(differing, name).toBe(0);
      expect(metadata?.image).toBe('fixtures/images/chelsea.png');
    }
  });

  test("--model uses the model's pretrained config (digits: the 32x32 image untouched)", async () => {
    const output = join(scratch, 'digit.safetensors');
    const { code, out } = await cli(['preprocess', 'fixtures/digits/test/0021_1.png', '--model', 'digits-vit', '-o', output, '--json']);
    expect(code).toBe(0);
    const summary = JSON.parse(out);
    expect(summary).toMatchObject({
      tensor: { name: 'pixel_values', dtype: 'float32', shape: [1, 3, 32, 32] },
      imageSize: { width: 32, height: 32 },
      config: { inputSize: [3, 32, 32], cropPct: 1, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
      geometry: { resized: { width: 32, height: 32 }, crop: { top: 0, left: 0, width: 32, height: 32 } },
    });
    const values = read(output).tensors.pixel_values!.data as Float32Array;
    // The digit images are gray: three equal planes with values (u8 / 255 - 0.5) / 0.5.
    for (let i = 0; i < 1024; i++) {
      expect(values[1024 + i]).toBe(values[i]);
      const u8 = Math.round(((values[i]! * 0.5 + 0.5) * 255));
      expect(values[i]).toBe(Math.fround((Math.fround(u8 / 255) - 0.5) / 0.5));
    }
    // explicit options win over the model's
    const resized = join(scratch, 'digit-64.safetensors');
    await cli(['preprocess', 'fixtures/digits/test/0021_1.png', '--model', 'models/digits-deit', '--size', '64,48', '--crop-mode', 'squash', '-o', resized]);
    expect(read(resized).tensors.pixel_values!.shape).toEqual([1, 3, 64, 48]);
  });

  test('--dtype float16 writes IEEE half values', async () => {
    const half = join(scratch, 'half.safetensors');
    const full = join(scratch, 'full.safetensors');
    expect((await cli(['preprocess', 'fixtures/images/rocket.jpg', '--size', '64', '--dtype', 'float16', '-o', half])).code).toBe(0);
    await cli(['preprocess', 'fixtures/images/rocket.jpg', '--size', '64', '-o', full]);
    const h = read(half).tensors.pixel_values!;
    const f = read(full).tensors.pixel_values!.data as Float32Array;
    expect(h.dtype).toBe('float16');
    for (let i = 0; i < f.length; i += 97) expect(Math.abs(float16ToFloat32((h.data as Uint16Array)[i]!) - f[i]!)).toBeLessThanOrEqual(2 ** -9 * Math.max(1, Math.abs(f[i]!)));
  });

  test('errors: nothing to go by, bad options, bad images, missing output folder; an existing output is kept', async () => {
    const output = join(scratch, 'keep.safetensors');
    writeFileSync(output, 'previous');
    const expectError = async (args: string[], pattern: RegExp) => {
      const result = await cli(['preprocess', ...args, '-o', output]);
      expect(result.err, args.join(' ')).toMatch(pattern);
      expect(result.code).toBe(1);
    };
    await expectError(['fixtures/images/chelsea.png'], /^error: Say how to preprocess: --model/);
    await expectError(['fixtures/images/chelsea.png', '--size', '0'], /--size takes positive integers/);
    await expectError(['fixtures/images/chelsea.png', '--size', '1,2,3'], /--size takes 1 or 2 comma-separated numbers/);
    await expectError(['fixtures/images/chelsea.png', '--interpolation', 'cubic'], /--interpolation must be one of nearest, bilinear, bicubic/);
    await expectError(['fixtures/images/chelsea.png', '--crop-mode', 'middle'], /--crop-mode must be center, squash or border/);
    await expectError(['fixtures/images/chelsea.png', '--mean', '0.5,0.5'], /--mean takes 3 comma-separated numbers/);
    await expectError(['fixtures/images/chelsea.png', '--std', '1,0,1'], /--std values must not be 0/);
    await expectError(['fixtures/images/chelsea.png', '--size', '8', '--dtype', 'int8'], /--dtype must be float32 or float16/);
    await expectError(['fixtures/images/chelsea.png', '--model', 'no-such-model-folder/x'], /no-such-model-folder\/x is not a model folder/);
    await expectError(['fixtures/images/chelsea.png', '--model', 'no_such_model'], /Unknown model 'no_such_model'/);
    writeFileSync(join(scratch, 'broken.jpg'), readFileSync(join(root, 'fixtures/images/rocket.jpg')).subarray(0, 3000));
    await expectError([join(scratch, 'broken.jpg'), '--size', '8'], new RegExp(`^error: Invalid image ${join(scratch, 'broken.jpg')}: `));
    await expectError(['fixtures/images/chelsea.png', '--size', '8', '--max-pixels', '1000'], /^error: Invalid image fixtures\/images\/chelsea\.png: it has 135300 pixels/);
    expect(readFileSync(output, 'utf8')).toBe('previous');
    const missing = await cli(['preprocess', 'fixtures/images/chelsea.png', '--size', '8', '-o', join(scratch, 'nope/x.safetensors')]);
    expect(missing.err).toMatch(/folder .*nope does not exist/);
    expect(existsSync(join(scratch, 'nope'))).toBe(false);
    expect(readdirSync(scratch).filter((name) => name.endsWith('.tmp'))).toEqual([]);
    expect((await cli(['preprocess', 'fixtures/images/chelsea.png', '--size', '8'])).code).toBe(2); // -o is required
  });
});
