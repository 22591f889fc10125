import { resolve } from 'node:path';
import type { Command } from 'commander';
import cliProgress from 'cli-progress';
import { InvalidArgumentError, type Registry } from '@vitzoo/core';
import { resolveModelSource, type ProgressListener, type ResolvedSource, type ResolveSourceOptions } from '@vitzoo/hub/node';
import type { CommandContext } from '../context.js';
import { JSON_FORMAT_VERSION } from '../exit.js';
import type { CliIo } from '../io.js';

/**
 * Progress bars (cli-progress, on stderr) for downloads and conversions: one bar per file. Quiet
 * (no listener) when stdout is not a terminal or the output is JSON.
 */
export function createProgressBars(io: CliIo, options: { json?: boolean } = {}): { onProgress: ProgressListener | undefined; stop(): void } {
  if (!io.isTty || options.json) return { onProgress: undefined, stop: () => undefined };
  const bars = new cliProgress.MultiBar(
    {
      stream: process.stderr,
      format: ' {phase} {file} [{bar}] {percentage}% | {loadedText}/{totalText}',
      hideCursor: true,
      clearOnComplete: false,
      stopOnComplete: false,
      fps: 10,
    },
    cliProgress.Presets.shades_classic,
  );
  const byFile = new Map<string, cliProgress.SingleBar>();
  const megabytes = (bytes: number | undefined) => (bytes === undefined ? '?' : `${(bytes / 1e6).toFixed(1)} MB`);
  return {
    onProgress: (event) => {
      const key = `${event.phase}:${event.file}`;
      const total = event.total ?? Math.max(event.loaded, 1);
      const payload = { file: event.file, phase: event.phase === 'download' ? 'downloading' : 'converting', loadedText: megabytes(event.loaded), totalText: megabytes(event.total) };
      let bar = byFile.get(key);
      if (!bar) {
        bar = bars.create(total, event.loaded, payload);
        byFile.set(key, bar);
      } else {
        bar.setTotal(total);
        bar.update(event.loaded, payload);
      }
    },
    stop: () => bars.stop(),
  };
}

/**
 * A `resolveSource` for @vitzoo/pipeline's `loadModel`: a name that is not a local folder (hub repo,
 * registry name, URL) is fetched into the cache, with progress bars (or `onProgress`), and its
 * folder, model file, layout and cache folder returned. HF_ENDPOINT, HF_TOKEN, VITZOO_CACHE and
 * VITZOO_OFFLINE / HF_HUB_OFFLINE apply; `source` options (from `sourceOptions`) over them.
 */
export function hubSourceResolver(
  context: CommandContext,
  registry: Registry,
  options: { json?: boolean; onProgress?: ProgressListener; source?: ResolveSourceOptions } = {},
): (name: string) => Promise<ResolvedSource> {
  return async (name) => {
    const progress = options.onProgress ? { onProgress: options.onProgress, stop: () => undefined } : createProgressBars(context.io, options);
    try {
      return await resolveModelSource(name, { cwd: context.io.cwd, ...options.source, registry, onProgress: progress.onProgress });
    } finally {
      progress.stop();
    }
  };
}

/** The hub / cache flags of the commands that read models (`download`, `classify`, `soup`, `train-head`). */
export interface ModelSourceFlags {
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

/** Hub/cache options shared by the commands that fetch models (`download`, `classify --model`). */
export function sourceOptions(options: Pick<ModelSourceFlags, 'revision' | 'quantized' | 'offline' | 'refresh' | 'cacheDir' | 'timeout'>, cwd: string): ResolveSourceOptions {
  let timeoutMs: number | undefined;
  if (options.timeout !== undefined) {
    const seconds = Number(options.timeout);
    if (!(seconds > 0)) throw new InvalidArgumentError('--timeout', `--timeout must be a positive number of seconds, got '${options.timeout}'.`);
    timeoutMs = seconds * 1000;
  }
  return {
    cwd,
    revision: options.revision,
    quantized: options.quantized,
    refresh: options.refresh,
    ...(options.offline ? { offline: true } : {}),
    ...(options.cacheDir ? { cacheDir: resolve(cwd, options.cacheDir) } : {}),
    ...(timeoutMs !== undefined ? { timeoutMs } : {}),
  };
}

export function registerDownload(program: Command, context: CommandContext): void {
  program
    .command('download')
    .description('fetch a model into the cache: a registry name (vit_tiny_patch16_224.augreg_in21k_ft_in1k), org/repo[@revision], hf-hub:org/repo or a URL')
    .argument('<model>', 'registry name, hub repo, or URL')
    .option('--revision <rev>', 'branch, tag or commit (default main; or org/repo@rev)')
    .option('--quantized', 'ONNX repos: take onnx/model_quantized.onnx instead of onnx/model.onnx')
    .option('--offline', 'never touch the network; fail naming the files the cache lacks (also VITZOO_OFFLINE=1 / HF_HUB_OFFLINE=1)')
    .option('--refresh', 'ask the hub again even when the revision is cached')
    .option('--cache-dir <dir>', 'cache folder (default VITZOO_CACHE, else $XDG_CACHE_HOME/vitzoo, else ~/.cache/vitzoo)')
    .option('--timeout <seconds>', 'seconds without data before a request fails', '30')
    .option('--json', 'print a JSON summary')
    .action(async (model: string, options: ModelSourceFlags) => {
      const { io } = context;
      const registry = await context.registry();
      const progress = createProgressBars(io, options);
      const started = performance.now();
      let resolved;
      try {
        resolved = await resolveModelSource(model, { ...sourceOptions(options, io.cwd), registry, onProgress: progress.onProgress });
      } finally {
        progress.stop();
      }
      const seconds = (performance.now() - started) / 1000;
      if (options.json) {
        io.stdout(`${JSON.stringify({ version: JSON_FORMAT_VERSION, ...resolved, seconds: Number(seconds.toFixed(3)) })}\n`);
      } else {
        io.stdout(`${resolved.name ?? resolved.source} (${resolved.layout} layout${resolved.revision ? `, revision ${resolved.revision}` : ''}) in ${resolved.dir}\n`);
        for (const file of resolved.files) io.stdout(`  ${file}${file === resolved.modelFile ? '  (model)' : ''}\n`);
      }
    });
}
