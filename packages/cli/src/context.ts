import type { Registry } from '@vitzoo/core';
import type { CliIo } from './io.js';

/** What every command gets: where to write, where to put its exit code, the model registry. */
export interface CommandContext {
  io: CliIo;
  exit: { code: number };
  /** The registry with built-in and plugin architectures (loaded on first use). */
  registry(): Promise<Registry>;
}
