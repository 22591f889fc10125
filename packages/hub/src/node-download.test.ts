import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { hostname, tmpdir } from 'node:os';
import { join, relative, sep } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { InvalidArgumentError } from '@vitzoo/core';
import { DownloadLimitError, UnexpectedContentError } from './errors.js';
import { hubSettings } from './hub.js';
import { createFileCache } from './node-cache.js';
import { resolveModelSource } from './node-resolve.js';
import { startHubTestServer, type HubTestServer } from './testing.js';

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const CONFIG = JSON.stringify({ architecture: 'vit_tiny_patch16_224', num_classes: 10 });
const weights = new Uint8Array(Array.from({ length: 200_000 }, (_, i) => (i * 37 + (i >> 8)) % 256));
let server: HubTestServer;
let cacheDir: string;

async function listFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true }).catch(() => [])) {
    if (!entry.isDirectory()) out.push(relative(dir, join(entry.parentPath, entry.name)).split(sep).join('/'));
  }
  return out.sort();
}

/** The id of a process that has exited (a killed download's owner). */
function deadPid(): number {
  const child = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], { encoding: 'utf8' });
  return Number(child.stdout);
}

beforeAll(async () => {
  server = await startHubTestServer({ 'test-org/model': { 'config.json': CONFIG, 'model.safetensors': weights } });
  server.setFile('weights.safetensors', weights);
});
afterAll(() => server.close());
beforeEach(async () => {
  cacheDir = await mkdtemp(join(tmpdir(), 'vitzoo-download-'));
  server.requests.length = 0;
  server.clearFaults();
});
afterEach(() => rm(cacheDir, { recursive: true, force: true }));

const options = (extra: Record<string, unknown> = {}) => ({ cacheDir, env: { HF_ENDPOINT: server.url }, timeoutMs: 5000, ...extra });
const blobs = () => join(cacheDir, 'hub', 'models--test-org--model', 'blobs');

describe('hostile bodies are cut off and nothing is kept', () => {
  it('a body longer than the announced size (endless): DownloadLimitError at that size', async () => {
    server.fault('model.safetensors', { kind: 'endless' });
    const started = Date.now();
    const error = await createFileCache(options()).get('test-org/model', 'main', 'model.safetensors').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DownloadLimitError);
    expect((error as DownloadLimitError).limit).toBe('announced-size');
    expect((error as DownloadLimitError).value).toBe(weights.byteLength);
    expect((error as Error).message).toContain(`more than the announced ${weights.byteLength} bytes; cut off at ${weights.byteLength} bytes`);
    expect(Date.now() - started).toBeLessThan(5000);
    expect(await listFiles(blobs())).toEqual([]);
  });

  it('a few bytes too many are refused too (not only endless bodies)', async () => {
    server.fault('model.safetensors', { kind: 'endless', extra: 10 });
    const error = await createFileCache(options()).get('test-org/model', 'main', 'model.safetensors').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DownloadLimitError);
    expect(await listFiles(blobs())).toEqual([]);
  });

  it('no announced size: cut off at maxDownloadBytes (default 8 GiB), and a file within it is kept', async () => {
    expect(hubSettings().maxDownloadBytes).toBe(8 * 1024 ** 3);
    server.fault('model.safetensors', { kind: 'no-size' });
    server.fault('model.safetensors', { kind: 'endless' });
    const error = await createFileCache(options({ maxDownloadBytes: 300_000 })).get('test-org/model', 'main', 'model.safetensors').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DownloadLimitError);
    expect((error as DownloadLimitError).limit).toBe('size-cap');
    expect((error as Error).message).toMatch(/no size was announced and the body passed the limit of 300000 bytes.*maxDownloadBytes/);
    expect(await listFiles(blobs())).toEqual([]);
    server.clearFaults();
    server.fault('model.safetensors', { kind: 'no-size' });
    const file = await createFileCache(options({ maxDownloadBytes: 300_000 })).get('test-org/model', 'main', 'model.safetensors');
    expect(sha256(await file.bytes())).toBe(sha256(weights));
  });

  it('JSON files are capped at 16 MiB whatever is announced', async () => {
    server.fault('config.json', { kind: 'no-size' });
    server.fault('config.json', { kind: 'endless' });
    const error = await createFileCache(options()).get('test-org/model', 'main', 'config.json').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DownloadLimitError);
    expect((error as DownloadLimitError).value).toBe(16 * 1024 ** 2);
    expect(await listFiles(cacheDir)).toEqual([]);
  });

  it('a total deadline per file stops a body that trickles in under the idle timeout', async () => {
    server.fault('model.safetensors', { kind: 'trickle', bytes: 1000, intervalMs: 20 });
    const started = Date.now();
    const error = await createFileCache(options({ timeoutMs: 2000, deadlineMs: 400 })).get('test-org/model', 'main', 'model.safetensors').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DownloadLimitError);
    expect((error as DownloadLimitError).limit).toBe('deadline');
    expect((error as Error).message).toContain('not finished within 0.4 s (the per-file deadline');
    expect(Date.now() - started).toBeLessThan(3000);
    // What arrived is parked for the next attempt, which resumes it.
    const parked = await stat(join(blobs(), `${sha256(weights)}.partial`));
    expect(parked.size).toBeGreaterThan(0);
    server.clearFaults();
    server.requests.length = 0;
    const file = await createFileCache(options()).get('test-org/model', 'main', 'model.safetensors');
    expect(sha256(await file.bytes())).toBe(sha256(weights));
    expect(server.requests.find((r) => r.method === 'GET' && r.path.startsWith('/cdn/'))?.headers.range).toBe(`bytes=${parked.size}-`);
    expect((await listFiles(blobs())).filter((f) => !/^[0-9a-f]{40,64}$/.test(f))).toEqual([]);
  });

  it('timer values beyond what a timer can wait are refused', () => {
    for (const [name, value] of [['timeoutMs', 2 ** 31], ['deadlineMs', 1e12], ['timeoutMs', Number.POSITIVE_INFINITY], ['deadlineMs', 0]] as const) {
      const error = (() => {
        try {
          hubSettings({ [name]: value });
        } catch (e) {
          return e;
        }
      })();
      expect(error, `${name} ${value}`).toBeInstanceOf(InvalidArgumentError);
      expect((error as Error).message).toContain('2147483647');
    }
    expect(hubSettings({ timeoutMs: 2 ** 31 - 1 }).timeoutMs).toBe(2 ** 31 - 1);
  });
});

