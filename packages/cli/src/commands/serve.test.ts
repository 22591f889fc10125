import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSafetensors } from '@vitzoo/core';
import { describe, expect, test } from 'vitest';
import { run } from '../run.js';
import { captureIo } from '../test-io.js';
import { defaultModelName, parseModelArguments } from './serve.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

async function cli(args: string[]) {
  const io = captureIo(root);
  const code = await run(args, io);
  expect(io.err).not.toMatch(/\n\s+at .*\(/); // never a stack trace
  expect(io.err).not.toMatch(/internal error/);
  return { code, out: io.out, err: io.err };
}

describe('vitzoo serve: model arguments', () => {
  test('a model is named by the last segment of its source unless NAME= or --name says otherwise', () => {
    expect(defaultModelName('models/digits-vit')).toBe('digits-vit');
    expect(defaultModelName('models/digits-vit/')).toBe('digits-vit');
    expect(defaultModelName('timm/deit_small_patch16_224.fb_in1k@main')).toBe('deit_small_patch16_224.fb_in1k');
    expect(defaultModelName('hf-hub:org/repo')).toBe('repo');
    expect(defaultModelName('https://example.com/models/deit-tiny?download=1')).toBe('deit-tiny');
    expect(parseModelArguments([])).toEqual([{ name: 'digits-vit', source: 'digits-vit' }]);
    expect(parseModelArguments(['deit=models/digits-deit', 'models/digits-vit'])).toEqual([
      { name: 'deit', source: 'models/digits-deit' },
      { name: 'digits-vit', source: 'models/digits-vit' },
    ]);
    expect(parseModelArguments(['models/digits-vit'], 'digits')).toEqual([{ name: 'digits', source: 'models/digits-vit' }]);
    expect(() => parseModelArguments(['a', 'b'], 'x')).toThrow(/--name names a single model/);
    expect(() => parseModelArguments(['x/a', 'y/a'])).toThrow(/Two models would be served as 'a'/);
    expect(() => parseModelArguments(['models/my model'])).toThrow(/'my model' .*cannot be a model name in URLs.*NAME=/);
  });

  test('bad options fail with exit 1 and the typed error, before anything listens', async () => {
    for (const [args, message] of [
      [['serve', '--port', '70000'], /--port must be a whole number from 0 to 65535, got '70000'/],
      [['serve', '--max-batch', '0'], /--max-batch must be a whole number from 1 up/],
      [['serve', '--image-size', '0'], /--image-size must be a side in pixels/],
      [['serve', '--dtype', 'q4', '--q4-block-size', '24'], /q4BlockSize must be one of 16, 32, 64, 128, 256/],
      [['serve', '--log-level', 'loud'], /--log-level must be one of/],
      [['serve', '--model', 'a', '--model', 'b', '--name', 'c'], /--name names a single model/],
    ] as const) {
      const { code, err } = await cli([...args]);
      expect({ args, code }).toEqual({ args, code: 1 });
      expect(err).toMatch(message);
    }
    // The build flags are classify's (one definition): an unknown --dtype is a usage error (exit 2) naming the choices.
    const dtype = await cli(['serve', '--dtype', 'fp8']);
    expect(dtype.code).toBe(2);
    expect(dtype.err).toMatch(/'fp8' is invalid.*fp32, fp16, int8, q4/s);
  });

  test('a model that cannot be loaded stops the server with exit 1 and says why', async () => {
    const { code, out, err } = await cli(['serve', '--model', './no-such-model', '--port', '0', '--log-level', 'silent']);
    expect(code).toBe(1);
    expect(out).toBe('');
    expect(err).toMatch(/^vitzoo serve: listening on http:\/\/127\.0\.0\.1:\d+ \(models: no-such-model; loading\)\nvitzoo serve: stopped\n/);
    expect(err).toMatch(/error: No such model folder or file: .*no-such-model/);
  });
});

describe('vitzoo serve (the built CLI in a child process)', () => {
  test('serves over HTTP, and SIGTERM answers the queued requests, then exits 0', async () => {
    const child = spawn(process.execPath, [join(root, 'packages/cli/dist/bin.js'), 'serve', '--model', 'digits-vit', '--port', '0', '--max-delay-ms', '400', '--threads', '1'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code))); // after its output is read
    try {
      const started = Date.now();
      while (!/ready at (http:\/\/127\.0\.0\.1:\d+)/.test(stderr)) {
        if (Date.now() - started > 30_000 || child.exitCode !== null) throw new Error(`the server did not get ready:\n${stdout}\n${stderr}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      const url = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr)![1]!;
      const health = await fetch(`${url}/v2/health/ready`);
      expect(health.status).toBe(200);

      // Six requests, queued for their batch (up to 400 ms), when SIGTERM arrives.
      const files = readdirSync(join(root, 'fixtures/digits/test')).filter((name) => name.endsWith('.png')).sort().slice(0, 6);
      const pending = files.map((file) =>
        fetch(`${url}/v2/models/digits-vit/infer`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', data: [readFileSync(join(root, 'fixtures/digits/test', file)).toString('base64')] }] }),
        }),
      );
      for (;;) {
        const metrics = await (await fetch(`${url}/metrics`)).text();
        if (/^vitzoo_queue_depth\{model="digits-vit"\} 6$/m.test(metrics)) break;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      child.kill('SIGTERM');
      const responses = await Promise.all(pending);
      const torch = parseSafetensors(readFileSync(join(root, 'fixtures/digits/vit/io.safetensors'))).tensors.logits!.data as Float32Array;
      const allFiles = (JSON.parse(readFileSync(join(root, 'fixtures/digits/vit/predictions.json'), 'utf8')) as { predictions: Record<string, number> }).predictions;
      const order = Object.keys(allFiles).sort();
      for (const [i, response] of responses.entries()) {
        expect(response.status).toBe(200);
        const body = (await response.json()) as { outputs: { name: string; data: number[] }[] };
        const row = order.indexOf(files[i]!);
        const expected = torch.subarray(row * 10, row * 10 + 10);
        expect(Math.max(...body.outputs[0]!.data.map((value, k) => Math.abs(value - expected[k]!)))).toBeLessThan(1e-4);
      }
      expect(await exited).toBe(0);
      expect(stderr).toMatch(/^vitzoo serve: listening on .*\nvitzoo serve: ready at .*\nvitzoo serve: shutting down; answering the requests in flight\nvitzoo serve: stopped\n$/);
      // stdout: one JSON log line per request, each of the six answered with 200.
      const answered = stdout.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>).filter((line) => line.endpoint === 'infer');
      expect(answered.map((line) => line.statusCode)).toEqual([200, 200, 200, 200, 200, 200]);
      await expect(fetch(`${url}/v2/health/live`)).rejects.toThrow();
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });
});
