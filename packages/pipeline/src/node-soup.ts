/**
 * Soups of models on disk: model folders, weights files and (through a source resolver) registry
 * names and hub repos, averaged one tensor at a time into a new model folder.
 */
import { open, readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InvalidArgumentError, UnsupportedError, convertCheckpoint, type Registry, type StateDict } from '@vitzoo/core';
import { createTransform } from '@vitzoo/preprocess';
import type { Backend } from '@vitzoo/runtime';
import { resolveLabelNames } from './labels.js';
import { createModel } from './model.js';
import { prepareOutputFolder, writeModelFolder } from './node-model-folder.js';
import { isTransformersConfig, loadWeights, locateModelSource, readModelFolder, type ModelSource, type ResolveSource } from './node.js';
import type { ProgressCallback } from './progress.js';
import {
  greedySoup,
  prepareSoup,
  safetensorsIngredient,
  wholeStateDictIngredient,
  type ByteSource,
  type GreedySoupStep,
  type SoupIngredient,
} from './soup.js';
import { alignLabels, type LabelledImages } from './train-head.js';

/** A file read by byte ranges (for `safetensorsIngredient`); close it when done. */
export async function fileByteSource(path: string): Promise<ByteSource & { close(): Promise<void> }> {
  const handle = await open(path, 'r');
  const { size } = await handle.stat();
  return {
    size,
    read: async (offset, length) => {
      const bytes = new Uint8Array(Math.max(0, Math.min(length, size - offset)));
      let filled = 0;
      while (filled < bytes.byteLength) {
        const { bytesRead } = await handle.read(bytes, filled, bytes.byteLength - filled, offset + filled);
        if (bytesRead === 0) return bytes.subarray(0, filled);
        filled += bytesRead;
      }
      return bytes;
    },
    close: () => handle.close(),
  };
}

/** An ingredient opened from disk, with what its folder says about it. */
export interface OpenedIngredient {
  ingredient: SoupIngredient;
  /** The model folder, when the source is one (its config.json and description in `model`). */
  model?: ModelSource;
  /** The weights file read. */
  weights: string;
  /** Closes the file. */
  close(): Promise<void>;
}

export interface OpenIngredientOptions {
  registry: Registry;
  /** The ingredient's name in reports and errors (default the source as given). */
  name?: string;
  /** For names that are not local paths (registry names, hub repos): see `loadModel`. */
  resolveSource?: ResolveSource;
  /** Base of relative paths (default the process's working directory). */
  cwd?: string;
  signal?: AbortSignal;
}

async function weightsIngredient(name: string, weights: string, model?: ModelSource): Promise<OpenedIngredient> {
  const described = model ? { architecture: model.architecture.id, config: model.architecture.parseConfig(model.kwargs) } : undefined;
  if (/\.safetensors$/i.test(weights)) {
    const info = await stat(weights).catch(() => null);
    if (!info?.isFile()) return { ingredient: wholeStateDictIngredient(name, () => loadWeights(weights), described), weights, ...(model ? { model } : {}), close: async () => undefined };
    const file = await fileByteSource(weights);
    return { ingredient: safetensorsIngredient(name, file, described), weights, ...(model ? { model } : {}), close: () => file.close() };
  }
  // PyTorch archives (.pth, .pt, .bin) have no index to read one tensor from: loaded whole, one at a time.
  return { ingredient: wholeStateDictIngredient(name, () => loadWeights(weights), described), weights, ...(model ? { model } : {}), close: async () => undefined };
}

async function isOnnxLayout(dir: string): Promise<boolean> {
  try {
    const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as unknown;
    return typeof config === 'object' && config !== null && !Array.isArray(config) && isTransformersConfig(config as Record<string, unknown>);
  } catch {
    return false; // readModelFolder names what is wrong with the folder
  }
}

/**
 * Opens a soup ingredient: a model folder (timm hub layout or fixture case; its weights file), a
 * `.safetensors` file (read one tensor at a time), a `.pth` / `.pt` / `.bin` checkpoint (read
 * whole, through the safe reader of @vitzoo/pytorch), or a name `resolveSource` turns into a folder
 * (registry names, hub repos). ONNX-layout folders have no checkpoint to average (UnsupportedError).
 */
