import { expect } from 'vitest';
import { run } from './run.js';
import { captureIo } from './test-io.js';

/** Runs the CLI in-process (for tests): exit code and output; never a stack trace, an internal error nor an onnxruntime trace. */
export async function runCli(args: string[], cwd: string): Promise<{ code: number; out: string; err: string }> {
  const io = captureIo(cwd);
  const code = await run(args, io);
  expect(io.err).not.toMatch(/\n\s+at .*\(/); // never a stack trace
  expect(io.err).not.toMatch(/internal error/);
  expect(io.err).not.toMatch(/onnxruntime::|\[ErrorCode/);
  return { code, out: io.out, err: io.err };
}
