/**
 * Where the CLI's models come from: the hub / cache flags as `resolveModelSource` options, the
 * source resolver `loadModel` calls for names that are not local folders, and the progress bars on
 * stderr. Used by `download` and by the one model loader (model-loading.ts).
 */
import { resolve } from 'node:path';
import cliProgress from 'cli-progress';
import { InvalidArgumentError, type ProgressEvent, type Registry } from '@vitzoo/core';
import { MAX_TIMER_MS, resolveModelSource, type ProgressListener, type ResolvedSource, type ResolveSourceOptions } from '@vitzoo/hub/node';
import type { CommandContext } from './context.js';
import type { CliIo } from './io.js';

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
