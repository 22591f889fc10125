import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { readFile } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { expandImageArguments } from '../image-arguments.js';
import { InvalidArgumentError } from '@vitzoo/core';
import { createEnsemble, readImageFileBatches, resolveBackend, type Ensemble, type EnsembleCombine, type Model, type Prediction } from '@vitzoo/pipeline/node';
import '@vitzoo/runtime-node'; // registers the 'node' backend
import { EXIT, JSON_FORMAT_VERSION } from '../exit.js';
import { positiveInteger } from '../option-values.js';
import { DEFAULT_MODEL } from '../model-dir.js';
import { addModelSourceOptions, createModelLoader, type ModelSourceFlags } from '../model-loading.js';
import { addBuildOptions, buildOptions, type BuildFlags } from '../build-options.js';

interface ClassifyCommandOptions extends ModelSourceFlags, BuildFlags {
  model: string[];
  combine: string;
  topK: string;
  threshold?: string;
  backend: string;
  weights?: string;
  batchSize: string;
  maxPixels?: string;
}

/** A `labels.json` beside the images or in their parent folder: `{ "labels": { file: label } }` or `{ file: label }`. */
async function readLabelFile(folder: string): Promise<Map<string, unknown> | undefined> {
  let text: string;
  try {
    text = await readFile(join(folder, 'labels.json'), 'utf8');
  } catch {
    return undefined;
  }
  try {
    const parsed = JSON.parse(text) as Record<string, unknown>;
    const table = typeof parsed.labels === 'object' && parsed.labels !== null && !Array.isArray(parsed.labels) ? parsed.labels : parsed;
    return new Map(Object.entries(table as Record<string, unknown>).map(([file, label]) => [resolve(folder, file), label]));
  } catch {
    return undefined; // not a label file we understand: no labels from it
  }
}

/**
 * Finds the true labels of images when they are known: from a `labels.json` next to them (or in the
 * parent folder, as in fixtures/digits/) or from `<index>_<label>.png` names whose label is one of
 * the model's class names.
 */
class LabelLookup {
  private readonly files = new Map<string, Promise<Map<string, unknown> | undefined>>();

  constructor(private readonly labels: readonly string[]) {}

  private classIndex(value: unknown): number | undefined {
    if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 && value < this.labels.length) return value;
    if (typeof value === 'string') {
      const index = this.labels.indexOf(value);
      if (index >= 0) return index;
    }
    return undefined;
  }

  async label(path: string): Promise<number | undefined> {
    const absolute = resolve(path);
    for (const folder of [dirname(absolute), dirname(dirname(absolute))]) {
      let table = this.files.get(folder);
      if (!table) this.files.set(folder, (table = readLabelFile(folder)));
      const entries = await table;
      if (entries?.has(absolute)) return this.classIndex(entries.get(absolute));
    }
    const match = /^\d+_(.+)\.[a-z0-9]+$/i.exec(basename(path));
    return match ? this.classIndex(match[1]) : undefined;
  }
}

function formatPredictions(predictions: readonly Prediction[]): string {
  return predictions.map((p) => `${p.label} ${(p.score * 100).toFixed(2)}%`).join(', ');
}

/** The rule behind the default model's hint: it was trained on 32x32 renderings of handwritten digits. */
const DIGITS_SIZE = 32;

