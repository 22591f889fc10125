import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { readFile, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { InvalidArgumentError, VitzooError } from '@vitzoo/core';
import { createEnsemble, readImageFile, resolveBackend, type Ensemble, type EnsembleCombine, type Model, type Prediction } from '@vitzoo/pipeline/node';
import type { RawImage } from '@vitzoo/preprocess/node';
import '@vitzoo/runtime-node'; // registers the 'node' backend
import { EXIT } from '../exit.js';
import { positiveInteger } from '../option-values.js';
import { DEFAULT_MODEL } from '../model-dir.js';
import { createModelLoader, type ModelSourceFlags } from '../model-loading.js';
import { addPrecisionOptions, precisionOptions, type PrecisionFlags } from '../precision-options.js';

interface ClassifyCommandOptions extends ModelSourceFlags, PrecisionFlags {
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

const IMAGE_EXTENSIONS = /\.(png|jpe?g|webp|gif|tiff?|avif|heic|heif)$/i;

/** Image arguments with folders expanded to the image files in them (by extension, sorted by name; not recursive). */
export async function expandImageArguments(images: readonly string[], cwd: string): Promise<string[]> {
  const out: string[] = [];
  for (const image of images) {
    const info = await stat(resolve(cwd, image)).catch(() => null);
    if (!info?.isDirectory()) {
      out.push(image);
      continue;
    }
    const names = (await readdir(resolve(cwd, image))).filter((name) => IMAGE_EXTENSIONS.test(name)).sort();
    if (names.length === 0) throw new InvalidArgumentError('images', `The folder ${image} holds no image files (.png, .jpg, .jpeg, .webp, .gif, .tif, .tiff, .avif, .heic, .heif).`);
    out.push(...names.map((name) => join(image, name)));
  }
  return out;
}

function formatPredictions(predictions: readonly Prediction[]): string {
  return predictions.map((p) => `${p.label} ${(p.score * 100).toFixed(2)}%`).join(', ');
}

export function registerClassify(program: Command, context: CommandContext): void {
  addPrecisionOptions(program.command('classify'))
    .description('classify images with a model (default: the bundled digits ViT, models/digits-vit)')
    .argument('<images...>', 'image files (JPEG, PNG, WebP, GIF, TIFF, AVIF) or folders of them')
    .option('-m, --model <name|dir>', `model folder (timm hub layout or fixture case) or bundled model name (default ${DEFAULT_MODEL}, from the repository's models/); repeat it for an ensemble`, (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option('--combine <how>', 'ensembles (several --model): mean-probs (the mean of the softmax probabilities) or mean-logits', 'mean-probs')
    .option('-k, --top-k <n>', 'classes to print per image', '5')
    .option('--threshold <p>', 'leave out classes scoring below this probability')
    .option('--json', 'one JSON line per image: {"image", "predictions": [{"index", "label", "score"}]}; then {"accuracy", "correct", "total"} when labels are known')
    .option('--backend <name>', 'runtime backend', 'node')
    .option('--weights <file>', 'weights file to use instead of the model folder\'s model.safetensors')
    .option('--batch-size <n>', 'images per inference call', '32')
    .option('--max-pixels <n>', 'refuse images with more pixels than this (decompression bombs); default 89478485, as PIL')
    .option('--revision <rev>', 'hub models: branch, tag or commit (default main; or org/repo@rev)')
    .option('--quantized', 'ONNX hub repos: take onnx/model_quantized.onnx instead of onnx/model.onnx')
    .option('--offline', 'never touch the network; fail naming the files the cache lacks (also VITZOO_OFFLINE=1 / HF_HUB_OFFLINE=1)')
    .option('--refresh', 'ask the hub again even when the revision is cached')
    .option('--cache-dir <dir>', 'cache folder for downloads and built graphs (default VITZOO_CACHE, else $XDG_CACHE_HOME/vitzoo, else ~/.cache/vitzoo)')
    .option('--timeout <seconds>', 'seconds without data before a download fails', '30')
    .option('--no-graph-cache', 'convert the checkpoint on every run instead of caching the built ONNX graph')
    .action(async (imageArguments: string[], options: ClassifyCommandOptions) => {
      const { io } = context;
      const images = await expandImageArguments(imageArguments, io.cwd);
      const topK = positiveInteger(options.topK, '--top-k');
      const batchSize = positiveInteger(options.batchSize, '--batch-size');
      const threshold = options.threshold === undefined ? undefined : Number(options.threshold);
      if (threshold !== undefined && !(threshold >= 0 && threshold <= 1)) {
        throw new InvalidArgumentError('--threshold', `--threshold must be a probability between 0 and 1, got '${options.threshold}'.`);
      }
      const maxPixels = options.maxPixels === undefined ? undefined : positiveInteger(options.maxPixels, '--max-pixels');
      const precision = precisionOptions(options);
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
        let failed = 0;
        let correct = 0;
        let total = 0;
        let allLabelled = model.labels !== undefined;
        for (let start = 0; start < images.length; start += batchSize) {
          const chunk = images.slice(start, start + batchSize);
          // Decode the chunk; a bad image is reported with its path and the rest go on.
          const decoded = await Promise.all(
            chunk.map(async (image): Promise<{ image: string; pixels?: RawImage; error?: VitzooError }> => {
              try {
                const pixels = await readImageFile(image, { cwd: io.cwd, maxPixels: maxPixels ?? Math.min(...transforms.map((transform) => transform.maxPixels)) });
                for (const transform of transforms) transform.geometry(pixels, image); // images a transform cannot use fail here, named
                return { image, pixels };
              } catch (error) {
                if (VitzooError.isInstance(error)) return { image, error };
                throw error;
              }
            }),
          );
          const good = decoded.filter((entry) => entry.pixels !== undefined);
          const results = good.length > 0 ? await model.classify(good.map((entry) => entry.pixels!), { topK, threshold }) : [];
          let next = 0;
          for (const entry of decoded) {
            if (entry.error) {
              failed++;
              if (options.json) io.stdout(`${JSON.stringify({ image: entry.image, error: entry.error.toJSON() })}\n`);
              io.stderr(`error: ${entry.error.message}\n`);
              continue;
            }
            const predictions = results[next++]!;
            const truth = allLabelled ? await lookup.label(resolve(io.cwd, entry.image)) : undefined;
            if (truth === undefined) allLabelled = false;
            else {
              total++;
              if (predictions[0]?.index === truth) correct++; // the first prediction is the argmax (unless --threshold left none)
            }
            if (options.json) {
              io.stdout(`${JSON.stringify({ image: entry.image, predictions })}\n`);
            } else {
              const verdict = truth === undefined ? '' : predictions[0]?.index === truth ? '  (correct)' : `  (WRONG: labelled ${model.labels![truth]})`;
              io.stdout(`${entry.image}: ${formatPredictions(predictions) || '(no class above the threshold)'}${verdict}\n`);
            }
          }
        }
        if (allLabelled && total > 0 && failed === 0) {
          const accuracy = correct / total;
          if (options.json) io.stdout(`${JSON.stringify({ accuracy, correct, total })}\n`);
          else io.stdout(`\naccuracy: ${correct}/${total} = ${(accuracy * 100).toFixed(2)}% (${modelPaths.map((path) => relative(io.cwd, path) || path).join(' + ')})\n`);
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
