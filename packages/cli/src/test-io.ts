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
 * Runs the CLI in this process with `env` set for the run (undefined removes a variable; the
 * environment is restored after) and returns its exit code and output (for tests).
 */
export async function runCaptured(args: string[], cwd: string, env: Record<string, string | undefined> = {}): Promise<{ code: number; out: string; err: string }> {
  const saved = Object.fromEntries(Object.keys(env).map((key) => [key, process.env[key]]));
  const apply = (values: Record<string, string | undefined>) => {
    for (const [key, value] of Object.entries(values)) {
      if (value === undefined) delete process.env[key];
      else process.env[key] = value;
    }
  };
  apply(env);
  try {
    const io = captureIo(cwd);
    const code = await run(args, io);
    return { code, out: io.out, err: io.err };
  } finally {
    apply(saved);
  }
}