export function registerClassify(program: Command, context: CommandContext): void {
  const command = addBuildOptions(program.command('classify'))
    .description('classify images with a model (default: the bundled digits ViT, models/digits-vit, which knows only 32x32 handwritten digits)')
    .argument('<images...>', 'image files (JPEG, PNG, WebP, GIF, TIFF, AVIF) or folders of them')
    .option(
      '-m, --model <name>',
      'a registry name (deit_small_patch16_224.fb_in1k, see `vitzoo list`; fetched from its hub repo or release), ' +
        'a hub repo org/repo[@revision] (timm or transformers.js ONNX layout), a URL of a .safetensors/.pth/.onnx file (with --arch), ' +
        `a model folder or fixture case, or a bundled model name (default ${DEFAULT_MODEL}, from the repository's models/); repeat it for an ensemble`,
      (value: string, previous: string[]) => [...previous, value],
      [] as string[],
    )
    .option('--combine <how>', 'ensembles (several --model): mean-probs (the mean of the softmax probabilities) or mean-logits', 'mean-probs')
    .option('-k, --top-k <n>', 'classes to print per image', '5')
    .option('--threshold <p>', 'leave out classes scoring below this probability')
    .option('--json', `one JSON line per image: {"version": ${JSON_FORMAT_VERSION}, "image", "predictions": [{"index", "label", "score"}]}; then {"version", "accuracy", "correct", "total"} when labels are known`)
    .option('--backend <name>', 'runtime backend', 'node')
    .option('--weights <file>', 'weights file to use instead of the model folder\'s model.safetensors')
    .option('--batch-size <n>', 'images per inference call', '32')
    .option('--max-pixels <n>', 'refuse images with more pixels than this (decompression bombs); default 89478485, as PIL; also the most decoded pixels held at once')
    .option('--quantized', 'ONNX hub repos: take onnx/model_quantized.onnx instead of onnx/model.onnx');
  // Where models come from: the flags every command that fetches models takes (--revision, --offline, --arch, …).
  addModelSourceOptions(command, { graphCache: true }).action(async (imageArguments: string[], options: ClassifyCommandOptions) => {
    const { io } = context;
    if (options.model.some((name) => name.trim() === '')) {
      throw new InvalidArgumentError('--model', '--model needs a value: a registry name, org/repo, a URL or a folder (leave the option out for the default model).');
    }
    const images = await expandImageArguments(imageArguments, io.cwd);
    const topK = positiveInteger(options.topK, '--top-k');
    const batchSize = positiveInteger(options.batchSize, '--batch-size');
    const threshold = options.threshold === undefined ? undefined : options.threshold.trim() === '' ? Number.NaN : Number(options.threshold);
    if (threshold !== undefined && !(threshold >= 0 && threshold <= 1)) {
      throw new InvalidArgumentError('--threshold', `--threshold must be a probability between 0 and 1, got '${options.threshold}'.`);
    }
    const maxPixels = options.maxPixels === undefined ? undefined : positiveInteger(options.maxPixels, '--max-pixels');
    const precision = buildOptions(options);
    const registry = await context.registry();
    const loader = createModelLoader(context, registry, options);
    const names = options.model.length > 0 ? options.model : [undefined];
    if (options.model.length === 0 && loader.argument(undefined) === DEFAULT_MODEL) {
      throw new InvalidArgumentError(
        'model',
        `No --model given and the default model (models/${DEFAULT_MODEL} of the vitzoo repository) was not found from ${io.cwd}; name a model folder with --model.`,
      );
    }
    if (options.combine !== 'mean-probs' && options.combine !== 'mean-logits') throw new InvalidArgumentError('--combine', `--combine must be mean-probs or mean-logits, got '${options.combine}'.`);
    if (names.length > 1 && options.weights) throw new InvalidArgumentError('--weights', '--weights names one weights file: give it with a single --model.');
    const backend = await resolveBackend([options.backend]);
    const members: Model[] = [];
    let model: Model | Ensemble;
    try {
      for (const name of names) members.push(await loader.load(name, { backend, batchSize, ...precision, weights: options.weights ? resolve(io.cwd, options.weights) : undefined }));
      // Several models: an ensemble, each member preprocessing the images its own way.
      model = members.length === 1 ? members[0]! : createEnsemble(members, { combine: options.combine as EnsembleCombine });
    } catch (error) {
      for (const member of members) await member.dispose();
      throw error;
    }
    const modelPaths = names.map((name) => loader.argument(name));
    try {
      const transforms = members.map((member) => member.transform);
      const lookup = new LabelLookup(model.labels ?? []);
      const notDigits: string[] = [];
      let failed = 0;
      let correct = 0;
      let total = 0;
      let allLabelled = model.labels !== undefined;
      // Decoded lazily, in batches of at most --batch-size images and --max-pixels decoded pixels
      // (an image larger than that alone): a batch never holds more than that in memory.
      const batches = readImageFileBatches(images, {
        cwd: io.cwd,
        batchSize,
        maxPixels: maxPixels ?? Math.min(...transforms.map((transform) => transform.maxPixels)),
        check: (image, path) => {
          for (const transform of transforms) transform.geometry(image, path); // images a transform cannot use fail here, named
        },
      });
      for await (const batch of batches) {
        const good = batch.files.filter((entry) => entry.image !== undefined);
        const results = good.length > 0 ? await model.classify(good.map((entry) => entry.image!), { topK, threshold }) : [];
        let next = 0;
        for (const entry of batch.files) {
          if (entry.error) {
            failed++;
            if (options.json) io.stdout(`${JSON.stringify({ version: JSON_FORMAT_VERSION, image: entry.path, error: entry.error.toJSON() })}\n`);
            io.stderr(`error: ${entry.error.message}\n`);
            continue;
          }
          if (options.model.length === 0 && (entry.image!.width !== DIGITS_SIZE || entry.image!.height !== DIGITS_SIZE)) {
            notDigits.push(`${entry.path} (${entry.image!.width}x${entry.image!.height})`);
          }
          const predictions = results[next++]!;
          const truth = allLabelled ? await lookup.label(resolve(io.cwd, entry.path)) : undefined;
          if (truth === undefined) allLabelled = false;
          else {
            total++;
            if (predictions[0]?.index === truth) correct++; // the first prediction is the argmax (unless --threshold left none)
          }
          if (options.json) {
            io.stdout(`${JSON.stringify({ version: JSON_FORMAT_VERSION, image: entry.path, predictions })}\n`);
          } else {
            const verdict = truth === undefined ? '' : predictions[0]?.index === truth ? '  (correct)' : `  (WRONG: labelled ${model.labels![truth]})`;
            io.stdout(`${entry.path}: ${formatPredictions(predictions) || '(no class above the threshold)'}${verdict}\n`);
          }
        }
      }
      if (allLabelled && total > 0 && failed === 0) {
        const accuracy = correct / total;
        if (options.json) io.stdout(`${JSON.stringify({ version: JSON_FORMAT_VERSION, accuracy, correct, total })}\n`);
        else io.stdout(`\naccuracy: ${correct}/${total} = ${(accuracy * 100).toFixed(2)}% (${modelPaths.map((path) => relative(io.cwd, path) || path).join(' + ')})\n`);
      }
      if (notDigits.length > 0) {
        io.stderr(
          `hint: the default model (models/${DEFAULT_MODEL}) knows only ${DIGITS_SIZE}x${DIGITS_SIZE} images of handwritten digits (scikit-learn's digits); ` +
            `${notDigits.length} image(s) here are not ${DIGITS_SIZE}x${DIGITS_SIZE} (${notDigits.slice(0, 3).join(', ')}${notDigits.length > 3 ? ', …' : ''}), so its answers mean little for them. ` +
            'For photos, name a model: --model deit_small_patch16_224.fb_in1k (see `vitzoo list`).\n',
        );
      }
      if (failed > 0) {
        if (!options.json) io.stderr(`${failed} of ${images.length} image(s) could not be classified.\n`);
        context.exit.code = EXIT.failure;
      }
    } finally {
      await model.dispose();
    }
  });
}
