import { resolve } from 'node:path';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { InvalidArgumentError, type ProgressEvent, type Registry } from '@vitzoo/core';
import { MAX_TIMER_MS, resolveModelSource, type ProgressListener, type ResolvedSource, type ResolveSourceOptions } from '@vitzoo/hub/node';
import type { CommandContext } from '../context.js';
import { JSON_FORMAT_VERSION } from '../exit.js';
import type { CliIo } from '../io.js';
import { addBuildOptions, buildOptions, type BuildFlags } from '../build-options.js';
import { createModelLoader } from '../model-loading.js';

/** What a progress bar is labelled: the stage and the model's name (a graph file is named by its hash: never shown). */
export function progressLabel(event: ProgressEvent, model: string | undefined): { phase: string; name: string } {
  if (event.stage === 'download') return { phase: 'downloading', name: model ? `${model}: ${event.file ?? ''}` : (event.file ?? '') };
  if (event.stage === 'build') return { phase: 'converting', name: model ?? 'graph' };
  return { phase: event.stage, name: model ?? event.file ?? '' };
}

export interface ProgressBars {
  /** The listener to pass as `progress` (undefined when quiet). */
  progress: ProgressListener | undefined;
  /** @deprecated The same listener as `progress`. */
  onProgress: ProgressListener | undefined;
  stop(): void;
}

/**
 * Progress bars (cli-progress, on stderr) for downloads and conversions: one bar per file, labelled
 * with the model's name. Quiet (no listener) when stdout is not a terminal or the output is JSON.
 */
