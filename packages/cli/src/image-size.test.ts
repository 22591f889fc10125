import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runCli } from './test-cli.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'vitzoo-cli-image-size-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Bad input must never surface a stack trace or an onnxruntime trace (runCli checks). */
const cli = (args: string[]) => runCli(args, root);

describe('--image-size', () => {
  test('convert builds the graph for the new size (height x width)', async () => {
    const output = join(scratch, 'swin-48x64.onnx');
    const { code, out } = await cli(['convert', 'fixtures/models/swin_tiny', '-o', output, '--image-size', '48x64', '--json']);
    expect(code).toBe(0);
    const summary = JSON.parse(out) as { inputs: { name: string; shape: (number | string)[] }[] };
    expect(summary.inputs[0]!.shape.slice(1)).toEqual([3, 48, 64]);
  });

  test('classify runs the bundled digits ViT at 48 px (its images are resized to the new input)', async () => {
    const digits = readdirSync(join(root, 'fixtures/digits/test')).filter((name) => name.endsWith('.png')).slice(0, 2);
    const { code, out } = await cli(['classify', ...digits.map((name) => `fixtures/digits/test/${name}`), '--image-size', '48', '--json']);
    expect(code).toBe(0);
    const lines = out.trim().split('\n').map((line) => JSON.parse(line) as { image?: string; predictions?: { score: number }[] });
    expect(lines.filter((line) => line.predictions).length).toBe(2);
  });

  test('an architecture that cannot, or a bad value: a typed error, exit 1, nothing written', async () => {
    const output = join(scratch, 'cait.onnx');
    const cait = await cli(['convert', 'fixtures/models/cait_tiny', '-o', output, '--image-size', '64']);
    expect(cait.code).toBe(1);
    expect(cait.err).toMatch(/cait models run only at the image size.*Architectures that can: cswin, deit, swin, vit/s);
    expect(existsSync(output)).toBe(false);
    for (const bad of ['0', '48x', 'x48', 'large', '48x48x3']) {
      const result = await cli(['convert', 'fixtures/models/vit_tiny', '-o', output, '--image-size', bad]);
      expect(result.code, bad).toBe(1);
      expect(result.err, bad).toMatch(/--image-size must be a side in pixels/);
    }
    expect(existsSync(output)).toBe(false);
  });
});
