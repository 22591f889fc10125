import type { OfflineSetting } from './errors.js';
import type { HubOptions } from './hub.js';

/** Progress reports are @vitzoo/core's one shape: `{ stage: 'download', file, loaded, total }`, `{ stage: 'build', … }`. */
export type { ProgressEvent, ProgressListener } from '@vitzoo/core';
import type { ProgressListener } from '@vitzoo/core';

export interface GetFileOptions {
  /** Download progress: `{ stage: 'download', file, loaded, total }`. */
  progress?: ProgressListener;
  /** Ask the hub again even when the revision is cached (a branch may have moved). */
  refresh?: boolean;
}

/** A repo file held by a cache. */
export interface CachedHubFile {
  repo: string;
  /** The revision asked for ('main', a tag, or a commit). */
  revision: string;
  /** The commit it resolved to, when the hub said (X-Repo-Commit). */
  commit: string | undefined;
  file: string;
  size: number;
  /** Its path on disk (file caches only). */
  path?: string;
  /** Its sha256, when the cache recorded it (the browser cache records every file's). */
  sha256?: string;
  bytes(): Promise<Uint8Array>;
}

/**
 * A cache of hub repo files. The Node file cache (`@vitzoo/hub/node`) and the browser Cache API
 * cache (`createBrowserHubCache`) both implement it.
 */
export interface HubFileCache {
  /** True when no method may touch the network. */
  readonly offline: boolean;
  /** What turned offline mode on (for messages). */
  readonly offlineBy?: OfflineSetting;
  /** A human-readable location, for messages. */
  readonly location: string;
  /** The cached file, or undefined; never touches the network. */
  peek(repo: string, revision: string, file: string): Promise<CachedHubFile | undefined>;
  /** The file, downloaded and verified first when it is not cached (offline: `OfflineCacheMissError`). */
  get(repo: string, revision: string, file: string, options?: GetFileOptions): Promise<CachedHubFile>;
}

export interface HubCacheOptions extends HubOptions {
  /** Never touch the network. */
  offline?: boolean;
}

/** True for '1', 'true', 'yes', 'on' (any case). */
export function isTruthyEnvironmentValue(value: string | undefined): boolean {
  return value !== undefined && /^(1|true|yes|on)$/i.test(value.trim());
}
