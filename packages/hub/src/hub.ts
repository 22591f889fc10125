import { DownloadError, InvalidArgumentError } from '@vitzoo/core';
import { DownloadLimitError, HubFileNotFoundError, UnexpectedContentError } from './errors.js';
import { checkRepoFileName, checkRepoId, checkRevision, isCommitHash, isSha256 } from './names.js';

export const DEFAULT_ENDPOINT = 'https://huggingface.co';
export const DEFAULT_TIMEOUT_MS = 30_000;
/** Per-file deadline of a download, start to end (besides the idle `timeoutMs`): one hour. */
export const DEFAULT_DEADLINE_MS = 3_600_000;
/** Largest file downloaded when neither the hub nor the server announces its size: 8 GiB. */
export const DEFAULT_MAX_DOWNLOAD_BYTES = 8 * 1024 ** 3;
/** Largest JSON file (config.json, preprocessor_config.json) downloaded, announced or not: 16 MiB. */
export const MAX_JSON_DOWNLOAD_BYTES = 16 * 1024 ** 2;
/** The longest delay Node's and browsers' timers take (2^31 - 1 ms, about 24.8 days); longer ones fire at once. */
export const MAX_TIMER_MS = 2 ** 31 - 1;

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
  /** Milliseconds a whole file may take to download, however steadily it arrives. Default 3 600 000 (1 h). */
  deadlineMs?: number;
  /**
   * Largest file accepted when neither the hub nor the server announces its size (bytes). Default
   * 8 GiB. Files with an announced size are cut off at that size; JSON files at 16 MiB always.
   */
  maxDownloadBytes?: number;
}

export interface HubSettings {
  endpoint: string;
  token: string | undefined;
  fetch: typeof fetch;
  timeoutMs: number;
  deadlineMs: number;
  maxDownloadBytes: number;
}

/** Checks a timer delay: a positive number of milliseconds a timer can wait (at most `MAX_TIMER_MS`). */
export function checkTimerMilliseconds(value: number, name: string): number {
  if (typeof value !== 'number' || !(value > 0) || value > MAX_TIMER_MS) {
    throw new InvalidArgumentError(
      name,
      `${name} must be a positive number of milliseconds up to ${MAX_TIMER_MS} (2^31 - 1, about 24.8 days: the longest a timer waits), got ${String(value)}.`,
    );
  }
  return value;
}

