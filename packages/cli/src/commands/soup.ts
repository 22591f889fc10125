import { relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError } from '@vitzoo/core';
import { readImageDataset, resolveBackend, soupModels, type SoupReport } from '@vitzoo/pipeline/node';
import '@vitzoo/runtime-node'; // registers the 'node' backend
import type { CommandContext } from '../context.js';
import { JSON_FORMAT_VERSION } from '../exit.js';
import { positiveInteger } from '../option-values.js';
import { addModelSourceOptions, createModelLoader, type ModelSourceFlags } from '../model-loading.js';
import { createStageProgress } from '../progress.js';

interface SoupCommandOptions extends ModelSourceFlags {
  output: string;
  greedy?: boolean;
  heldOut?: string;
  weights?: string;
  force?: boolean;
  backend: string;
  batchSize: string;
}

function parseWeights(text: string, count: number): number[] {
  const weights = text.split(',').map((part) => Number(part.trim()));
  if (weights.length !== count || weights.some((w) => !Number.isFinite(w) || w < 0) || !weights.some((w) => w > 0)) {
    throw new InvalidArgumentError('--weights', `--weights must be ${count} non-negative numbers separated by commas (one per model, not all zero), got '${text}'.`);
  }
  return weights;
}

function printReport(report: SoupReport, write: (text: string) => void, cwd: string): void {
  const shown = (path: string) => relative(cwd, path) || path;
  if (report.method === 'greedy') {
    const width = Math.max(...report.ingredients.map((entry) => entry.name.length));
    write(`held-out accuracy of each model (${report.heldOut!.total} images):\n`);
    for (const name of report.order!) {
      const entry = report.ingredients.find((candidate) => candidate.name === name)!;
      write(`  ${name.padEnd(width)}  ${entry.score}/${report.heldOut!.total}\n`);
    }
    const [first, ...rest] = report.steps!;
    write(`greedy soup: start with ${first!.ingredient} (${first!.score})`);
    for (const step of rest) write(`; + ${step.ingredient} → ${step.score} ${step.kept ? 'kept' : 'dropped'}`);
    write('\n');
    write(`soup of ${report.chosen.join(', ')}: ${report.heldOut!.correct}/${report.heldOut!.total} held-out\n`);
  } else {
    write(`uniform soup of ${report.chosen.length} model${report.chosen.length === 1 ? '' : 's'}: ${report.chosen.join(', ')}\n`);
  }
  write(`wrote ${shown(report.output.dir)} (config.json, model.safetensors ${(report.output.bytes / 1e6).toFixed(1)} MB)\n`);
}

export function registerSoup(program: Command, context: CommandContext): void {
  const command = program
    .command('soup')
    .description('average fine-tuned models of one architecture into one model folder (model soups, Wortsman et al. 2022): uniform, weighted, or greedy on held-out images')
    .argument('<models...>', 'model folders (timm layout or fixture case), .safetensors / .pth files, registry names or hub repos; all the same architecture and shapes')
    .requiredOption('-o, --output <dir>', 'the model folder to write (config.json of the first model, with the recipe; model.safetensors); must be new or empty')
    .option('--greedy', 'greedy soup: add models best first while the held-out accuracy does not drop (needs --held-out)')
    .option('--held-out <folder>', 'labelled images for --greedy: a sub-folder per class, <id>_<label>.png names, or a labels.json')
    .option('--weights <w1,w2,…>', 'uniform soup with these per-model weights (default equal)')
    .option('--force', 'write into a non-empty output folder (replacing its config.json and model.safetensors)')
    .option('--json', 'print a JSON report: {"version", "method", "ingredients": [{"name", "weights", "score"?}], "chosen", "order"?, "steps"?, "heldOut"?, "output"}')
    .option('--backend <name>', 'runtime backend for --greedy', 'node')
    .option('--batch-size <n>', 'held-out images per inference call', '64');
  addModelSourceOptions(command).action(async (models: string[], options: SoupCommandOptions) => {
    const { io } = context;
    if (options.greedy && !options.heldOut) throw new InvalidArgumentError('--held-out', '--greedy needs --held-out <folder>: the labelled images the models are scored on.');
    if (options.heldOut && !options.greedy) throw new InvalidArgumentError('--held-out', '--held-out is for --greedy soups; add --greedy, or leave it out for a uniform soup.');
    if (options.greedy && options.weights) throw new InvalidArgumentError('--weights', '--weights is for uniform soups; a greedy soup averages the models it keeps equally.');
    const batchSize = positiveInteger(options.batchSize, '--batch-size');
    const registry = await context.registry();
    const loader = createModelLoader(context, registry, options);
    const heldOut = options.heldOut ? await readImageDataset(resolve(io.cwd, options.heldOut)) : undefined;
    const backend = options.greedy ? await resolveBackend([options.backend]) : undefined;
    const progress = createStageProgress(io, options);
    let report: SoupReport;
    try {
      report = await soupModels(
        models.map((model) => loader.argument(model)),
        {
          outDir: resolve(io.cwd, options.output),
          registry,
          names: models, // as given
          resolveSource: loader.resolveSource,
          cwd: io.cwd,
          ...(backend ? { backend } : {}),
          ...(heldOut ? { heldOut } : {}),
          ...(options.weights ? { weights: parseWeights(options.weights, models.length) } : {}),
          batchSize,
          overwrite: options.force,
          progress: progress.progress,
        },
      );
    } finally {
      progress.stop();
    }
    if (options.json) io.stdout(`${JSON.stringify({ version: JSON_FORMAT_VERSION, ...report })}\n`);
    else printReport(report, io.stdout, io.cwd);
  });
}
