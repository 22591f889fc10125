import { createHash, randomBytes } from 'node:crypto';
import { mkdir, readFile, readlink, rename, rm, stat, symlink, copyFile, link } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { FileAccessError, InvalidArgumentError } from '@vitzoo/core';
import { isTruthyEnvironmentValue, type CachedHubFile, type GetFileOptions, type HubCacheOptions, type HubFileCache, type ProgressListener } from './cache.js';
import { OfflineCacheMissError, type OfflineSetting } from './errors.js';
import { fetchHubFileMetadata, hubSettings, type HubSettings } from './hub.js';
import { checkRepoFileName, checkRepoId, checkRevision, isCommitHash } from './names.js';
import { downloadFile } from './node-download.js';
import { writeFileAtomic } from './node-write-file.js';

export { writeFileAtomic } from './node-write-file.js';

export type Environment = Readonly<Record<string, string | undefined>>;

/** The cache folder: VITZOO_CACHE, else $XDG_CACHE_HOME/vitzoo, else ~/.cache/vitzoo. */
export function defaultCacheDir(env: Environment = process.env): string {
  if (env.VITZOO_CACHE) return resolve(env.VITZOO_CACHE);
  if (env.XDG_CACHE_HOME) return resolve(env.XDG_CACHE_HOME, 'vitzoo');
  return join(homedir(), '.cache', 'vitzoo');
}

/** Offline when VITZOO_OFFLINE or HF_HUB_OFFLINE is set to 1/true/yes/on. */
export function isOfflineEnvironment(env: Environment = process.env): boolean {
  return offlineEnvironmentVariable(env) !== undefined;
}

/** The environment variable that turns offline mode on (VITZOO_OFFLINE first), or undefined. */
export function offlineEnvironmentVariable(env: Environment = process.env): 'VITZOO_OFFLINE' | 'HF_HUB_OFFLINE' | undefined {
  if (isTruthyEnvironmentValue(env.VITZOO_OFFLINE)) return 'VITZOO_OFFLINE';
  if (isTruthyEnvironmentValue(env.HF_HUB_OFFLINE)) return 'HF_HUB_OFFLINE';
  return undefined;
}

export interface FileCacheOptions extends HubCacheOptions {
  /** Cache folder. Default: `defaultCacheDir(env)`. */
  cacheDir?: string;
  /** Where HF_ENDPOINT, HF_TOKEN, VITZOO_CACHE, XDG_CACHE_HOME, VITZOO_OFFLINE, HF_HUB_OFFLINE are read. Default process.env. */
  env?: Environment;
  /** An orphaned partial download untouched this long may be resumed by another process. Default 10 min. */
  staleAfterMs?: number;
}

/**
 * A cache folder that cannot be used (a file where a folder should be, no permission, a read-only
 * or full disk) as a typed `FileAccessError` naming the folder and how to choose another; other
 * errors as they are.
 */
export function cacheFolderError(error: unknown, root: string, extraHint = ''): unknown {
  return FileAccessError.from(error, 'write', { hint: `The cache folder is ${root}: set VITZOO_CACHE (or --cache-dir) to a folder you can write${extraHint}.` });
}

/** A blob name from an ETag: the ETag itself when it is a plain token, else its sha256. */
function blobName(etag: string | undefined): string | undefined {
  if (etag === undefined) return undefined;
  return /^[A-Za-z0-9_-]{1,128}$/.test(etag) ? etag : createHash('sha256').update(etag).digest('hex');
}

/**
 * The Node file cache of hub repos, laid out like huggingface_hub's:
 * `<cache>/hub/models--<org>--<name>/{blobs/<etag>, snapshots/<commit>/<file>, refs/<revision>}`.
 * Blobs are written once, verified, by atomic rename; snapshot entries are relative symlinks to
 * them (copies where symlinks are not allowed); refs map a branch or tag to the commit it was
 * seen at. Release files and URLs go to `<cache>/urls/`, built graphs to `<cache>/graphs/`.
 */
export class FileHubCache implements HubFileCache {
  readonly root: string;
  readonly offline: boolean;
  readonly offlineBy: OfflineSetting | undefined;
  readonly settings: HubSettings;
  private readonly staleAfterMs: number;

  constructor(options: FileCacheOptions = {}) {
    const env = options.env ?? process.env;
    this.root = resolve(options.cacheDir ?? defaultCacheDir(env));
    this.offlineBy = options.offline === undefined ? offlineEnvironmentVariable(env) : options.offline ? 'option' : undefined;
    this.offline = this.offlineBy !== undefined;
    this.settings = hubSettings(options, env);
    this.staleAfterMs = options.staleAfterMs ?? 600_000;
  }

  get location(): string {
    return this.root;
  }

  /** A path under the cache root; refuses anything that would land outside it. */
  inside(...parts: string[]): string {
    const path = resolve(this.root, ...parts);
    if (path !== this.root && !path.startsWith(this.root + sep)) {
      throw new InvalidArgumentError('file', `Refusing to use ${path}: it is outside the cache folder ${this.root}.`);
    }
    return path;
  }

  repoDir(repo: string): string {
    checkRepoId(repo);
    return this.inside('hub', `models--${repo.replace('/', '--')}`);
  }

  /** The snapshot folder of a repo at a commit (or at a revision when the hub gave no commit). */
  snapshotDir(repo: string, commitOrRevision: string): string {
    checkRevision(commitOrRevision);
    return this.inside(this.repoDir(repo), 'snapshots', commitOrRevision);
  }

  /** The commit a revision was last seen at (a commit hash is its own), or undefined. */
  async resolveRevision(repo: string, revision: string): Promise<string | undefined> {
    checkRevision(revision);
    if (isCommitHash(revision)) return revision;
    const text = await readFile(this.inside(this.repoDir(repo), 'refs', revision), 'utf8').catch(() => undefined);
    const commit = text?.trim();
    return commit && isCommitHash(commit) ? commit : undefined;
  }