export function createProgressBars(io: CliIo, options: { json?: boolean; model?: string } = {}): ProgressBars {
  if (!io.isTty || options.json) return { progress: undefined, onProgress: undefined, stop: () => undefined };
  const bars = new cliProgress.MultiBar(
    {
      stream: process.stderr,
      format: ' {phase} {name} [{bar}] {percentage}% | {loadedText}/{totalText}',
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  const byFile = new Map<string, cliProgress.SingleBar>();
  const megabytes = (bytes: number | undefined) => (bytes === undefined ? '?' : `${(bytes / 1e6).toFixed(1)} MB`);
  const progress: ProgressListener = (event) => {
    if (event.loaded === undefined) return; // stage markers without bytes ('build' starting, 'session')
    const key = `${event.stage}:${event.file ?? ''}`;
    const total = event.total ?? Math.max(event.loaded, 1);
    const payload = { ...progressLabel(event, options.model), loadedText: megabytes(event.loaded), totalText: megabytes(event.total) };
    let bar = byFile.get(key);
    if (!bar) {
      bar = bars.create(total, event.loaded, payload);
      byFile.set(key, bar);
    } else {
      bar.setTotal(total);
      bar.update(event.loaded, payload);
    }
  };
  return { progress, onProgress: progress, stop: () => bars.stop() };
}

/**
 * A `resolveSource` for @vitzoo/pipeline's `loadModel`: a name that is not a local folder (hub repo,
 * registry name, URL) is fetched into the cache, with progress bars (or `progress`), and its
 * folder, model file, layout and cache folder returned. HF_ENDPOINT, HF_TOKEN, VITZOO_CACHE and
 * VITZOO_OFFLINE / HF_HUB_OFFLINE apply; `source` options (from `sourceOptions`) over them.
 */
export function hubSourceResolver(
  context: CommandContext,
  registry: Registry,
  options: { json?: boolean; progress?: ProgressListener; /** @deprecated use progress */ onProgress?: ProgressListener; source?: ResolveSourceOptions } = {},
): (name: string) => Promise<ResolvedSource> {
  return async (name) => {
    const given = options.progress ?? options.onProgress;
    const bars = given ? { progress: given, stop: () => undefined } : createProgressBars(context.io, { ...options, model: name });
    try {
      return await resolveModelSource(name, { cwd: context.io.cwd, ...options.source, registry, ...(bars.progress ? { progress: bars.progress } : {}) });
    } finally {
      bars.stop();
    }
  };
}

/** The hub / cache flags of the commands that read models (`download`, `classify`, `soup`, `train-head`). */
export interface ModelSourceFlags {
  arch?: string;
  deadline?: string;
  revision?: string;
  quantized?: boolean;
  offline?: boolean;
  refresh?: boolean;
  cacheDir?: string;
  timeout?: string;
  /** false with --no-graph-cache. */
  graphCache?: boolean;
  json?: boolean;
}

/** Seconds given on the command line as timer milliseconds: positive, and no more than a timer can wait (2^31 - 1 ms, about 24.8 days). */
function timerSeconds(value: string | undefined, option: string): number | undefined {
  if (value === undefined) return undefined;
  const seconds = value.trim() === '' ? Number.NaN : Number(value);
  if (!(seconds > 0) || seconds * 1000 > MAX_TIMER_MS) {
    throw new InvalidArgumentError(option, `${option} must be a positive number of seconds up to ${Math.floor(MAX_TIMER_MS / 1000)} (about 24.8 days), got '${value}'.`);
  }
  return Math.max(1, Math.round(seconds * 1000));
}

/** Hub/cache options shared by the commands that fetch models (`download`, `classify --model`). */
export function sourceOptions(
  options: Pick<ModelSourceFlags, 'arch' | 'deadline' | 'revision' | 'quantized' | 'offline' | 'refresh' | 'cacheDir' | 'timeout'>,
  cwd: string,
): ResolveSourceOptions {
  const timeoutMs = timerSeconds(options.timeout, '--timeout');
  const deadlineMs = timerSeconds(options.deadline, '--deadline');
  if (options.arch !== undefined && options.arch.trim() === '') throw new InvalidArgumentError('--arch', '--arch needs a registry name (e.g. deit_small_patch16_224.fb_in1k; see `vitzoo list`), got an empty string.');
  return {
    cwd,
    ...(options.arch !== undefined ? { architecture: options.arch } : {}),
    revision: options.revision,
    quantized: options.quantized,
    refresh: options.refresh,
    ...(options.offline ? { offline: true } : {}),
    ...(options.cacheDir ? { cacheDir: resolve(cwd, options.cacheDir) } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
    ...(deadlineMs !== undefined ? { deadlineMs } : {}),
  };
}

export function registerDownload(program: Command, context: CommandContext): void {
  const command = program
    .command('download')
    .description('fetch a model into the cache: a registry name (vit_tiny_patch16_224.augreg_in21k_ft_in1k), org/repo[@revision], hf-hub:org/repo or a URL')
    .argument('<model>', 'registry name, hub repo, or URL of a .safetensors/.pth/.onnx file')
    .option('--arch <name>', "URL of a bare weights or .onnx file: the registry name saying what it is (default: the file's name, when it is one)")
    .option('--revision <rev>', 'branch, tag or commit (default main; or org/repo@rev)')
    .option('--quantized', 'ONNX repos: take onnx/model_quantized.onnx instead of onnx/model.onnx')
    .option('--offline', 'never touch the network; fail naming the files the cache lacks (also VITZOO_OFFLINE=1 / HF_HUB_OFFLINE=1)')
    .option('--refresh', 'ask the hub again even when the revision is cached; download URLs again')
    .option('--cache-dir <dir>', 'cache folder (default VITZOO_CACHE, else $XDG_CACHE_HOME/vitzoo, else ~/.cache/vitzoo)')
    .option('--timeout <seconds>', 'seconds without data before a request fails', '30')
    .option('--deadline <seconds>', 'seconds a whole file may take to download (default 3600)')
    .option('--build', 'also build the graph into the graph cache (at --dtype, --q4-block-size, --image-size, with --outputs), so classify and serve with the same flags start without converting')
    .option('--outputs <names>', '--build: graph outputs, comma-separated (as classify and serve ask for them)', 'logits')
    .option('--json', 'print a JSON summary');
  addBuildOptions(command).action(async (model: string, options: ModelSourceFlags & BuildFlags & { build?: boolean; outputs: string }) => {
    const { io } = context;
    const registry = await context.registry();
    const build = buildOptions(options); // checked before anything is fetched
    const bars = createProgressBars(io, { ...options, model });
    const started = performance.now();
    let resolved;
    try {
      resolved = await resolveModelSource(model, { ...sourceOptions(options, io.cwd), registry, ...(bars.progress ? { progress: bars.progress } : {}) });
    } finally {
      bars.stop();
    }
    // The graph exactly as classify / serve would build it (the one loader, the same cache key).
    const graph = options.build
      ? await createModelLoader(context, registry, { ...options, graphCache: true }).graph(model, { ...build, outputs: options.outputs.split(',').map((name) => name.trim()).filter(Boolean) })
      : undefined;
    const built = graph && { status: graph.status, dtype: graph.dtype, outputs: graph.outputs, ...(graph.architecture ? { architecture: graph.architecture } : {}) };
    const seconds = (performance.now() - started) / 1000;
    if (options.json) {
      io.stdout(`${JSON.stringify({ version: JSON_FORMAT_VERSION, ...resolved, ...(built ? { graph: built } : {}), seconds: Number(seconds.toFixed(3)) })}\n`);
    } else {
      io.stdout(`${resolved.name ?? resolved.source} (${resolved.layout} layout${resolved.revision ? `, revision ${resolved.revision}` : ''}) in ${resolved.dir}\n`);
      for (const file of resolved.files) io.stdout(`  ${file}${file === resolved.modelFile ? '  (model)' : ''}\n`);
      if (built) io.stdout(`  graph: ${built.status === 'cached' ? 'already in the graph cache' : built.status === 'onnx' ? 'an ONNX model, runs as it is' : 'built into the graph cache'} (${built.dtype}; ${built.outputs.join(', ')})\n`);
    }
  });
}