describe('HTML where a file was expected (a login wall) is refused before it is cached', () => {
  it('config.json served as an HTML page', async () => {
    server.fault('config.json', { kind: 'html' });
    const error = await resolveModelSource('test-org/model', options()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnexpectedContentError);
    expect((error as Error).message).toMatch(/expected JSON for 'config\.json' but the server sent an HTML page/);
    expect(await listFiles(cacheDir)).toEqual([]);
  });

  it('weights served as an HTML page by the CDN, labelled HTML or not', async () => {
    for (const contentType of ['text/html', 'application/octet-stream']) {
      server.clearFaults();
      server.fault(`/cdn/${sha256(weights)}`, { kind: 'html', contentType });
      server.fault('model.safetensors', { kind: 'html', contentType });
      const error = await createFileCache(options()).getUrl(`${server.url}/cdn/${sha256(weights)}`, 'model.safetensors').catch((e: unknown) => e);
      expect(error, contentType).toBeInstanceOf(UnexpectedContentError);
      expect((error as Error).message).toMatch(/expected a binary file for 'model\.safetensors' but the server sent an HTML page/);
      expect(await listFiles(join(cacheDir, 'urls'))).toEqual([]);
    }
  });

  it('JSON that does not parse is refused', async () => {
    server.setRepo('test-org/broken', { 'config.json': '{"architecture": "vit_tiny_' });
    const error = await createFileCache(options()).get('test-org/broken', 'main', 'config.json').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnexpectedContentError);
    expect((error as Error).message).toContain('text that is not JSON');
    expect(await listFiles(cacheDir)).toEqual([]);
  });
});

describe('downloads interrupted by a killed process', () => {
  it('are resumed by the next run at once, and every leftover is removed when the file is complete', async () => {
    await mkdir(blobs(), { recursive: true });
    const name = sha256(weights);
    const host = hostname().replace(/[^A-Za-z0-9-]/g, '-');
    const orphan = `${name}.${host}-${deadPid()}.0123456789ab.incomplete`;
    const older = `${name}.${deadPid()}.ba9876543210.incomplete`; // the previous naming, no host
    const live = `${name}.${host}-${process.pid}.aaaaaaaaaaaa.incomplete`; // a download in progress in a live process
    await writeFile(join(blobs(), orphan), weights.subarray(0, 70_000));
    await writeFile(join(blobs(), older), weights.subarray(0, 1000));
    await writeFile(join(blobs(), live), weights.subarray(0, 5));
    const file = await createFileCache(options()).get('test-org/model', 'main', 'model.safetensors');
    expect(sha256(await file.bytes())).toBe(name);
    const range = server.requests.find((r) => r.method === 'GET' && r.path.startsWith('/cdn/'))?.headers.range;
    expect(['bytes=70000-', 'bytes=1000-']).toContain(range);
    expect((await readdir(blobs())).sort()).toEqual([name, live].sort());
  });
});
