import { DownloadError, IntegrityError } from '@vitzoo/core';
import { isTruthyEnvironmentValue, type CachedHubFile, type GetFileOptions, type HubCacheOptions, type HubFileCache } from './cache.js';
import { OfflineCacheMissError } from './errors.js';
import {
  checkDownloadedContent,
  checkResponseContent,
  deadlineExceeded,
  downloadLimit,
  expectedContent,
  fetchHubFileMetadata,
  fetchWithTimeout,
  hubFileUrl,
  hubSettings,
  readBody,
  requestHeaders,
  statusError,
  type HubSettings,
} from './hub.js';
import { sha256Hex } from './graph-cache.js';
import { checkRepoFileName, checkRepoId, checkRevision, isCommitHash, isSha256 } from './names.js';

export interface BrowserHubCacheOptions extends HubCacheOptions {
  /** Cache API cache name. Default 'vitzoo'. */
  cacheName?: string;
  /** Default: globalThis.caches. */
  caches?: CacheStorage;
}

/**
 * The hub file cache of browsers and workers, on the Cache API: files are stored under their
 * `resolve` URL at the pinned commit, branch names map to commits through small ref entries, and
 * a file is stored only after its sha256 (LFS files) or size has been checked.
 */
export function createBrowserHubCache(options: BrowserHubCacheOptions = {}): HubFileCache {
  const settings: HubSettings = hubSettings(options);
  const cacheName = options.cacheName ?? 'vitzoo';
  const offline = options.offline ?? false;
  const open = () => {
    const storage = options.caches ?? globalThis.caches;
    if (!storage) throw new DownloadError(settings.endpoint, 'the Cache API is not available here');
    return storage.open(cacheName);
  };
  const refKey = (repo: string, revision: string) => `${settings.endpoint}/api/vitzoo-refs/${repo}/${encodeURIComponent(revision)}`;

  async function peek(repo: string, revision: string, file: string): Promise<CachedHubFile | undefined> {
    checkRepoId(repo);
    checkRevision(revision);
    checkRepoFileName(file);
    const cache = await open();
    let commit: string | undefined = isCommitHash(revision) ? revision : undefined;
    if (!commit) {
      const ref = await cache.match(refKey(repo, revision));
      const text = ref ? (await ref.text()).trim() : undefined;
      if (text && isCommitHash(text)) commit = text;
    }
    const response = await cache.match(hubFileUrl(settings.endpoint, repo, commit ?? revision, file));
    if (!response) return undefined;
    const recorded = response.headers.get('x-vitzoo-sha256') ?? undefined;
    const size = Number(response.headers.get('content-length'));
    // The body is read only when asked for: a load whose graph is cached never reads the weights.
    let body: Promise<Uint8Array> | undefined;
    const bytes = () => (body ??= response.arrayBuffer().then((buffer) => new Uint8Array(buffer)));
    const known = Number.isSafeInteger(size) && size >= 0 && response.headers.has('content-length') ? size : (await bytes()).byteLength;
    return { repo, revision, commit, file, size: known, ...(recorded && isSha256(recorded) ? { sha256: recorded } : {}), bytes };
  }

  async function get(repo: string, revision: string, file: string, getOptions: GetFileOptions = {}): Promise<CachedHubFile> {
    checkRepoId(repo);
    checkRevision(revision);
    checkRepoFileName(file);
    if (!getOptions.refresh) {
      const hit = await peek(repo, revision, file);
      if (hit) return hit;
    }
    if (offline) throw new OfflineCacheMissError(`${repo}@${revision}`, [file], `Cache API cache '${cacheName}'`, 'option');
    const metadata = await fetchHubFileMetadata(settings, repo, revision, file);
    const commit = metadata.commit ?? (isCommitHash(revision) ? revision : undefined);
    // The same limits and checks as the Node cache: announced size or cap, per-file deadline, no HTML.
    const content = expectedContent(file);
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(), settings.deadlineMs);
    const chunks: Uint8Array[] = [];
    let loaded = 0;
    let total: number | undefined;
    try {
      const { response, controller } = await fetchWithTimeout(settings, metadata.downloadUrl, { headers: requestHeaders(settings, metadata.downloadUrl), signal: deadline.signal });
      if (!response.ok) throw statusError(response, metadata.url, { repo, revision, file });
      checkResponseContent(response, metadata.url, file, content);
      const limit = downloadLimit(settings, metadata.url, metadata.size ?? (Number(response.headers.get('content-length')) || undefined), content);
      total = limit.announced ? limit.total : undefined;
      await readBody(
        response,
        controller,
        settings,
        metadata.downloadUrl,
        (chunk) => {
          chunks.push(chunk);
          loaded += chunk.byteLength;
          getOptions.progress?.({ stage: 'download', file, loaded, total });
        },
        limit,
      );
    } catch (error) {
      if (deadline.signal.aborted) throw deadlineExceeded(metadata.url, settings);
      throw error;
    } finally {
      clearTimeout(timer);
    }
    if (total !== undefined && loaded !== total) throw new DownloadError(metadata.url, `received ${loaded} of ${total} bytes (truncated)`);
    const bytes = new Uint8Array(loaded);
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, offset);
      offset += chunk.byteLength;
    }
    checkDownloadedContent(bytes, metadata.url, file, content);
    const sha256 = await sha256Hex(bytes);
    if (metadata.sha256 && sha256 !== metadata.sha256) throw new IntegrityError(metadata.url, `sha256 ${metadata.sha256}`, `sha256 ${sha256}`);
    const cache = await open();
    await cache.put(
      hubFileUrl(settings.endpoint, repo, commit ?? revision, file),
      new Response(bytes, {
        headers: { 'content-length': String(loaded), 'x-vitzoo-sha256': sha256, ...(metadata.etag ? { etag: `"${metadata.etag}"` } : {}) },
      }),
    );
    if (commit && commit !== revision) await cache.put(refKey(repo, revision), new Response(commit));
    return { repo, revision, commit, file, size: loaded, sha256, bytes: async () => bytes };
  }

  return { offline, ...(offline ? { offlineBy: 'option' as const } : {}), location: `Cache API cache '${cacheName}'`, peek, get };
}

