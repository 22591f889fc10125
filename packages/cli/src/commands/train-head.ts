import { relative, resolve } from 'node:path';
import type { Command } from 'commander';
import { InvalidArgumentError, UnsupportedError } from '@vitzoo/core';
import {
  firstPerClass,
  locateModelSource,
  prepareOutputFolder,
  readImageDataset,
  readModelFolder,
  resolveBackend,
  trainHead,
  writeTrainedModelFolder,
  type Accuracy,
  type LabelledImages,
} from '@vitzoo/pipeline/node';
import '@vitzoo/runtime-node'; // registers the 'node' backend
import type { CommandContext } from '../context.js';
import { JSON_FORMAT_VERSION } from '../exit.js';
import { positiveInteger } from '../option-values.js';
import { addModelSourceOptions, createModelLoader, type ModelSourceFlags } from '../model-loading.js';
import { createStageProgress } from '../progress.js';

interface TrainHeadCommandOptions extends ModelSourceFlags {
  model: string;
  train: string;
  val?: string;
  output: string;
  perClass?: string;
  c: string;
  maxIterations: string;
  batchSize: string;
  backend: string;
  force?: boolean;
}

const percent = (result: Accuracy) => `${result.correct}/${result.total} = ${(result.accuracy * 100).toFixed(2)}%`;

export function registerTrainHead(program: Command, context: CommandContext): void {
  const command = program
    .command('train-head')
    .description('train a new classification head on a frozen backbone (linear probe: multinomial logistic regression on pre_logits) and write a complete model folder')
    .requiredOption('-m, --model <name|dir>', 'the backbone: a model folder (timm layout or fixture case), bundled model (digits-vit), registry name or hub repo')
    .requiredOption('--train <folder>', 'labelled training images: a sub-folder per class, <id>_<label>.png names, or a labels.json')
    .option('--val <folder>', 'labelled validation images (same classes) to report accuracy on')
    .requiredOption('-o, --output <dir>', 'the model folder to write (the backbone\'s weights with the new head; config.json with the classes); must be new or empty')
    .option('--per-class <n>', 'train on the first n images of each class (in file order)')
    .option('--c <C>', 'inverse L2 regularisation strength, as scikit-learn\'s LogisticRegression(C): penalty ‖W‖²/(2C)', '1.0')
    .option('--max-iterations <n>', 'L-BFGS iterations at most', '1000')
    .option('--batch-size <n>', 'images per backbone run', '64')
    .option('--backend <name>', 'runtime backend', 'node')
    .option('--force', 'write into a non-empty output folder (replacing its config.json and model.safetensors)')
    .option('--json', 'print a JSON report: {"version", "classes", "train": {"correct", "total", "accuracy"}, "validation"?, "fit", "output"}');
  addModelSourceOptions(command, { graphCache: true }).action(async (options: TrainHeadCommandOptions) => {
    const { io } = context;
    const C = Number(options.c);
    if (!(C > 0 && Number.isFinite(C))) throw new InvalidArgumentError('--c', `--c must be a positive number, got '${options.c}'.`);
    const maxIterations = positiveInteger(options.maxIterations, '--max-iterations');
    const batchSize = positiveInteger(options.batchSize, '--batch-size');
    const perClass = options.perClass === undefined ? undefined : positiveInteger(options.perClass, '--per-class');
    const registry = await context.registry();
    const loader = createModelLoader(context, registry, options);
    const outDir = resolve(io.cwd, options.output);
    let train: LabelledImages = await readImageDataset(resolve(io.cwd, options.train));
    if (perClass !== undefined) train = firstPerClass(train, perClass);
    const validation = options.val ? await readImageDataset(resolve(io.cwd, options.val)) : undefined;
    // Where the backbone is (a hub repo is fetched once): its folder gives the weights the output starts from.
    const location = await locateModelSource(loader.argument(options.model), registry, { resolveSource: loader.resolveSource });
    if (location.layout === 'onnx') throw new UnsupportedError(`${options.model} is an ONNX (transformers.js layout) model: it has no checkpoint to put a new head into. Use a timm-layout model (config.json + model.safetensors).`);
    const source = await readModelFolder(location.dir, registry, location.modelFile !== undefined ? resolve(location.dir, location.modelFile) : undefined);
    await prepareOutputFolder(outDir, { overwrite: options.force, inputs: [source.dir] }); // refuse a bad output before the long part
    const backend = await resolveBackend([options.backend]);
    const backbone = await loader.load(options.model, { backend, batchSize, outputs: ['pre_logits'] });
    const progress = createStageProgress(io, options);
    let head;
    try {
      head = await trainHead(backbone, train, { C, maxIterations, batchSize, ...(validation ? { validation } : {}), progress: progress.progress });
    } finally {
      progress.stop();
      await backbone.dispose();
    }
    const output = await writeTrainedModelFolder(source, head, outDir, {
      overwrite: options.force,
      record: { backbone: options.model, train: { folder: options.train, images: train.labels.length, ...(perClass ? { per_class: perClass } : {}) }, ...(options.val ? { validation_folder: options.val } : {}) },
    });
    const fit = { C, iterations: head.fit.iterations, converged: head.fit.converged, objective: head.fit.objective };
    if (options.json) {
      io.stdout(`${JSON.stringify({ version: JSON_FORMAT_VERSION, classes: head.classNames, train: head.train, ...(head.validation ? { validation: head.validation } : {}), fit, output })}\n`);
      return;
    }
    io.stdout(`head: ${head.classNames.length} classes (${head.classNames.slice(0, 10).join(', ')}${head.classNames.length > 10 ? ', …' : ''}) on ${head.weight.shape[1]} backbone features\n`);
    io.stdout(`L-BFGS: ${fit.iterations} iterations, ${fit.converged ? 'converged' : 'stopped at --max-iterations'} (C = ${C})\n`);
    io.stdout(`train accuracy: ${percent(head.train)}\n`);
    if (head.validation) io.stdout(`validation accuracy: ${percent(head.validation)}\n`);
    io.stdout(`wrote ${relative(io.cwd, output.dir) || output.dir} (config.json, model.safetensors; new ${output.headKeys.join(', ')})\n`);
  });
}
