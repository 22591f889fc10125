import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, UnsupportedError, type PretrainedConfig, type Registry, type ResolvedModel } from '@vitzoo/core';
import type { ProgressListener } from './cache.js';
import { fetchHubModel } from './hub-model.js';
import { folderLayout, type LayoutOptions, type ModelLayout } from './layout.js';
import { checkRepoFileName } from './names.js';
import { cacheFolderError, createFileCache, writeFileAtomic, type FileCacheOptions, type FileHubCache } from './node-cache.js';
import { looksLikePath, parseModelSource, releaseTimmConfig } from './source.js';

export interface ResolveSourceOptions extends FileCacheOptions, LayoutOptions {
  /** Resolves registry names (`vit_tiny_patch16_224.augreg_in21k_ft_in1k`). */
  registry?: Registry;
  /** Revision when the source names none. Default 'main'. */
  revision?: string;
  progress?: ProgressListener;
  /** Ask the hub again even when the revision is cached. */
  refresh?: boolean;
  /** Base for relative paths. Default process.cwd(). */
  cwd?: string;
  /** Use this cache instead of creating one from the options. */
  cache?: FileHubCache;
  /**
   * A registry name (`arch_variant[.tag]`) saying what a bare model file at a URL is (weights or an
   * ONNX graph, no config.json beside it): its architecture, kwargs and pretrained config. Without
   * it, the URL's file name must be one (`…/deit_small_patch16_224.fb_in1k.safetensors`).
   */
  architecture?: string;
}

/** Extensions of model files a URL may name: weights, or an ONNX graph. */
export const MODEL_FILE_EXTENSIONS = ['.safetensors', '.pth', '.pt', '.bin', '.onnx'] as const;

/** A local folder the pipeline can load. */
export interface ResolvedSource {
  dir: string;
  layout: ModelLayout;
  /** Files of the model in `dir` ('/'-separated, relative). */
  files: string[];
  /** The weights (timm layout) or ONNX graph (onnx layout), relative to `dir`. */
  modelFile: string;
  /** The pinned commit (hub), or the revision asked for when the hub gave none; undefined for local/URL sources. */
  revision: string | undefined;
  /** What the source was parsed as, printable. */
  source: string;
  /** The registry name, when the source was one. */
  name?: string;
  /** The cache folder the files are in (hub, URL and registry sources); the pipeline keeps built graphs there too. */
  cacheDir?: string;
}

async function listFolder(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isFile() || entry.isSymbolicLink()) files.push(entry.name);
    else if (entry.isDirectory() && entry.name === 'onnx') {
      for (const inner of await readdir(join(dir, entry.name), { withFileTypes: true })) {
        if (inner.isFile() || inner.isSymbolicLink()) files.push(`onnx/${inner.name}`);
      }
    }
  }
  return files.sort();
}

async function resolveLocal(path: string, options: LayoutOptions): Promise<ResolvedSource> {
  const info = await stat(path).catch(() => null);
  if (!info) throw new InvalidArgumentError('model', `No such model folder or file: ${path}.`);
  if (info.isFile()) {
    const extension = extname(path).toLowerCase();
    if (!['.onnx', '.safetensors', '.pth', '.pt', '.bin'].includes(extension)) {
      throw new InvalidArgumentError('model', `${path}: expected a folder, an .onnx graph or a .safetensors/.pth/.bin checkpoint.`);
    }
    return { dir: dirname(path), layout: extension === '.onnx' ? 'onnx' : 'timm', files: [basename(path)], modelFile: basename(path), revision: undefined, source: path };
  }
  const files = await listFolder(path);
  const found = folderLayout(files, options);
  if (!found) {
    throw new InvalidArgumentError('model', `${path} holds no model: expected config.json with model.safetensors (timm layout) or onnx/model.onnx (transformers.js layout).`);
  }
  return { dir: path, ...found, files, revision: undefined, source: path };
}

function urlFileName(url: string): string {
  const last = decodeURIComponent(new URL(url).pathname.split('/').pop() ?? '');
  try {
    checkRepoFileName(last);
    return last;
  } catch {
    return 'download';
  }
}

/** Writes the generated config.json of a bare model file unless the same one is there (a changed `architecture` rewrites it). */
async function writeSyntheticConfig(dir: string, model: ResolvedModel, pretrained: PretrainedConfig, file: string): Promise<void> {
  const path = join(dir, 'config.json');
  const text = `${JSON.stringify(releaseTimmConfig(model, pretrained, file), null, 2)}\n`;
  if ((await readFile(path, 'utf8').catch(() => undefined)) === text) return;
  try {
    await writeFileAtomic(path, text);
  } catch (error) {
    throw cacheFolderError(error, dirname(dirname(dir)));
  }
}

/**
 * What a bare model file at a URL is, decided before anything is downloaded: the `architecture`
 * option, else the file's name when it is a registry name with a pretrained config; otherwise a
 * clear refusal (vitzoo never guesses an architecture from the weights).
 */
