/**
 * @vitzoo/pipeline/node: model folders on disk (timm hub layout and fixture cases), weights files
 * (safetensors, or PyTorch checkpoints through the safe reader of @vitzoo/pytorch), `loadModel`.
 */
import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import {
  BackendUnavailableError,
  FileNotFoundError,
  InvalidArgumentError,
  InvalidImageError,
  InvalidConfigError,
  convertCheckpoint,
  parseSafetensors,
  type OutputName,
  type Registry,
  type StateDict,
} from '@vitzoo/core';
import { decodeImage, type RawImage } from '@vitzoo/preprocess/node';
import { detectPytorchFormat, readPytorchCheckpoint } from '@vitzoo/pytorch';
import { resolveBackend, type Backend, type SessionOptions } from '@vitzoo/runtime';
import { describeModelConfig, type ModelDescription } from './model-config.js';
import { Model } from './model.js';

export * from './index.js';

/** Reads a file, turning a missing path into a typed error naming what it was. */
export async function readRequiredFile(path: string, what: string): Promise<Uint8Array> {
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw new InvalidArgumentError('path', `${what} ${path} is a directory, not a file.`);
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new FileNotFoundError(path, what);
    throw error;
  }
}

/**
 * Loads a checkpoint file into a state dict. `.safetensors` files are read as safetensors. Other
 * files are sniffed: a zip archive or a pickle with torch's magic number, and any `.pth`/`.pt`/`.bin`
 * file, go to the safe PyTorch reader (a restricted unpickler that runs nothing); anything else is
 * read as safetensors.
 */
export async function loadWeights(path: string): Promise<StateDict> {
  const bytes = await readRequiredFile(path, 'Weights file');
  const pytorch = !path.endsWith('.safetensors') && (detectPytorchFormat(bytes) !== undefined || /\.(pth|pt|bin)$/i.test(path));
  if (pytorch) return readPytorchCheckpoint(bytes, { source: path }).stateDict;
  return parseSafetensors(bytes, { source: path }).tensors;
}

/**
 * Reads and decodes an image file (sharp, see @vitzoo/preprocess/node `decodeImage`), resolving
 * `path` against `cwd` but naming it in errors as given: a missing file is `FileNotFoundError`; a
 * folder, an unreadable file, or data that is corrupt, truncated, empty, of an unsupported format
 * or over `maxPixels` pixels (default PIL's limit) is `InvalidImageError`.
 */
export async function readImageFile(path: string, options: { cwd?: string; maxPixels?: number } = {}): Promise<RawImage> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(options.cwd === undefined ? path : resolve(options.cwd, path));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FileNotFoundError(path, 'Image file');
    if (code === 'EISDIR') throw new InvalidImageError(path, 'it is a folder, not an image file');
    throw new InvalidImageError(path, `it cannot be read (${(error as Error).message})`, { cause: error });
  }
  return decodeImage(bytes, path, options.maxPixels === undefined ? {} : { maxPixels: options.maxPixels });
}

/** A model folder: what to build, with what preprocessing, and where the weights are. */
export interface ModelSource extends ModelDescription {
  /** The folder. */
  dir: string;
  /** Weights file: `--weights`, else `model.safetensors`, else `pytorch_model.bin` (timm hub names). */
  weights: string;
  /** The parsed config.json. */
  config: Record<string, unknown>;
}

/** Weights file names looked for in a model folder, in order. */
export const WEIGHTS_FILE_NAMES = ['model.safetensors', 'pytorch_model.bin'] as const;

async function isFile(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isFile() ?? false;
}

/**
 * Reads a model folder: `config.json` in the timm hub layout (`architecture` = registered variant
 * name, `num_classes`, `model_args`, `pretrained_cfg` incl. `label_names`) or a fixture case
 * (`architecture` id + `kwargs`), see `describeModelConfig`. The weights are not read here.
 */
export async function readModelFolder(dir: string, registry: Registry, weights?: string): Promise<ModelSource> {
  const info = await stat(dir).catch(() => null);
  if (!info) throw new FileNotFoundError(dir, 'Model folder');
  if (!info.isDirectory()) throw new InvalidArgumentError('path', `${dir} is a file; give the folder that holds config.json and the weights.`);
  const configPath = join(dir, 'config.json');
  const text = new TextDecoder().decode(await readRequiredFile(configPath, 'Model config'));
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (error) {
    throw new InvalidConfigError('config.json', text.slice(0, 40), `valid JSON (${(error as Error).message})`, configPath);
  }
  const description = describeModelConfig(config, registry, configPath);
  let weightsPath = weights;
  if (weightsPath === undefined) {
    for (const name of WEIGHTS_FILE_NAMES) {
      if (await isFile(join(dir, name))) {
        weightsPath = join(dir, name);
        break;
      }
    }
  }
  return { ...description, dir, weights: weightsPath ?? join(dir, WEIGHTS_FILE_NAMES[0]), config: config as Record<string, unknown> };
}