export async function openSoupIngredient(source: string, options: OpenIngredientOptions): Promise<OpenedIngredient> {
  if (typeof source !== 'string' || source === '') throw new InvalidArgumentError('ingredients', 'Name each ingredient: a model folder, a weights file, a registry name or a hub repo.');
  const path = resolve(options.cwd ?? process.cwd(), source);
  const info = await stat(path).catch(() => null);
  const name = options.name ?? source;
  if (info?.isFile()) return weightsIngredient(name, path);
  const location = info?.isDirectory() ? { dir: path } : await locateModelSource(source, options.registry, { resolveSource: options.resolveSource, signal: options.signal });
  if (location.layout === 'onnx' || (location.layout === undefined && (await isOnnxLayout(location.dir)))) throw new UnsupportedError(`${source} is an ONNX (transformers.js layout) model: it has no checkpoint to average. Soups need weights (timm layout, .safetensors or .pth).`);
  const model = await readModelFolder(location.dir, options.registry, location.modelFile !== undefined ? resolve(location.dir, location.modelFile) : undefined);
  return weightsIngredient(name, model.weights, model);
}

export interface SoupModelsOptions {
  /** The folder to write (created; must be new or empty unless `overwrite`; never an ingredient's). */
  outDir: string;
  /** Where the ingredients' architectures are registered (e.g. `createDefaultRegistry()` of 'vitzoo'). */
  registry: Registry;
  /** Runs the greedy soup's candidates (e.g. `nodeBackend` of @vitzoo/runtime-node); needed with `heldOut`. */
  backend?: Backend;
  resolveSource?: ResolveSource;
  cwd?: string;
  /** How the report and config.json name each model, in order (default: the sources as given). */
  names?: readonly string[];
  /** Uniform soup: per-ingredient weights (default equal). */
  weights?: readonly number[];
  /**
   * Greedy soup on these labelled images (classes matched to the model's class names): the
   * ingredients are scored one by one, then added best first while the held-out count does not drop.
   */
  heldOut?: LabelledImages;
  /** Images per inference call when scoring (default 64). */
  batchSize?: number;
  overwrite?: boolean;
  /** `{ stage: 'soup', loaded, total }` (tensors written), `{ stage: 'evaluate', loaded, total }` (greedy candidates scored). */
  progress?: ProgressCallback;
  signal?: AbortSignal;
}

export interface SoupReport {
  method: 'uniform' | 'greedy';
  /** Ingredients as given, with their held-out correct counts (greedy). */
  ingredients: { name: string; weights: string; score?: number }[];
  /** The ingredients in the soup (uniform: all; greedy: the chosen, in the order added). */
  chosen: string[];
  /** Greedy: ingredients by held-out score, best first. */
  order?: string[];
  steps?: GreedySoupStep[];
  /** Greedy: held-out images and the chosen soup's correct count. */
  heldOut?: { total: number; correct: number };
  /** What was written. */
  output: { dir: string; weights: string; config: string; bytes: number };
}

/** The recipe recorded in the soup's config.json. */
function soupConfig(config: Record<string, unknown>, recipe: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = JSON.parse(JSON.stringify(config));
  delete out.test_accuracy; // the first ingredient's, not the soup's
  delete out.test_correct;
  out.soup = recipe;
  return out;
}

/**
 * Averages models into a new model folder (config.json of the first ingredient that has one, with
 * the recipe under `soup`; model.safetensors, float32). Uniform by default (one tensor at a time,
 * so memory stays near one tensor per ingredient plus its float64 accumulator); greedy with
 * `heldOut` (Wortsman et al., 2022: see `greedySoup`). Every ingredient must be the same model
 * (architecture, config, tensor names and shapes): otherwise an `IncompatibleModelsError`
 * listing the differences, before anything is written.
 */
