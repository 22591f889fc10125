import { DownloadError, InvalidArgumentError } from '@vitzoo/core';
import { HubFileNotFoundError } from './errors.js';
import { checkRepoFileName, checkRepoId, checkRevision, isCommitHash, isSha256 } from './names.js';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';
export const DEFAULT_TIMEOUT_MS = 30_000;

/** How to reach the hub; every field optional (environment variables and defaults fill them). */
export interface HubOptions {
  /** Hub base URL. Default: HF_ENDPOINT, else https://huggingface.co. */
  endpoint?: string;
  /** Access token sent as `Authorization: Bearer` to the endpoint. Default: HF_TOKEN. */
  token?: string;
  /** Injectable fetch (tests, proxies). Default: globalThis.fetch. */
  fetch?: typeof fetch;
  /** Milliseconds without a response or without body data before a request fails. Default 30 000. */
  timeoutMs?: number;
}

export interface HubSettings {
  endpoint: string;
  token: string | undefined;
  fetch: typeof fetch;
  timeoutMs: number;
}

/** Fills hub options from `env` (HF_ENDPOINT, HF_TOKEN) and defaults. */
export function hubSettings(options: HubOptions = {}, env: Readonly<Record<string, string | undefined>> = {}): HubSettings {
  const endpoint = (options.endpoint ?? env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  if (!/^https?:\/\//.test(endpoint)) throw new InvalidArgumentError('endpoint', `Hub endpoint ${JSON.stringify(endpoint)} must be an http(s) URL (HF_ENDPOINT).`);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new InvalidArgumentError('timeoutMs', `Timeout must be a positive number of milliseconds, got ${timeoutMs}.`);
  if (typeof (options.fetch ?? globalThis.fetch) !== 'function') throw new InvalidArgumentError('fetch', 'No fetch available: pass one in the options.');
  // Browsers refuse a fetch called as a method of another object ('Illegal invocation'): always call it unbound.
  const given = options.fetch;
  const fetchFunction: typeof fetch = given ? (input, init) => given(input, init) : (input, init) => globalThis.fetch(input, init);
  const token = options.token ?? (env.HF_TOKEN || undefined);
  return { endpoint, token, fetch: fetchFunction, timeoutMs };
}

/** `{endpoint}/{repo}/resolve/{revision}/{file}` with each part URL-encoded. */
export function hubFileUrl(endpoint: string, repo: string, revision: string, file: string): string {
  checkRepoId(repo);
  checkRevision(revision);
  checkRepoFileName(file);
  const path = file.split('/').map(encodeURIComponent).join('/');
  return `${endpoint.replace(/\/+$/, '')}/${repo}/resolve/${encodeURIComponent(revision)}/${path}`;
}

/** Request headers for a URL: the token only goes to the hub endpoint's origin. */
export function requestHeaders(settings: HubSettings, url: string, extra: Record<string, string> = {}): Record<string, string> {
  const headers: Record<string, string> = { 'user-agent': 'vitzoo-hub', ...extra };
  if (settings.token && new URL(url).origin === new URL(settings.endpoint).origin) headers.authorization = `Bearer ${settings.token}`;
  return headers;
}

/** An ETag without `W/` and quotes. */
export function normalizeEtag(value: string | null | undefined): string | undefined {
  if (!value) return undefined;
  const stripped = value.trim().replace(/^W\//, '').replace(/^"(.*)"$/, '$1');
  return stripped.length > 0 ? stripped : undefined;
}

/** What the hub says about a file before it is downloaded. */
export interface HubFileMetadata {
  /** The `resolve` URL asked for. */
  url: string;
  /** Where the bytes are (after the hub's redirect, e.g. a CDN). */
  downloadUrl: string;
  /** The blob's ETag (`X-Linked-Etag` for LFS files), normalised. */
  etag: string | undefined;
  /** The file's sha256 when the ETag is one (LFS files). */
  sha256: string | undefined;
  /** Size in bytes when announced (`X-Linked-Size`, else Content-Length). */
  size: number | undefined;
  /** The commit the revision points at (`X-Repo-Commit`). */
  commit: string | undefined;
}

function parseSize(value: string | null): number | undefined {
  if (value === null || !/^\d+$/.test(value.trim())) return undefined;
  return Number(value.trim());
}

/** Runs `fetch` with a timeout: fails with `DownloadError` when no response arrives in time. */
export async function fetchWithTimeout(settings: HubSettings, url: string, init: RequestInit): Promise<{ response: Response; controller: AbortController }> {
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, settings.timeoutMs);
  try {
    const response = await settings.fetch(url, { ...init, signal: controller.signal });
    return { response, controller };
  } catch (error) {
    if (timedOut) throw new DownloadError(url, `no response within ${settings.timeoutMs} ms (timeout; raise it with the timeoutMs option or --timeout)`, undefined, { cause: error });
    throw new DownloadError(url, `network error: ${describeCause(error)}`, undefined, { cause: error });
  } finally {
    clearTimeout(timer);
  }
}

export function describeCause(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    return cause instanceof Error && cause.message ? `${error.message} (${cause.message})` : error.message;
  }
  return String(error);
}

/** Turns a non-success status into the right typed error. */
export function statusError(response: Response, url: string, file?: { repo: string; revision: string; file: string }): Error {
  if (response.status === 404 && file) return new HubFileNotFoundError(file.repo, file.revision, file.file, url);
  if (response.status === 401 || response.status === 403) {
    return new DownloadError(url, `the server refused access (${response.status}); set HF_TOKEN to a token that can read this repo`, response.status);
  }
  return new DownloadError(url, `the server answered ${response.status} ${response.statusText}`.trim(), response.status);
}

/**
 * HEAD `{repo}/resolve/{revision}/{file}` without following the hub's redirect, so that
 * `X-Linked-Etag` / `X-Linked-Size` / `X-Repo-Commit` of the hub's own answer are read (a CDN's
 * answer does not carry them). Relative redirects (renamed repos) are followed for up to 5 hops.
 * Where a manual redirect is opaque (browsers), the redirect is followed and the final answer's
 * headers are used instead.
 */
export async function fetchHubFileMetadata(
  settings: HubSettings,
  repo: string,
  revision: string,
  file: string,
  options: { redirect?: 'manual' | 'follow' } = {},
): Promise<HubFileMetadata> {
  const url = hubFileUrl(settings.endpoint, repo, revision, file);
  let current = url;
  let commit: string | undefined;
  for (let hop = 0; hop < 6; hop++) {
    const head = (redirect: 'manual' | 'follow') =>
      fetchWithTimeout(settings, current, { method: 'HEAD', redirect, headers: requestHeaders(settings, current, { 'accept-encoding': 'identity' }) });
    let { response } = await head(options.redirect ?? 'manual');
    // Browsers hide a manual redirect (an opaque response): follow it and read the final headers.
    if (response.type === 'opaqueredirect') ({ response } = await head('follow'));
    const headerCommit = response.headers.get('x-repo-commit')?.trim();
    if (headerCommit && isCommitHash(headerCommit)) commit ??= headerCommit;
    const linkedEtag = normalizeEtag(response.headers.get('x-linked-etag'));
    const etag = linkedEtag ?? normalizeEtag(response.headers.get('etag'));
    const size = parseSize(response.headers.get('x-linked-size')) ?? (response.status >= 300 && response.status < 400 ? undefined : parseSize(response.headers.get('content-length')));
    if (response.status >= 300 && response.status < 400) {
      const location = response.headers.get('location');
      if (!location) throw new DownloadError(current, `redirect ${response.status} without a Location header`, response.status);
      const next = new URL(location, current).href;
      // The hub's LFS redirect: its headers describe the file, the CDN serves it.
      if (linkedEtag !== undefined || new URL(next).origin !== new URL(current).origin) {
        return { url, downloadUrl: next, etag, sha256: etag && isSha256(etag) ? etag : undefined, size, commit };
      }
      current = next;
      continue;
    }
    if (!response.ok) throw statusError(response, url, { repo, revision, file });
    return { url, downloadUrl: response.redirected ? response.url : current, etag, sha256: etag && isSha256(etag) ? etag : undefined, size, commit };
  }
  throw new DownloadError(url, 'too many redirects');
}

/**
 * Reads a response body chunk by chunk, failing with `DownloadError` when no data arrives for
 * `timeoutMs` (the request is aborted) or the connection breaks (e.g. a body shorter than its
 * Content-Length). `onChunk` may be async (writes to disk); reading waits for it.
 */
export async function readBody(
  response: Response,
  controller: AbortController,
  settings: Pick<HubSettings, 'timeoutMs'>,
  url: string,
  onChunk: (chunk: Uint8Array) => void | Promise<void>,
): Promise<void> {
  if (!response.body) return;
  const reader = response.body.getReader();
  let timedOut = false;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort();
    }, settings.timeoutMs);
  };
  arm();
  try {
    for (;;) {
      let result: ReadableStreamReadResult<Uint8Array>;
      try {
        result = await reader.read();
      } catch (error) {
        if (timedOut) throw new DownloadError(url, `no data received for ${settings.timeoutMs} ms (timeout; raise it with the timeoutMs option or --timeout)`, undefined, { cause: error });
        throw new DownloadError(url, `the connection broke while reading the body: ${describeCause(error)}`, undefined, { cause: error });
      }
      if (result.done) break;
      clearTimeout(timer);
      await onChunk(result.value);
      arm();
    }
  } finally {
    clearTimeout(timer);
    if (timedOut || controller.signal.aborted) reader.releaseLock();
  }
}
