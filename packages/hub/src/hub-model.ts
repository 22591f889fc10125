import { InvalidArgumentError } from '@vitzoo/core';
import type { CachedHubFile, HubFileCache, ProgressListener } from './cache.js';
import { HubFileNotFoundError, OfflineCacheMissError } from './errors.js';
import { configLayout, layoutFiles, type LayoutOptions, type ModelLayout } from './layout.js';

export interface HubModelOptions extends LayoutOptions {
  progress?: ProgressListener;
  /** Ask the hub again even when the revision is cached. */
  refresh?: boolean;
}

/** The files of a hub model, all in one cache snapshot. */
export interface HubModel {
  repo: string;
  revision: string;
  /** The commit the files belong to (pinned), when the hub said. */
  commit: string | undefined;
  layout: ModelLayout;
  /** config.json first, then the rest; the model file (weights or ONNX graph) last. */
  files: CachedHubFile[];
  /** The weights or ONNX graph file name. */
  modelFile: string;
}

function parseConfig(bytes: Uint8Array, where: string): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch (error) {
    throw new InvalidArgumentError('config', `${where} is not valid JSON: ${(error as Error).message}.`);
  }
}

/** The model from the cache only, or the list of files it lacks. */
async function fromCache(cache: HubFileCache, repo: string, revision: string, options: HubModelOptions): Promise<HubModel | { missing: string[] }> {
  const config = await cache.peek(repo, revision, 'config.json');
  if (!config) return { missing: ['config.json'] };
  const layout = configLayout(parseConfig(await config.bytes(), `config.json of ${repo}@${revision}`), `config.json of ${repo}@${revision}`);
  const { files, alternatives } = layoutFiles(layout, options);
  const pinned = config.commit ?? revision;
  const found: CachedHubFile[] = [config];
  const missing: string[] = [];
  for (const file of files) {
    const hit = await cache.peek(repo, pinned, file);
    if (hit) found.push(hit);
    else missing.push(file);
  }
  let modelFile = files[files.length - 1];
  if (alternatives.length > 0) {
    let hit: CachedHubFile | undefined;
    for (const file of alternatives) {
      hit = await cache.peek(repo, pinned, file);
      if (hit) break;
    }
    if (hit) {
      found.push(hit);
      modelFile = hit.file;
    } else missing.push(alternatives[0] + (alternatives.length > 1 ? ` (or ${alternatives.slice(1).join(', ')})` : ''));
  }
  if (missing.length > 0 || modelFile === undefined) return { missing };
  return { repo, revision, commit: config.commit, layout, files: found, modelFile };
}

/**
 * Fetches a hub model into a cache: config.json first (its contents tell the layout), then the
 * files of that layout at the commit config.json resolved to, so every file comes from one commit.
 * A model fully in the cache is returned without touching the network (unless `refresh`); offline,
 * a missing file is an `OfflineCacheMissError` naming it.
 */
export async function fetchHubModel(cache: HubFileCache, repo: string, revision: string, options: HubModelOptions = {}): Promise<HubModel> {
  if (!options.refresh || cache.offline) {
    const cached = await fromCache(cache, repo, revision, options);
    if ('layout' in cached) return cached;
    if (cache.offline) throw new OfflineCacheMissError(`${repo}@${revision}`, cached.missing, cache.location, cache.offlineBy);
  }
  const getOptions = { progress: options.progress, refresh: options.refresh };
  const config = await cache.get(repo, revision, 'config.json', getOptions);
  const layout = configLayout(parseConfig(await config.bytes(), `config.json of ${repo}@${revision}`), `config.json of ${repo}@${revision}`);
  const pinned = config.commit ?? revision;
  const { files, alternatives } = layoutFiles(layout, options);
  const fetched: CachedHubFile[] = [config];
  for (const file of files) fetched.push(await cache.get(repo, pinned, file, getOptions));
  let firstMissing: unknown;
  for (const file of alternatives) {
    try {
      fetched.push(await cache.get(repo, pinned, file, getOptions));
      firstMissing = undefined;
      break;
    } catch (error) {
      if (!(error instanceof HubFileNotFoundError)) throw error;
      firstMissing ??= error;
    }
  }
  if (firstMissing !== undefined) throw firstMissing;
  const model = fetched[fetched.length - 1]!;
  return { repo, revision, commit: config.commit, layout, files: fetched, modelFile: model.file };
}
