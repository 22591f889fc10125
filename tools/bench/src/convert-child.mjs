// Child process for the conversion benchmark: `convert` (read weights, build graph, stream to file)
// or `copy` (read the same file, write it back: the I/O floor). Prints {seconds, maxRssBytes}
// (peakRssBytes: this process's own peak, not the forking parent's, which held the random weights).
import { readFile } from 'node:fs/promises';
import { convertCheckpoint, parseSafetensors, vit } from 'vitzoo';
import { writeFileAtomic } from '../../../packages/cli/dist/index.js';
import { peakRssBytes } from './timing.mjs';

const [mode, weightsPath, outputPath] = process.argv.slice(2);
const started = performance.now();
const bytes = await readFile(weightsPath);
if (mode === 'convert') {
  const stateDict = parseSafetensors(bytes, { source: weightsPath }).tensors;
  const graph = convertCheckpoint({ architecture: vit, kwargs: { img_size: 224, patch_size: 16, embed_dim: 768, depth: 12, num_heads: 12 }, stateDict });
  await writeFileAtomic(outputPath, graph.chunks());
} else {
  await writeFileAtomic(outputPath, [bytes]);
}
const seconds = (performance.now() - started) / 1000;
process.stdout.write(JSON.stringify({ seconds, maxRssBytes: peakRssBytes() }));
