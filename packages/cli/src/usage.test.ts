/**
 * The command line as a careless user meets it: pipes closed early, --version, options out of
 * range or empty, the README's own examples, help that names what --model takes, messages that
 * name the setting a user actually used.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSafetensors } from '@vitzoo/core';
import { CLI_VERSION } from './run.js';
import { runCaptured } from './test-io.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = join(root, 'packages/cli/dist/bin.js');
const digit = 'fixtures/digits/test/0021_1.png';
let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'vitzoo-usage-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function cli(args: string[], env: Record<string, string | undefined> = {}) {
  const result = await runCaptured(args, root, env);
  expect(result.err).not.toMatch(/internal error|\n\s+at .*\(/);
  return result;
}

describe('the built binary', () => {
  test('`vitzoo classify … | head -1` ends quietly when the reader closes the pipe', async () => {
    const child = spawn(process.execPath, [bin, 'classify', 'fixtures/digits/test'], { cwd: root, env: { ...process.env, VITZOO_CACHE: join(scratch, 'cache') } });
    let err = '';
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    // Read the first line, then close our end, as `head -1` does.
    const first = await new Promise<string>((resolve) => {
      let out = '';
      child.stdout.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        if (out.includes('\n')) {
          child.stdout.destroy();
          resolve(out.split('\n')[0]!);
        }
      });
    });
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    expect(first).toMatch(/^fixtures\/digits\/test\/0021_1\.png: 1 /);
    expect(err).toBe('');
    expect(code).toBe(0);
  });

  test('--version prints the version', async () => {
    const child = spawn(process.execPath, [bin, '--version'], { cwd: root });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    expect(await new Promise((resolve) => child.on('close', resolve))).toBe(0);
    const { version } = JSON.parse(readFileSync(join(root, 'packages/cli/package.json'), 'utf8')) as { version: string };
    expect(out).toBe(`${version}\n`);
    expect(CLI_VERSION).toBe(version);
  });
});

describe('options out of range or empty are refused, naming the option', () => {
  test('--timeout and --deadline beyond what a timer can wait (2^31 - 1 ms), zero, empty', async () => {
    for (const [option, value] of [
      ['--timeout', '2147484'],
      ['--timeout', '1e9'],
      ['--timeout', ''],
      ['--deadline', '2147484'],
      ['--deadline', '0'],
    ] as const) {
      const { code, err } = await cli(['download', 'org/repo', option, value]);
      expect(err, `${option} ${value}`).toMatch(new RegExp(`^error: ${option} must be a positive number of seconds up to 2147483 \\(about 24\\.8 days\\), got '${value}'`));
      expect(code).toBe(1);
    }
    const classify = await cli(['classify', digit, '--model', 'org/repo', '--timeout', '3000000']);
    expect(classify.err).toMatch(/^error: --timeout must be a positive number of seconds up to 2147483/);
  });

  test('--model "" and --threshold "" (and --arch "")', async () => {
    const model = await cli(['classify', digit, '--model', '']);
    expect(model.err).toMatch(/^error: --model needs a value/);
    expect(model.code).toBe(1);
    const threshold = await cli(['classify', digit, '--threshold', '']);
    expect(threshold.err).toMatch(/^error: --threshold must be a probability between 0 and 1, got ''/);
    expect(threshold.code).toBe(1);
    const arch = await cli(['download', 'https://example.test/model.safetensors', '--arch', ' ']);
    expect(arch.err).toMatch(/^error: --arch needs a registry name/);
    const preprocess = await cli(['preprocess', digit, '--model', '', '-o', join(scratch, 'x.safetensors')]);
    expect(preprocess.err).toMatch(/^error: --model needs a value/);
  });
});

describe("the README's examples work as written", () => {
  test('verify fixtures/models/vit_tiny --weights model_legacy.pth (the file in the case folder)', async () => {
    const { code, out } = await cli(['verify', 'fixtures/models/vit_tiny', '--weights', 'model_legacy.pth', '--json']);
    expect(JSON.parse(out).cases[0].status).toBe('pass');
    expect(code).toBe(0);
    const missing = await cli(['verify', 'fixtures/models/vit_tiny', '--weights', 'nope.pth']);
    expect(missing.err).toMatch(/Weights file not found: .*nope\.pth \(nor in the model folder: .*fixtures\/models\/vit_tiny\/nope\.pth\)/);
    expect(missing.code).toBe(1);
  });

  test('preprocess photo.jpg --model vit_base_patch16_224: the registry pretrained config, no weights', async () => {
    const output = join(scratch, 'pixel_values.safetensors');
    const { code, out } = await cli(['preprocess', 'fixtures/images/chelsea.png', '--model', 'vit_base_patch16_224', '-o', output, '--json']);
    expect(code).toBe(0);
    const summary = JSON.parse(out);
    expect(summary.configSource).toBe('vit_base_patch16_224.augreg2_in21k_ft_in1k (registry)');
    // timm's vit_base_patch16_224.augreg2_in21k_ft_in1k: 224, bicubic, crop 0.9, mean = std = 0.5
    expect(summary.config).toMatchObject({ inputSize: [3, 224, 224], interpolation: 'bicubic', cropPct: 0.9, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
    expect(parseSafetensors(new Uint8Array(readFileSync(output))).tensors.pixel_values!.shape).toEqual([1, 3, 224, 224]);
    const typo = await cli(['preprocess', 'fixtures/images/chelsea.png', '--model', 'vit_base_patch16_244', '-o', output]);
    expect(typo.err).toMatch(/Unknown model 'vit_base_patch16_244'\. Did you mean 'vit_base_patch16_224'/);
    const repo = await cli(['preprocess', 'fixtures/images/chelsea.png', '--model', 'timm/some-repo', '-o', output]);
    expect(repo.err).toMatch(/preprocess takes a folder or a registry name.*vitzoo download org\/repo/);
  });
});

describe('help and messages name what the user can use', () => {
  test('classify --help names registry names, hub repos and URLs for --model', async () => {
    const { out } = await cli(['classify', '--help']);
    const help = out.replace(/\s+/g, ' ');
    expect(help).toMatch(/-m, --model <name> a registry name \(deit_small_patch16_224\.fb_in1k, see `vitzoo list`/);
    expect(help).toContain('a hub repo org/repo[@revision]');
    expect(help).toContain('a URL of a .safetensors/.pth/.onnx file');
  });

  test('the offline message names the flag or the environment variable that turned it on', async () => {
    const cache = join(scratch, 'empty-cache');
    const byFlag = await cli(['download', 'org/repo', '--offline', '--cache-dir', cache]);
    expect(byFlag.err).toMatch(/^error: Offline mode \(--offline, the offline option\): org\/repo@main is not fully cached; missing 'config\.json'\. Fetch it once online \(`vitzoo download org\/repo@main`: run without --offline/);
    for (const variable of ['VITZOO_OFFLINE', 'HF_HUB_OFFLINE']) {
      const byEnvironment = await cli(['download', 'org/repo', '--cache-dir', cache], { VITZOO_OFFLINE: undefined, HF_HUB_OFFLINE: undefined, [variable]: '1' });
      expect(byEnvironment.err).toMatch(new RegExp(`^error: Offline mode \\(${variable} is set\\): .*: unset ${variable}\\)`));
      expect(byEnvironment.code).toBe(1);
    }
  });
});
