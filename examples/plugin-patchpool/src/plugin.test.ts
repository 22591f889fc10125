import { describe, expect, test } from 'vitest';
import { fileURLToPath } from 'node:url';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { run, type CliIo } from '@vitzoo/cli';

const root = fileURLToPath(new URL('../../../', import.meta.url));

function capture(): CliIo & { out: string; err: string } {
  const io = { out: '', err: '', cwd: root, isTty: false, stdout: (t: string) => void (io.out += t), stderr: (t: string) => void (io.err += t) };
  return io;
}

describe('third-party architecture through the public interface', () => {
  test('verify runs the plugin case through the same registry path and passes', async () => {
    const io = capture();
    const code = await run(['--plugin', './examples/plugin-patchpool/src/index.ts', 'verify', 'examples/plugin-patchpool/fixtures', '--json'], io);
    const report = JSON.parse(io.out);
    expect(report.cases).toHaveLength(1);
    expect(report.cases[0].status).toBe('pass');
    expect(report.cases[0].comparisons).toHaveLength(9);
    expect(code).toBe(0);
  });

  test('without the plugin the case is reported as not implemented, with a failing exit code', async () => {
    const io = capture();
    const code = await run(['verify', 'examples/plugin-patchpool/fixtures/patchpool_tiny'], io);
    expect(io.out).toMatch(/NOT IMPLEMENTED\s+patchpool_tiny/);
    expect(code).toBe(1);
  });

  test('convert writes the plugin graph and list shows its variant', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'vitzoo-plugin-'));
    try {
      const io = capture();
      const output = join(dir, 'patchpool.onnx');
      const code = await run(['--plugin', './examples/plugin-patchpool/src/index.ts', 'convert', 'examples/plugin-patchpool/fixtures/patchpool_tiny', '-o', output, '--outputs', 'logits,features', '--json'], io);
      expect(code).toBe(0);
      const summary = JSON.parse(io.out);
      expect(summary.outputs.map((o: { name: string }) => o.name)).toEqual(['logits', 'features']);
      expect(existsSync(output)).toBe(true);
      expect(readFileSync(output).byteLength).toBe(summary.bytes);
      const list = capture();
      await run(['--plugin', './examples/plugin-patchpool/src/index.ts', 'list', 'patchpool_*', '--names'], list);
      expect(list.out.trim()).toBe('patchpool_tiny_32');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