export interface LoadModelOptions {
  /** Backend to run on; default: the best registered one (importing @vitzoo/runtime-node registers 'node'). */
  backend?: Backend;
  /** Registry of architectures; default `createDefaultRegistry()` from the 'vitzoo' package. */
  registry?: Registry;
  /** Outputs to build (default ['logits']; add 'pre_logits' to `embed`). */
  outputs?: readonly OutputName[];
  /** Weights file instead of the folder's model.safetensors (e.g. a .pth checkpoint). */
  weights?: string;
  labelNames?: readonly string[];
  sessionOptions?: SessionOptions;
  batchSize?: number;
  /**
   * Extension point for sources that are not local folders (a hub id, a URL): called with the
   * name when `nameOrDir` is not an existing folder, it returns the local folder that holds the
   * model (e.g. after downloading it into a cache). @vitzoo/hub provides one; vitzoo itself never
   * downloads.
   */
  resolveSource?: (name: string, options: { signal?: AbortSignal }) => Promise<string>;
  signal?: AbortSignal;
}

async function defaultRegistry(): Promise<Registry> {
  const specifier = 'vitzoo';
  try {
    const module = (await import(specifier)) as { createDefaultRegistry(): Registry };
    return module.createDefaultRegistry();
  } catch (error) {
    throw new InvalidArgumentError(
      'registry',
      `No registry given and the 'vitzoo' package (which registers every built-in architecture) could not be loaded: ${(error as Error).message}. ` +
        'Install vitzoo or pass { registry }.',
    );
  }
}

async function defaultBackend(): Promise<Backend> {
  const specifier = '@vitzoo/runtime-node';
  try {
    await import(specifier); // registers the 'node' backend
  } catch (error) {
    throw new BackendUnavailableError([{ backend: 'node', reason: `@vitzoo/runtime-node could not be loaded (${(error as Error).message})` }]);
  }
  return resolveBackend();
}

/** Where a model name or folder is: an existing folder, or what `resolveSource` returns. */
export async function locateModel(
  nameOrDir: string,
  registry: Registry,
  options: Pick<LoadModelOptions, 'resolveSource' | 'signal'> = {},
): Promise<string> {
  if (typeof nameOrDir !== 'string' || nameOrDir === '') throw new InvalidArgumentError('model', 'Name a model folder (or a model name with a source resolver).');
  const info = await stat(nameOrDir).catch(() => null);
  if (info?.isDirectory()) return nameOrDir;
  if (info) throw new InvalidArgumentError('model', `${nameOrDir} is a file; give the folder that holds config.json and the weights.`);
  if (options.resolveSource) return options.resolveSource(nameOrDir, { signal: options.signal });
  const looksLikePath = isAbsolute(nameOrDir) || nameOrDir.startsWith('.') || nameOrDir.includes('\\') || /^[^:]*\/[^/]*\//.test(nameOrDir);
  if (looksLikePath) throw new FileNotFoundError(nameOrDir, 'Model folder');
  registry.resolve(nameOrDir); // an unknown name: UnknownModelError with suggestions
  throw new InvalidArgumentError(
    'model',
    `'${nameOrDir}' is a registered model, but no folder of that name exists and vitzoo does not download weights: ` +
      'give a local model folder (timm hub layout: config.json + model.safetensors), or pass a resolveSource (e.g. from @vitzoo/hub).',
  );
}

/**
 * Loads a model from a local folder (timm hub layout or a fixture case): reads its config and
 * weights, builds the ONNX graph with the requested outputs and opens a session. A name that is not
 * a folder goes to `options.resolveSource` when given.
 */
export async function loadModel(nameOrDir: string, options: LoadModelOptions = {}): Promise<Model> {
  const registry = options.registry ?? (await defaultRegistry());
  const dir = await locateModel(nameOrDir, registry, options);
  const source = await readModelFolder(dir, registry, options.weights);
  const stateDict = await loadWeights(source.weights);
  options.signal?.throwIfAborted();
  const backend = options.backend ?? (await defaultBackend());
  const graph = convertCheckpoint({ architecture: source.architecture, kwargs: source.kwargs, stateDict, outputs: options.outputs ?? ['logits'] });
  return Model.create({
    graph,
    backend,
    pretrained: source.pretrained,
    labelNames: options.labelNames,
    sessionOptions: options.sessionOptions,
    batchSize: options.batchSize,
  });
}
