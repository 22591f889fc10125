#!/usr/bin/env node
import { processIo } from './io.js';
import { run } from './run.js';

// A reader that stops early (`vitzoo classify … | head -1`) closes the pipe: end quietly, as
// command-line tools do, instead of dying on the EPIPE of the next write.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw error;
  });
}

process.exitCode = await run(process.argv.slice(2), processIo);
