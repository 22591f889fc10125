// Child process for the soup benchmark: `soup` (vitzoo soup of the model folders into <output>)
// or `copy` (read every folder's model.safetensors and write the first again: the I/O floor).
// Prints {seconds, maxRssBytes} (peakRssBytes: this process's own peak, not the forking parent's).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { soupModels } from '@vitzoo/pipeline/node';
import { createDefaultRegistry } from 'vitzoo';
import { writeFileAtomic } from '../../../packages/cli/dist/index.js';
import { peakRssBytes } from './timing.mjs';

const [mode, output, ...folders] = process.argv.slice(2);
const started = performance.now();
if (mode === 'soup') {
  await soupModels(folders, { outDir: output, registry: createDefaultRegistry() });
} else {
  // Read as the soup reads (one file after another, each once), write one model's worth.
  let first;
  for (const folder of folders) {
    const bytes = await readFile(join(folder, 'model.safetensors'));
    first ??= bytes;
  }
  await writeFileAtomic(join(output, 'model.safetensors'), [first]);
}
const seconds = (performance.now() - started) / 1000;
process.stdout.write(JSON.stringify({ seconds, maxRssBytes: peakRssBytes() }));
