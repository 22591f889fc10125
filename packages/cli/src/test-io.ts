import { expect } from 'vitest';
import type { CliIo } from './io.js';
import { run } from './run.js';

/** A CliIo that records what the CLI writes (for tests). */
export function captureIo(cwd: string): CliIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    cwd,
    isTty: false,
    stdout: (text: string) => void (io.out += text),
    stderr: (text: string) => void (io.err += text),
  };
  return io;
}

/**
 * Runs the CLI in `cwd` with captured output, and checks what no command may print whatever the
 * input: a stack trace or an onnxruntime trace.
 */
export async function runCli(args: string[], cwd: string): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo(cwd);
  const code = await run(args, io);
  expect(io.err).not.toMatch(/\n\s+at .*\(/);
  expect(io.err).not.toMatch(/onnxruntime::|\[ErrorCode/);
  return { code, out: io.out, err: io.err };
}