export async function soupModels(sources: readonly string[], options: SoupModelsOptions): Promise<SoupReport> {
  if (!Array.isArray(sources) || sources.length === 0) throw new InvalidArgumentError('ingredients', 'A soup needs at least one model.');
  if (options.names !== undefined && options.names.length !== sources.length) throw new InvalidArgumentError('names', `names must give one name per model (${sources.length}), got ${options.names.length}.`);
  const { registry } = options;
  if (!registry || typeof registry.resolve !== 'function') throw new InvalidArgumentError('registry', "soupModels needs a registry (e.g. createDefaultRegistry() from 'vitzoo').");
  const opened: OpenedIngredient[] = [];
  try {
    for (const [i, source] of sources.entries()) {
      opened.push(await openSoupIngredient(source, { registry, resolveSource: options.resolveSource, cwd: options.cwd, signal: options.signal, name: options.names?.[i] }));
    }
    const reference = opened.find((entry) => entry.model)?.model;
    if (!reference) {
      throw new InvalidArgumentError('ingredients', 'None of the ingredients is a model folder, so there is no config.json for the soup: give at least one model folder (or registry name / hub repo) among them.');
    }
    const ingredients = opened.map((entry) => entry.ingredient);
    const soup = await prepareSoup(ingredients, { weights: options.weights, progress: options.progress, signal: options.signal }); // checks compatibility before anything is written
    const inputs = opened.flatMap((entry) => (entry.model ? [entry.model.dir] : []));
    await prepareOutputFolder(resolve(options.cwd ?? process.cwd(), options.outDir), { overwrite: options.overwrite, inputs });
    const outDir = resolve(options.cwd ?? process.cwd(), options.outDir);
    const listed = opened.map((entry, i) => ({ name: soup.ingredients[i]!, weights: entry.weights }));
    if (!options.heldOut) {
      const output = await writeModelFolder(outDir, {
        config: soupConfig(reference.config, { method: 'uniform', ingredients: soup.ingredients, ...(options.weights ? { weights: soup.weights } : {}), accumulation: 'float64, stored float32' }),
        tensors: soup.output,
        data: soup.tensors(),
      });
      return { method: 'uniform', ingredients: listed, chosen: [...soup.ingredients], output: { dir: outDir, ...output } };
    }
    const { backend } = options;
    if (!backend) throw new InvalidArgumentError('backend', 'A greedy soup runs its candidates: pass a backend (e.g. nodeBackend from @vitzoo/runtime-node).');
    const heldOut = options.heldOut;
    const labels = resolveLabelNames(reference.pretrained.numClasses, reference.pretrained);
    const targets = alignLabels(heldOut, labels, { argument: 'heldOut', owner: 'the model' });
    const images = [];
    for (let i = 0; i < targets.length; i += 1) images.push(await heldOut.image(i));
    const pixels = createTransform(reference.pretrained).applyBatch(images); // preprocessed once for every candidate
    const evaluate = async (stateDict: StateDict): Promise<number> => {
      const graph = convertCheckpoint({ architecture: reference.architecture, kwargs: reference.kwargs, stateDict, outputs: ['logits'] });
      const model = await createModel({ graph, backend, pretrained: reference.pretrained, batchSize: options.batchSize ?? 64 });
      try {
        const predictions = await model.classify(pixels, { topK: 1, signal: options.signal });
        return predictions.reduce((count, [top], i) => count + (top?.index === targets[i] ? 1 : 0), 0);
      } finally {
        await model.dispose();
      }
    };
    const result = await greedySoup(ingredients, { evaluate, progress: options.progress, signal: options.signal });
    const output = await writeModelFolder(outDir, {
      config: soupConfig(reference.config, {
        method: 'greedy',
        ingredients: soup.ingredients,
        held_out: { images: targets.length, correct: Object.fromEntries(result.ingredients.map((entry) => [entry.name, entry.score])) },
        order: result.order,
        chosen: result.chosen,
        correct: result.score,
        accumulation: 'float64, stored float32',
      }),
      data: result.stateDict,
    });
    return {
      method: 'greedy',
      ingredients: listed.map((entry, i) => ({ ...entry, score: result.ingredients[i]!.score })),
      chosen: result.chosen,
      order: result.order,
      steps: result.steps,
      heldOut: { total: targets.length, correct: result.score },
      output: { dir: outDir, ...output },
    };
  } finally {
    for (const entry of opened) await entry.close();
  }
}