  private cachedFile(repo: string, revision: string, commit: string | undefined, file: string, path: string, size: number): CachedHubFile {
    return { repo, revision, commit, file, size, path, bytes: async () => new Uint8Array(await readFile(path)) };
  }

  async peek(repo: string, revision: string, file: string): Promise<CachedHubFile | undefined> {
    checkRepoFileName(file);
    checkRepoId(repo);
    checkRevision(revision);
    const commit = await this.resolveRevision(repo, revision);
    const path = this.inside(this.snapshotDir(repo, commit ?? revision), file);
    const info = await stat(path).catch(() => null);
    if (!info?.isFile()) return undefined;
    return this.cachedFile(repo, revision, commit, file, path, info.size);
  }

  async get(repo: string, revision: string, file: string, options: GetFileOptions = {}): Promise<CachedHubFile> {
    try {
      return await this.getFile(repo, revision, file, options);
    } catch (error) {
      throw cacheFolderError(error, this.root);
    }
  }

  private async getFile(repo: string, revision: string, file: string, options: GetFileOptions): Promise<CachedHubFile> {
    checkRepoFileName(file);
    checkRepoId(repo);
    checkRevision(revision);
    if (!options.refresh || this.offline) {
      const hit = await this.peek(repo, revision, file);
      if (hit) return hit;
      if (this.offline) throw new OfflineCacheMissError(`${repo}@${revision}`, [file], this.root, this.offlineBy);
    }
    const metadata = await fetchHubFileMetadata(this.settings, repo, revision, file);
    const commit = metadata.commit ?? (isCommitHash(revision) ? revision : undefined);
    const blobs = this.inside(this.repoDir(repo), 'blobs');
    const name = blobName(metadata.sha256 ?? metadata.etag);
    let blobPath = name === undefined ? undefined : this.inside(blobs, name);
    const existing = blobPath ? await stat(blobPath).catch(() => null) : null;
    if (!existing?.isFile() || (metadata.size !== undefined && existing.size !== metadata.size)) {
      const downloaded = await downloadFile({
        settings: this.settings,
        url: metadata.downloadUrl,
        reportUrl: metadata.url,
        directory: blobs,
        name,
        expectedSha256: metadata.sha256,
        expectedSize: metadata.size,
        hubFile: { repo, revision, file },
        progressName: file,
        progress: options.progress,
        staleAfterMs: this.staleAfterMs,
      });
      blobPath = downloaded.path;
    }
    const snapshotPath = this.inside(this.snapshotDir(repo, commit ?? revision), file);
    await linkAtomic(blobPath!, snapshotPath);
    if (commit !== undefined && commit !== revision) await writeFileAtomic(this.inside(this.repoDir(repo), 'refs', revision), commit);
    const size = (await stat(snapshotPath)).size;
    return this.cachedFile(repo, revision, commit, file, snapshotPath, size);
  }

  /** Folder for a file fetched from a plain URL: `<cache>/urls/<sha256(url) prefix>/`. */
  urlDir(url: string): string {
    return this.inside('urls', createHash('sha256').update(url).digest('hex').slice(0, 32));
  }

  /**
   * A file from a URL (e.g. an authors' release), cached under `urls/` by URL; size-checked
   * against Content-Length, resumable, atomic. `refresh`: downloaded again even when cached (the
   * new file replaces the old one atomically). Offline: `OfflineCacheMissError` when not cached.
   */
  async getUrl(url: string, fileName: string, options: { progress?: ProgressListener; expectedSha256?: string; refresh?: boolean } = {}): Promise<{ path: string; size: number }> {
    try {
      return await this.getUrlFile(url, fileName, options);
    } catch (error) {
      throw cacheFolderError(error, this.root);
    }
  }

  private async getUrlFile(url: string, fileName: string, options: { progress?: ProgressListener; expectedSha256?: string; refresh?: boolean }): Promise<{ path: string; size: number }> {
    checkRepoFileName(fileName);
    if (fileName.includes('/')) throw new InvalidArgumentError('file', `Refusing file name ${JSON.stringify(fileName)} for ${url}: it must be a plain file name.`);
    const directory = this.urlDir(url);
    const path = this.inside(directory, fileName);
    const info = await stat(path).catch(() => null);
    if (info?.isFile() && (!options.refresh || this.offline)) return { path, size: info.size };
    if (this.offline) throw new OfflineCacheMissError(url, [fileName], this.root, this.offlineBy);
    const downloaded = await downloadFile({
      settings: this.settings,
      url,
      directory,
      name: fileName,
      expectedSha256: options.expectedSha256,
      progressName: fileName,
      progress: options.progress,
      staleAfterMs: this.staleAfterMs,
    });
    return { path: downloaded.path, size: downloaded.size };
  }
}

/**
 * Makes `target` point at `blob`, atomically: a relative symlink (or a hard link, or a copy where
 * links are not allowed) created under a temporary name and renamed over `target`.
 */
async function linkAtomic(blob: string, target: string): Promise<void> {
  await mkdir(dirname(target), { recursive: true });
  const wanted = relative(dirname(target), blob);
  const current = await readlink(target).catch(() => undefined);
  if (current === wanted) return;
  const temporary = `${target}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    try {
      await symlink(wanted, temporary);
    } catch {
      try {
        await link(blob, temporary);
      } catch {
        await copyFile(blob, temporary);
      }
    }
    await rename(temporary, target);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
}

export function createFileCache(options: FileCacheOptions = {}): FileHubCache {
  return new FileHubCache(options);
}
