import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { join, resolve } from 'node:path';
import { DTYPES, InvalidArgumentError, UnsupportedError, type Dtype } from '@vitzoo/core';
import { compareDtypes, loadWeights, locateModelSource, readImageFile, readModelFolder, resolveBackend, type DtypeComparison } from '@vitzoo/pipeline/node';
import { createTransform } from '@vitzoo/preprocess';
import '@vitzoo/runtime-node'; // registers the 'node' backend
import { JSON_FORMAT_VERSION } from '../exit.js';
import { addModelSourceOptions, createModelLoader, type ModelSourceFlags } from '../model-loading.js';
import { positiveInteger } from '../option-values.js';
import { buildOptions } from '../build-options.js';
import { expandImageArguments } from '../image-arguments.js';

interface CompareDtypesCommandOptions extends ModelSourceFlags {
  dtypes: string;
  q4BlockSize?: string;
  backend: string;
  batchSize: string;
  runs: string;
  threads?: string;
  weights?: string;
}

function parseDtypes(value: string): Dtype[] {
  const names = value.split(',').map((name) => name.trim()).filter(Boolean);
  if (names.length === 0) throw new InvalidArgumentError('--dtypes', `--dtypes names at least one of ${DTYPES.join(', ')}.`);
  return names.map((name) => buildOptions({ dtype: name }).dtype);
}

function formatBytes(bytes: number): string {
  return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(0)} kB`;
}

function printTable(context: CommandContext, rows: readonly DtypeComparison[]): void {
  const header = ['dtype', 'size', '× fp32', 'top-1 = fp32', 'max |logit diff|', 'embedding cosine (min / mean)', 'ms / image', '× fp32'];
  const lines = rows.map((row) => [
    row.dtype,
    formatBytes(row.bytes),
    row.sizeRatio.toFixed(2),
    `${row.topOne.equal}/${row.topOne.total}`,
    row.maxLogitDiff.toExponential(2),
    row.embeddingCosine ? `${row.embeddingCosine.min.toFixed(5)} / ${row.embeddingCosine.mean.toFixed(5)}` : '-',
    row.msPerImage === null ? '-' : row.msPerImage.toFixed(2),
    row.speedRatio === null ? '-' : row.speedRatio.toFixed(2),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...lines.map((line) => line[column]!.length)));
  for (const line of [header, ...lines]) context.io.stdout(`${line.map((cell, column) => cell.padEnd(widths[column]!)).join('  ').trimEnd()}\n`);
}

export function registerCompareDtypes(program: Command, context: CommandContext): void {
  const command = program
    .command('compare-dtypes')
    .description('build a model at fp32 and lower precisions, run the same images, print per dtype: size, top-1 agreement with fp32, max logit difference, embedding cosine, speed')
    .argument('<model>', 'model folder (timm hub layout or fixture case), bundled model name (digits-vit), registered name or hub repo org/repo')
    .argument('<images...>', 'image files or folders of them')
    .option('--dtypes <names>', `precisions to compare with fp32, comma-separated (${DTYPES.filter((dtype) => dtype !== 'fp32').join(',')} by default)`, 'fp16,int8,q4')
    .option('--q4-block-size <n>', 'q4: weights per 4-bit block (16, 32, 64, 128, 256; default 32)')
    .option('--backend <name>', 'runtime backend', 'node')
    .option('--threads <n>', 'intra-op threads of every session (default: ONNX Runtime\'s)')
    .option('--batch-size <n>', 'images per inference call; the timing runs one such batch', '32')
    .option('--runs <n>', 'timed runs per dtype (interleaved, after one warm-up; the median is printed)', '5')
    .option('--weights <file>', 'weights file to use instead of the model folder\'s')
    .option('--json', 'print one JSON document: {"version":1,"model","images","dtypes":[…]}');
  addModelSourceOptions(command).action(async (modelArgument: string, imageArguments: string[], options: CompareDtypesCommandOptions) => {
      const { io } = context;
      const dtypes = parseDtypes(options.dtypes);
      const { q4BlockSize } = buildOptions({ dtype: 'q4', q4BlockSize: options.q4BlockSize });
      const batchSize = positiveInteger(options.batchSize, '--batch-size');
      const runs = positiveInteger(options.runs, '--runs');
      const threads = options.threads === undefined ? undefined : positiveInteger(options.threads, '--threads');
      const images = await expandImageArguments(imageArguments, io.cwd);
      const registry = await context.registry();
      const loader = createModelLoader(context, registry, options);
      const location = await locateModelSource(loader.argument(modelArgument), registry, { resolveSource: loader.resolveSource });
      if (location.layout === 'onnx') throw new UnsupportedError(`${modelArgument} is an ONNX-layout model: it runs as it is, so it cannot be built at other precisions; compare a timm checkpoint.`);
      const weights = options.weights !== undefined ? resolve(io.cwd, options.weights) : location.modelFile !== undefined ? join(location.dir, location.modelFile) : undefined;
      const source = await readModelFolder(location.dir, registry, weights);
      const transform = createTransform(source.pretrained);
      const decoded = await Promise.all(images.map((image) => readImageFile(image, { cwd: io.cwd, maxPixels: transform.maxPixels })));
      const rows = await compareDtypes({
        architecture: source.architecture,
        kwargs: source.kwargs,
        stateDict: await loadWeights(source.weights),
        backend: await resolveBackend([options.backend]),
        pixels: transform.applyBatch(decoded),
        dtypes,
        q4BlockSize,
        batchSize,
        runs,
        ...(threads === undefined ? {} : { sessionOptions: { intraOpNumThreads: threads, interOpNumThreads: 1 } }),
      });
      if (options.json) {
        io.stdout(`${JSON.stringify({ version: JSON_FORMAT_VERSION, model: modelArgument, images: images.length, dtypes: rows })}\n`);
      } else {
        io.stdout(`${modelArgument}: ${images.length} image(s), ${source.architecture.id}\n`);
        printTable(context, rows);
      }
    });
}