function bareFileModel(url: string, fileName: string, options: ResolveSourceOptions): { model: ResolvedModel; pretrained: PretrainedConfig } {
  const extension = extname(fileName).toLowerCase();
  if (!(MODEL_FILE_EXTENSIONS as readonly string[]).includes(extension)) {
    throw new InvalidArgumentError(
      'model',
      `${url} names '${fileName}'; a model URL must name a weights file (.safetensors, .pth, .pt, .bin) or an ONNX graph (.onnx). ` +
        'For a hub repo give org/repo; for a folder, its path.',
    );
  }
  const stem = fileName.slice(0, -extension.length);
  const named = options.architecture ?? stem;
  let model: ResolvedModel | undefined;
  if (options.registry) {
    try {
      model = options.registry.resolve(named);
    } catch (error) {
      if (options.architecture !== undefined) throw error; // UnknownModelError with suggestions
    }
  }
  if (!model) {
    throw new InvalidArgumentError(
      'architecture',
      `${url} is a bare ${extension === '.onnx' ? 'ONNX graph' : 'weights file'} and '${stem}' is not a registered model name, so vitzoo cannot tell its architecture and preprocessing. ` +
        'Name it with --arch <registry name> (architecture option; e.g. --arch deit_small_patch16_224.fb_in1k, see `vitzoo list`), ' +
        'or give a hub repo or folder with its config.json. Nothing was downloaded.',
    );
  }
  if (!model.pretrained) {
    throw new InvalidArgumentError('architecture', `'${named}' (${model.variant}) has no pretrained config to preprocess images with; name a variant.tag that has one (\`vitzoo list --names --pretrained\`).`);
  }
  return { model, pretrained: model.pretrained };
}

/**
 * Resolves what a user typed to a local folder the pipeline can load:
 * an existing folder or file as it is; `org/repo[@revision]` / `hf-hub:…` fetched into the cache
 * (timm or transformers.js ONNX layout, pinned to the hub's commit); a registry name through its
 * pretrained config (hub repo, or the authors' release file with a generated timm config.json);
 * an http(s) URL of a model file downloaded into the cache, with a timm config.json generated beside
 * it from the registry name the `architecture` option or the file's name gives (an `.onnx` graph then
 * runs as it is, preprocessed by that config). A model already cached is returned without any
 * request (`refresh` downloads URLs again).
 */
export async function resolveModelSource(nameOrPath: string, options: ResolveSourceOptions = {}): Promise<ResolvedSource> {
  if (typeof nameOrPath !== 'string' || nameOrPath.trim() === '') {
    throw new InvalidArgumentError('model', 'Empty model source: give a registry name, org/repo, a URL or a folder.');
  }
  const cwd = options.cwd ?? process.cwd();
  const localPath = /^file:/i.test(nameOrPath) ? fileURLToPath(nameOrPath) : resolve(cwd, nameOrPath);
  if (looksLikePath(nameOrPath) || (await stat(localPath).catch(() => null))) return resolveLocal(localPath, options);
  const spec = parseModelSource(nameOrPath, { registry: options.registry, revision: options.revision });
  const cache = options.cache ?? createFileCache(options);
  const layoutOptions = { quantized: options.quantized, progress: options.progress, refresh: options.refresh };
  const hub = spec.kind === 'hub' ? spec : spec.kind === 'registry' ? spec.hub : undefined;
  if (hub) {
    const model = await fetchHubModel(cache, hub.repo, hub.revision, layoutOptions);
    const pinned = model.commit ?? hub.revision;
    return {
      dir: cache.snapshotDir(hub.repo, pinned),
      layout: model.layout,
      files: model.files.map((file) => file.file),
      modelFile: model.modelFile,
      revision: pinned,
      source: `${hub.repo}@${hub.revision}`,
      ...(spec.kind === 'registry' ? { name: spec.name } : {}),
      cacheDir: cache.root,
    };
  }
  if (spec.kind === 'url') {
    const fileName = urlFileName(spec.url);
    const { model, pretrained } = bareFileModel(spec.url, fileName, options);
    const { path } = await cache.getUrl(spec.url, fileName, { progress: options.progress, refresh: options.refresh });
    await writeSyntheticConfig(dirname(path), model, pretrained, fileName);
    const name = model.tag === undefined ? model.variant : `${model.variant}.${model.tag}`;
    return { dir: dirname(path), layout: 'timm', files: ['config.json', fileName], modelFile: fileName, revision: undefined, source: spec.url, name, cacheDir: cache.root };
  }
  if (spec.kind === 'registry') {
    if (!spec.url) {
      throw new UnsupportedError(
        `${spec.name} has no download source registered (no hub repo or release url in its pretrained config). ` +
          `Download the weights yourself (see the ${spec.model.architecture.id} package README) and pass the folder.`,
      );
    }
    const fileName = spec.pretrained.file ?? urlFileName(spec.url);
    const { path } = await cache.getUrl(spec.url, fileName, { progress: options.progress, refresh: options.refresh });
    const dir = dirname(path);
    await writeSyntheticConfig(dir, spec.model, spec.pretrained, fileName);
    return { dir, layout: 'timm', files: ['config.json', fileName], modelFile: fileName, revision: undefined, source: spec.url, name: spec.name, cacheDir: cache.root };
  }
  if (spec.kind === 'local') return resolveLocal(resolve(cwd, spec.path), options);
  throw new UnsupportedError(`Cannot resolve model source ${JSON.stringify(nameOrPath)}.`);
}

/** A `resolveSource` function with fixed options, for `loadModel(name, { resolveSource })`. */
export function createSourceResolver(options: ResolveSourceOptions = {}): (nameOrPath: string) => Promise<ResolvedSource> {
  const cache = options.cache ?? createFileCache(options);
  return (nameOrPath) => resolveModelSource(nameOrPath, { ...options, cache });
}