/** Fills hub options from `env` (HF_ENDPOINT, HF_TOKEN) and defaults. */
export function hubSettings(options: HubOptions = {}, env: Readonly<Record<string, string | undefined>> = {}): HubSettings {
  const endpoint = (options.endpoint ?? env.HF_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
  if (!/^https?:\/\//.test(endpoint)) throw new InvalidArgumentError('endpoint', `Hub endpoint ${JSON.stringify(endpoint)} must be an http(s) URL (HF_ENDPOINT).`);
  const timeoutMs = checkTimerMilliseconds(options.timeoutMs ?? DEFAULT_TIMEOUT_MS, 'timeoutMs');
  const deadlineMs = checkTimerMilliseconds(options.deadlineMs ?? DEFAULT_DEADLINE_MS, 'deadlineMs');
  const maxDownloadBytes = options.maxDownloadBytes ?? DEFAULT_MAX_DOWNLOAD_BYTES;
  if (!Number.isSafeInteger(maxDownloadBytes) || maxDownloadBytes < 1) {
    throw new InvalidArgumentError('maxDownloadBytes', `maxDownloadBytes must be a positive integer number of bytes, got ${String(maxDownloadBytes)}.`);
  }
  if (typeof (options.fetch ?? globalThis.fetch) !== 'function') throw new InvalidArgumentError('fetch', 'No fetch available: pass one in the options.');
  // Browsers refuse a fetch called as a method of another object ('Illegal invocation'): always call it unbound.
  const given = options.fetch;
  const fetchFunction: typeof fetch = given ? (input, init) => given(input, init) : (input, init) => globalThis.fetch(input, init);
  const token = options.token ?? (env.HF_TOKEN || undefined);
  return { endpoint, token, fetch: fetchFunction, timeoutMs, deadlineMs, maxDownloadBytes };
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

/**
 * Runs `fetch` with a timeout: fails with `DownloadError` when no response arrives in time. An
 * `init.signal` (a caller's deadline or cancellation) aborts the request and its body too.
 */
export async function fetchWithTimeout(settings: Pick<HubSettings, 'fetch' | 'timeoutMs'>, url: string, init: RequestInit): Promise<{ response: Response; controller: AbortController }> {
  const controller = new AbortController();
  const outer = init.signal;
  if (outer) {
    if (outer.aborted) controller.abort(outer.reason);
    else outer.addEventListener('abort', () => controller.abort(outer.reason), { once: true });
  }
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

/** The most bytes a body may have, and the error to throw past it. */
export interface BodyLimit {
  maxBytes: number;
  exceeded(): Error;
}

/** What a downloaded file must be: JSON (configs: parsed before it is kept) or binary (weights, graphs: never an HTML page). */
export type ExpectedContent = 'json' | 'binary';

/** JSON for `.json` file names, binary for the rest. */
export function expectedContent(fileName: string): ExpectedContent {
  return /\.json$/i.test(fileName) ? 'json' : 'binary';
}

/**
 * The body limit of a download: the announced size when there is one (a longer body is cut off
 * there), else `settings.maxDownloadBytes`; JSON files never more than `MAX_JSON_DOWNLOAD_BYTES`.
 * An announced JSON size over that limit is refused at once. `offset`: bytes already held (a resumed download).
 */
export function downloadLimit(
  settings: Pick<HubSettings, 'maxDownloadBytes'>,
  url: string,
  announced: number | undefined,
  content: ExpectedContent,
  offset = 0,
): BodyLimit & { total: number; announced: boolean } {
  const cap = content === 'json' ? Math.min(MAX_JSON_DOWNLOAD_BYTES, settings.maxDownloadBytes) : settings.maxDownloadBytes;
  if (announced !== undefined && content === 'json' && announced > cap) {
    throw new DownloadLimitError(url, 'size-cap', cap, `it announces ${announced} bytes, more than the limit of ${cap} bytes for a JSON file`);
  }
  const total = announced ?? cap;
  const reason =
    announced !== undefined
      ? `the server sent more than the announced ${announced} bytes; cut off at ${announced} bytes and nothing kept`
      : `no size was announced and the body passed the limit of ${cap} bytes; cut off there and nothing kept` +
        (content === 'json' ? ' (JSON files are at most 16 MiB)' : ' (raise the maxDownloadBytes option if the file is trusted)');
  return {
    total,
    announced: announced !== undefined,
    maxBytes: total - offset,
    exceeded: () => new DownloadLimitError(url, announced !== undefined ? 'announced-size' : 'size-cap', total, reason),
  };
}

/** The error of a download stopped by its per-file deadline. */
export function deadlineExceeded(url: string, settings: Pick<HubSettings, 'deadlineMs'>): DownloadLimitError {
  return new DownloadLimitError(
    url,
    'deadline',
    settings.deadlineMs,
    `not finished within ${settings.deadlineMs / 1000} s (the per-file deadline; raise it with the deadlineMs option or --deadline)`,
  );
}

/**
 * Refuses a response whose Content-Type says it is an HTML page (a login wall, a captive portal, an
 * error page served with 200) before its body is read.
 */
export function checkResponseContent(response: Response, url: string, fileName: string, content: ExpectedContent): void {
  const type = response.headers.get('content-type')?.split(';')[0]?.trim().toLowerCase();
  if (type === 'text/html' || type === 'application/xhtml+xml') {
    throw new UnexpectedContentError(url, fileName, content === 'json' ? 'JSON' : 'a binary file', `an HTML page (Content-Type ${type})`);
  }
}

const HTML_START = /^(?:\uFEFF)?\s*<(?:!doctype\s+html|html[\s>]|head[\s>]|body[\s>]|!--)/i;

/**
 * Checks downloaded bytes before they are kept: `head` is the file's start (at least its first
 * KiB) for binary files, the whole file for JSON. An HTML page is refused whatever its label;
 * JSON must parse.
 */
export function checkDownloadedContent(head: Uint8Array, url: string, fileName: string, content: ExpectedContent): void {
  const text = new TextDecoder('utf-8', { fatal: false }).decode(content === 'json' ? head : head.subarray(0, 1024));
  if (HTML_START.test(text)) {
    throw new UnexpectedContentError(url, fileName, content === 'json' ? 'JSON' : 'a binary file', 'an HTML page (a login wall or an error page?)');
  }
  if (content === 'json') {
    try {
      JSON.parse(text);
    } catch (error) {
      throw new UnexpectedContentError(url, fileName, 'JSON', `text that is not JSON (${(error as Error).message}; it starts ${JSON.stringify(text.slice(0, 40))})`);
    }
  }
}

/**
 * Reads a response body chunk by chunk, failing with `DownloadError` when no data arrives for
 * `timeoutMs` (the request is aborted) or the connection breaks (e.g. a body shorter than its
 * Content-Length). `onChunk` may be async (writes to disk); reading waits for it. With a `limit`, a
 * body longer than `limit.maxBytes` is cut off (the request aborted, nothing past it handed on)
 * and `limit.exceeded()` thrown.
 */
export async function readBody(
  response: Response,
  controller: AbortController,
  settings: Pick<HubSettings, 'timeoutMs'>,
  url: string,
  onChunk: (chunk: Uint8Array) => void | Promise<void>,
  limit?: BodyLimit,
): Promise<void> {
  if (!response.body) return;
  let received = 0;
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
      received += result.value.byteLength;
      if (limit && received > limit.maxBytes) {
        // Cut off: nothing past the limit is handed on, and the connection is dropped.
        controller.abort();
        throw limit.exceeded();
      }
      await onChunk(result.value);
      arm();
    }
  } finally {
    clearTimeout(timer);
    if (timedOut || controller.signal.aborted) reader.releaseLock();
  }
}
