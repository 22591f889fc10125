import type { Command } from 'commander';
import type { Dtype, OutputName, ProgressListener, Registry } from '@vitzoo/core';
import { defaultCacheDir, type ResolvedSource } from '@vitzoo/hub/node';
import { loadGraph, loadModel, type Backend, type ExplainMethod, type LoadModelOptions, type Model, type ModelGraph, type SessionOptions } from '@vitzoo/pipeline/node';
import type { CommandContext } from './context.js';
import { createProgressBars, hubSourceResolver, sourceOptions, type ModelSourceFlags } from './model-sources.js';

export type { ModelSourceFlags };
import { DEFAULT_MODEL, resolveModelArgument } from './model-dir.js';

/** Registers the flags that say where models come from: --revision, --offline, --refresh, --cache-dir, --timeout, --deadline, --arch (and --no-graph-cache). */
export function addModelSourceOptions(command: Command, options: { graphCache?: boolean } = {}): Command {
  command
    .option('--revision <rev>', 'hub models: branch, tag or commit (default main; or org/repo@rev)')
    .option('--offline', 'never touch the network; fail naming the files the cache lacks (also VITZOO_OFFLINE=1 / HF_HUB_OFFLINE=1)')
    .option('--refresh', 'ask the hub again even when the revision is cached; download URLs again')
    .option('--cache-dir <dir>', 'cache folder for downloads and built graphs (default VITZOO_CACHE, else $XDG_CACHE_HOME/vitzoo, else ~/.cache/vitzoo)')
    .option('--timeout <seconds>', 'seconds without data before a download fails', '30')
    .option('--deadline <seconds>', 'seconds a whole file may take to download (default 3600)')
    .option('--arch <name>', "URL of a bare weights or .onnx file: the registry name saying what it is (default: the file's name, when it is one)");
  if (options.graphCache) command.option('--no-graph-cache', 'convert the checkpoint on every run instead of caching the built ONNX graph');
  return command;
}

export interface ModelLoader {
  /** For `loadModel` / `locateModelSource`: hub repos, registry names and URLs fetched into the cache (once per name). */
  resolveSource(name: string): Promise<ResolvedSource>;
  /** What a command-line model argument names: an existing path, a bundled model (models/<name>), or the name as given. */
  argument(name: string | undefined): string;
  /** Loads a model exactly as `vitzoo classify --model` does (hub resolver, built-graph cache, progress bars). */
  load(name: string | undefined, options: LoaderBuildOptions & { backend: Backend; batchSize?: number; sessionOptions?: SessionOptions }): Promise<Model>;
  /** The graph `load` would run, built (or found) in the graph cache, without a session. */
  graph(name: string | undefined, options: LoaderBuildOptions): Promise<ModelGraph>;
}

/** What a command asks the loader to build. */
export interface LoaderBuildOptions {
  weights?: string;
  outputs?: readonly string[];
  dtype?: Dtype;
  q4BlockSize?: number;
  imageSize?: readonly [number, number];
  /** Also build the outputs `Model.explain` reads with this method. */
  explain?: ExplainMethod;
}

/**
 * The one place the CLI loads models: `loadModel` of @vitzoo/pipeline/node with the hub source
 * resolver, the graph cache in the hub cache and progress bars on stderr.
 */
export function createModelLoader(context: CommandContext, registry: Registry, flags: ModelSourceFlags): ModelLoader {
  const { io } = context;
  const source = sourceOptions(flags, io.cwd);
  const resolved = new Map<string, Promise<ResolvedSource>>();
  const resolveWith = (progress: ProgressListener | undefined) => (name: string) => {
    let entry = resolved.get(name);
    if (!entry) resolved.set(name, (entry = hubSourceResolver(context, registry, { source, ...(progress ? { progress } : {}), json: flags.json })(name)));
    return entry;
  };
  /** Progress bars on stderr for the time `work` takes. */
  const withBars = async <T>(name: string | undefined, work: (progress: ProgressListener | undefined) => Promise<T>): Promise<T> => {
    const bars = createProgressBars(io, { ...flags, model: name ?? DEFAULT_MODEL });
    try {
      return await work(bars.progress);
    } finally {
      bars.stop();
    }
  };
  /** One set of loader options for sessions and bare graphs. */
  const loaderOptions = (options: LoaderBuildOptions, progress: ProgressListener | undefined): LoadModelOptions => ({
    registry,
    ...(options.weights !== undefined ? { weights: options.weights } : {}),
    ...(options.outputs ? { outputs: options.outputs as OutputName[] } : {}),
    ...(options.dtype ? { dtype: options.dtype } : {}),
    ...(options.q4BlockSize !== undefined ? { q4BlockSize: options.q4BlockSize } : {}),
    ...(options.imageSize !== undefined ? { imageSize: options.imageSize } : {}),
    ...(options.explain !== undefined ? { explain: options.explain } : {}),
    // hub repos, registry names, URLs (@vitzoo/hub), fetched into the cache
    resolveSource: resolveWith(progress),
    // built graphs are cached in the same cache folder, so a second run skips conversion
    graphCache: flags.graphCache === false ? false : { cacheDir: source.cacheDir ?? defaultCacheDir() },
    ...(progress ? { progress } : {}),
    warning: (message: string) => io.stderr(`warning: ${message}\n`),
  });
  return {
    resolveSource: (name) => {
      const bars = createProgressBars(io, { ...flags, model: name });
      return resolveWith(bars.progress)(name).finally(() => bars.stop());
    },
    argument: (name) => resolveModelArgument(name, io.cwd),
    load: (name, options) =>
      withBars(name, (progress) =>
        loadModel(resolveModelArgument(name, io.cwd), {
          ...loaderOptions(options, progress),
          backend: options.backend,
          batchSize: options.batchSize,
          ...(options.sessionOptions ? { sessionOptions: options.sessionOptions } : {}),
        }),
      ),
    graph: (name, options) => withBars(name, (progress) => loadGraph(resolveModelArgument(name, io.cwd), loaderOptions(options, progress))),
  };
}
