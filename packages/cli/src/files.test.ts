/**
 * Files the CLI reads and writes: outputs never replace the command's own inputs or anything that
 * is not a regular file; devices, pipes and unreadable weights are typed errors; a cache that
 * cannot be used is a typed error (downloads) or skipped with a warning (the optional graph cache),
 * never an internal error. Permission cases run the built CLI as an unprivileged user (root reads
 * and writes through chmod, so `setpriv` drops to nobody when the tests run as root).
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFileSync, spawn } from 'node:child_process';
import { chmodSync, copyFileSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHash } from 'node:crypto';
import { startHubTestServer, type HubTestServer } from '@vitzoo/hub/testing';
import { runCaptured } from './test-io.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const bin = join(root, 'packages/cli/dist/bin.js');
const fixture = join(root, 'fixtures/models/vit_tiny');
const digit = join(root, 'fixtures/digits/test/0021_1.png');
const sha256 = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex');
let scratch: string;
let server: HubTestServer;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'vitzoo-files-'));
  chmodSync(scratch, 0o755); // the unprivileged user walks through it
  server = await startHubTestServer({ 'test-org/vit': { 'config.json': readFileSync(join(fixture, 'config.json'), 'utf8'), 'model.safetensors': readFileSync(join(fixture, 'model.safetensors')) } });
});
afterAll(async () => {
  await server.close();
  rmSync(scratch, { recursive: true, force: true });
});

/** A folder of its own in the scratch folder. */
function folder(name: string): string {
  const dir = join(scratch, `${name}-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir);
  chmodSync(dir, 0o755);
  return dir;
}

function caseCopy(): string {
  const dir = folder('case');
  for (const file of ['config.json', 'model.safetensors']) copyFileSync(join(fixture, file), join(dir, file));
  return dir;
}

async function cli(args: string[], env: Record<string, string | undefined> = {}) {
  const result = await runCaptured(args, root, env);
  expect(result.err).not.toMatch(/internal error|\n\s+at .*\(/);
  return result;
}

/**
 * Runs the built CLI as a user without special file permissions (nobody, when the tests run as
 * root). Asynchronous: the hub test server lives in this process.
 */
async function unprivileged(args: string[], env: Record<string, string>) {
  const asRoot = process.getuid?.() === 0;
  const command = asRoot ? 'setpriv' : process.execPath;
  const prefix = asRoot ? ['--reuid=65534', '--regid=65534', '--clear-groups', process.execPath] : [];
  const child = spawn(command, [...prefix, bin, ...args], { cwd: root, env: { PATH: process.env.PATH ?? '', ...env } });
  let out = '';
  let err = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  expect(err).not.toMatch(/internal error|\n\s+at .*\(/);
  return { code, out, err };
}

describe('convert -o and preprocess -o never replace their inputs or special files', () => {
  test('the weights, config.json (also through a hard link) and the image are refused as outputs, before any work, and stay intact', async () => {
    const dir = caseCopy();
    const before = sha256(join(dir, 'model.safetensors'));
    const config = readFileSync(join(dir, 'config.json'), 'utf8');
    linkSync(join(dir, 'model.safetensors'), join(dir, 'alias.onnx'));
    for (const [output, what] of [
      ['model.safetensors', 'weights file'],
      ['config.json', 'config.json'],
      ['alias.onnx', 'weights file'],
    ] as const) {
      const { code, err } = await cli(['convert', dir, '-o', join(dir, output)]);
      expect(err, output).toMatch(new RegExp(`Refusing to write .*${output.replace('.', '\\.')}: it is the ${what} this command reads`));
      expect(code).toBe(1);
    }
    const pth = join(dir, 'model.pth');
    copyFileSync(join(fixture, 'model_legacy.pth'), pth);
    expect((await cli(['convert', dir, '--weights', pth, '-o', pth])).err).toMatch(/it is the weights file this command reads/);
    expect(sha256(join(dir, 'model.safetensors'))).toBe(before);
    expect(readFileSync(join(dir, 'config.json'), 'utf8')).toBe(config);
    const image = join(folder('image'), 'digit.png');
    copyFileSync(digit, image);
    const preprocess = await cli(['preprocess', image, '--size', '32', '-o', image]);
    expect(preprocess.err).toMatch(/it is the image this command reads/);
    expect(sha256(image)).toBe(sha256(digit));
  });

  test('a character device or a FIFO as the output is refused and left as it was', async () => {
    const fifo = join(folder('fifo'), 'out.onnx');
    execFileSync('mkfifo', [fifo]);
    // A null device of our own when root (a defect here must never replace the system's /dev/null);
    // other users cannot replace /dev/null anyway.
    let device = '/dev/null';
    if (process.getuid?.() === 0) {
      device = join(folder('device'), 'null');
      execFileSync('mknod', ['-m', '666', device, 'c', '1', '3']);
    }
    for (const [output, kind] of [[device, 'a character device'], [fifo, 'a FIFO \\(named pipe\\)']] as const) {
      const { code, err } = await cli(['convert', fixture, '-o', output]);
      expect(err).toMatch(new RegExp(`Refusing to write ${output}: it is ${kind}, not a regular file`));
      expect(code).toBe(1);
    }
    expect(statSync(device).isCharacterDevice()).toBe(true);
    expect(statSync(fifo).isFIFO()).toBe(true);
  });
});

describe('weights that cannot be read', () => {
  test('/dev/zero and a FIFO are refused at once (no endless or blocking read); a folder too', async () => {
    const fifo = join(folder('fifo'), 'weights.safetensors');
    execFileSync('mkfifo', [fifo]);
    for (const [weights, pattern] of [
      ['/dev/zero', /Cannot read \/dev\/zero: it is a character device, not a regular file/],
      [fifo, /it is a FIFO \(named pipe\), not a regular file/],
      [scratch, /is a directory, not a file/],
    ] as const) {
      const { code, err } = await cli(['convert', fixture, '--weights', weights, '-o', join(scratch, 'never.onnx')]);
      expect(err).toMatch(pattern);
      expect(code).toBe(1);
    }
  });

  test('no permission to read the weights, none to write the output folder: typed errors', async () => {
    const dir = caseCopy();
    chmodSync(join(dir, 'model.safetensors'), 0o000);
    const unreadable = await unprivileged(['convert', dir, '-o', join(folder('out'), 'x.onnx')], {});
    expect(unreadable.err).toMatch(/error: Cannot read .*model\.safetensors: permission denied \(EACCES\)/);
    expect(unreadable.code).toBe(1);
    const readOnly = folder('read-only');
    chmodSync(readOnly, 0o555);
    const unwritable = await unprivileged(['convert', fixture, '-o', join(readOnly, 'x.onnx'), '--json'], {});
    expect(JSON.parse(unwritable.out).error).toMatchObject({ code: 'file-access', operation: 'write', reason: 'EACCES' });
    expect(unwritable.err).toMatch(/Cannot write .*x\.onnx: permission denied \(EACCES\)\. Choose an output in a folder you can write\./);
    expect(unwritable.code).toBe(1);
  });
});

describe('a cache that cannot be used', () => {
  test('the graph cache (optional) is skipped with a warning: a file where the cache folder or its graphs/ folder should be', async () => {
    const file = join(folder('cache'), 'not-a-folder');
    writeFileSync(file, 'x');
    const graphs = folder('cache');
    writeFileSync(join(graphs, 'graphs'), 'x');
    for (const cache of [file, graphs]) {
      const { code, out, err } = await cli(['classify', digit, '--json'], { VITZOO_CACHE: cache });
      expect(err).toMatch(/warning: the graph cache was skipped: Cannot write .*: a file (is where a folder should be \(ENOTDIR\)|is in the way where a folder should be \(EEXIST\))\. The cache folder is .*: set VITZOO_CACHE \(or --cache-dir\) to a folder you can write, or turn the graph cache off/);
      expect((JSON.parse(out.split('\n')[0]!) as { predictions: { label: string }[] }).predictions[0]!.label).toBe('1');
      expect(code).toBe(0);
    }
  });

  test('downloads into it are a typed error naming the folder and the way out', async () => {
    const file = join(folder('cache'), 'not-a-folder');
    writeFileSync(file, 'x');
    const { code, out, err } = await cli(['download', 'test-org/vit', '--json'], { VITZOO_CACHE: file, HF_ENDPOINT: server.url });
    expect(JSON.parse(out).error).toMatchObject({ code: 'file-access', reason: 'ENOTDIR' });
    expect(err).toMatch(/Cannot write .*not-a-folder.*a file is where a folder should be \(ENOTDIR\)\. The cache folder is .*not-a-folder: set VITZOO_CACHE \(or --cache-dir\) to a folder you can write\./);
    expect(code).toBe(1);
  });

  test('a read-only HOME (no VITZOO_CACHE): classify works with a warning, download is a typed error', async () => {
    const home = folder('home');
    chmodSync(home, 0o555);
    const env = { HOME: home, HF_ENDPOINT: server.url };
    const classified = await unprivileged(['classify', digit], env);
    expect(classified.err).toMatch(/warning: the graph cache was skipped: Cannot write .*\.cache.*permission denied \(EACCES\)/);
    expect(classified.out).toMatch(/0021_1\.png: 1 /);
    expect(classified.code).toBe(0);
    const downloaded = await unprivileged(['download', 'test-org/vit'], env);
    expect(downloaded.err).toMatch(/error: Cannot write .*permission denied \(EACCES\)\. The cache folder is .*\/\.cache\/vitzoo: set VITZOO_CACHE/);
    expect(downloaded.code).toBe(1);
  });
});