/** Offline from a `VITZOO_OFFLINE` / `HF_HUB_OFFLINE`-style value (for hosts that pass environment-like settings). */
export function offlineFromEnvironment(env: Readonly<Record<string, string | undefined>>): boolean {
  return isTruthyEnvironmentValue(env.VITZOO_OFFLINE) || isTruthyEnvironmentValue(env.HF_HUB_OFFLINE);
}

/**
 * The Cache API's shape over Maps, in memory: what `cache: false` uses in browsers (nothing
 * kept after the page), and tests in Node (which has Request and Response but no CacheStorage).
 * `entries` maps each cache name to its URL → Response store.
 */
export function memoryCacheStorage(): CacheStorage & { entries: Map<string, Map<string, Response>> } {
  const entries = new Map<string, Map<string, Response>>();
  const key = (request: RequestInfo | URL) => String(request instanceof Request ? request.url : request);
  const open = async (name: string) => {
    let store = entries.get(name);
    if (!store) entries.set(name, (store = new Map()));
    const cache = {
      match: async (request: RequestInfo | URL) => store!.get(key(request))?.clone(),
      put: async (request: RequestInfo | URL, response: Response) => {
        store!.set(key(request), response.clone());
      },
      delete: async (request: RequestInfo | URL) => store!.delete(key(request)),
    };
    return cache as unknown as Cache;
  };
  return { entries, open, has: async (name: string) => entries.has(name), delete: async (name: string) => entries.delete(name) } as unknown as CacheStorage & {
    entries: Map<string, Map<string, Response>>;
  };
}
