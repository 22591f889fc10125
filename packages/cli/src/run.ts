import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { VitzooError, type Architecture, type Registry } from '@vitzoo/core';
import { createDefaultRegistry } from 'vitzoo';
import { registerConvert } from './commands/convert.js';
import { registerDownload } from './commands/download.js';
import { registerList } from './commands/list.js';
import { registerVerify } from './commands/verify.js';
import { registerClassify } from './commands/classify.js';
import { registerExplain } from './commands/explain.js';
import { registerPreprocess } from './commands/preprocess.js';
import { registerServe } from './commands/serve.js';
import { registerSoup } from './commands/soup.js';
import { registerTrainHead } from './commands/train-head.js';
import { registerCompareDtypes } from './commands/compare-dtypes.js';
import type { CommandContext } from './context.js';
import { EXIT, JSON_FORMAT_VERSION } from './exit.js';
import type { CliIo } from './io.js';
import { loadPlugin } from './plugins.js';

export { EXIT, JSON_FORMAT_VERSION } from './exit.js';

interface GlobalOptions {
  plugin?: string[];
}

async function buildRegistry(io: CliIo, options: GlobalOptions): Promise<Registry> {
  const specifiers = [...(options.plugin ?? []), ...(process.env.VITZOO_PLUGINS?.split(',').filter(Boolean) ?? [])];
  const extra: Architecture[] = [];
  for (const specifier of specifiers) extra.push(...(await loadPlugin(specifier, io.cwd)));
  return createDefaultRegistry(extra);
}

/** The version of this package (@vitzoo/cli), from its package.json (beside src/ and dist/). */
export const CLI_VERSION = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

export function createProgram(io: CliIo, exit: { code: number }): Command {
  const program = new Command('vitzoo')
    .description('Vision transformers from JavaScript with the reference implementation\'s numbers.')
    .version(CLI_VERSION, '-V, --version', 'print the version of vitzoo')
    .option('--plugin <module>', 'load third-party architectures from a module, package folder or package name (repeatable); also VITZOO_PLUGINS=a,b', (value: string, previous: string[]) => [...previous, value], [] as string[])
    .configureOutput({ writeOut: io.stdout, writeErr: io.stderr })
    .exitOverride()
    .showHelpAfterError('(run vitzoo --help for usage)');

  let registry: Promise<Registry> | undefined;
  const context: CommandContext = { io, exit, registry: () => (registry ??= buildRegistry(io, program.opts())) };
  // One line per command; each command lives in commands/<name>.ts.
  registerVerify(program, context);
  registerConvert(program, context);
  registerList(program, context);
  registerDownload(program, context);
  registerClassify(program, context);
  registerExplain(program, context);
  registerPreprocess(program, context);
  registerServe(program, context);
  registerSoup(program, context);
  registerTrainHead(program, context);
  registerCompareDtypes(program, context);

  return program;
}

/** Runs the CLI; returns the exit code. Never throws. */
export async function run(argv: readonly string[], io: CliIo): Promise<number> {
  const exit = { code: EXIT.ok as number };
  const program = createProgram(io, exit);
  const json = argv.includes('--json');
  try {
    await program.parseAsync([...argv], { from: 'user' });
    return exit.code;
  } catch (error) {
    if (error instanceof CommanderError) {
      return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    }
    if (VitzooError.isInstance(error)) {
      if (json) io.stdout(`${JSON.stringify({ version: JSON_FORMAT_VERSION, error: error.toJSON() })}\n`);
      io.stderr(`error: ${error.message}\n`);
      return EXIT.failure;
    }
    const message = error instanceof Error ? error.message : String(error);
    if (json) io.stdout(`${JSON.stringify({ version: JSON_FORMAT_VERSION, error: { code: 'internal', message } })}\n`);
    io.stderr(`internal error: ${message}\n${process.env.VITZOO_DEBUG && error instanceof Error ? `${error.stack}\n` : ''}` +
      'This is a bug in vitzoo; please report it with the command you ran.\n');
    return EXIT.internal;
  }
}
