import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, truncate } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { DownloadError, IntegrityError, VitzooError, isFileSystemError } from '@vitzoo/core';
import type { ProgressListener } from './cache.js';
import { DownloadLimitError, UnexpectedContentError } from './errors.js';
import {
  checkDownloadedContent,
  checkResponseContent,
  deadlineExceeded,
  downloadLimit,
  fetchWithTimeout,
  readBody,
  requestHeaders,
  statusError,
  type ExpectedContent,
  type HubSettings,
} from './hub.js';

export interface DownloadRequest {
  settings: HubSettings;
  /** Where the bytes are. */
  url: string;
  /** The URL to name in errors (the hub's resolve URL). Default `url`. */
  reportUrl?: string;
  /** Folder the file lands in (created). */
  directory: string;
  /**
   * Final file name in `directory` (a blob's ETag, a release file's name). Undefined: the file is
   * named by the sha256 of its bytes. Known names make interrupted downloads resumable.
   */
  name: string | undefined;
  expectedSha256?: string;
  expectedSize?: number;
  /** For 404s: the repo file asked for. */
  hubFile?: { repo: string; revision: string; file: string };
  progressName: string;
  progress?: ProgressListener;
  /**
   * A `.incomplete` file of a live process (another download in progress) untouched this long may
   * be resumed anyway (the process hangs, or lives on another machine sharing the cache). Default
   * 10 min. One whose process is gone (killed) is resumed at once.
   */
  staleAfterMs?: number;
  /** What the bytes must be (default: told from `progressName`, `.json` → JSON). An HTML page is refused either way. */
  content?: ExpectedContent;
}

const PARTIAL = '.partial';
const INCOMPLETE = '.incomplete';

/** This machine's name as it appears in temporary file names (letters, digits, '-'). */
const HOST = hostname().replace(/[^A-Za-z0-9-]/g, '-').slice(0, 64) || 'host';

/** `<name>.<host>-<pid>.<random>.incomplete` (older versions wrote `<name>.<pid>.<random>.incomplete`). */
function incompleteOwner(entry: string, name: string): { host: string | undefined; pid: number } | undefined {
  if (!entry.startsWith(`${name}.`) || !entry.endsWith(INCOMPLETE)) return undefined;
  const match = /^(?:([A-Za-z0-9-]+)-)?(\d+)\.[0-9a-f]+$/.exec(entry.slice(name.length + 1, -INCOMPLETE.length));
  return match ? { host: match[1], pid: Number(match[2]) } : undefined;
}

/** True when a process of this machine with that id exists (signal 0 only checks). */
function processExists(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
  }
}

/**
 * True when an `.incomplete` file is an orphan: its process (on this machine) is gone, or it has
 * not been written for `staleAfterMs` (a hung process, or one on another machine sharing the cache).
 */
async function isOrphan(directory: string, entry: string, name: string, staleAfterMs: number): Promise<boolean> {
  const owner = incompleteOwner(entry, name);
  if (!owner) return false;
  if ((owner.host === undefined || owner.host === HOST) && !processExists(owner.pid)) return true;
  const info = await stat(join(directory, entry)).catch(() => null);
  return info !== null && Date.now() - info.mtimeMs >= staleAfterMs;
}

/** Removes what interrupted downloads of `name` left behind (parked partials, orphaned temporary files) once the file is complete. */
async function removeLeftovers(directory: string, name: string, staleAfterMs: number): Promise<void> {
  await rm(join(directory, name + PARTIAL), { force: true }).catch(() => undefined);
  for (const entry of await readdir(directory).catch(() => [] as string[])) {
    if (await isOrphan(directory, entry, name, staleAfterMs)) await rm(join(directory, entry), { force: true }).catch(() => undefined);
  }
}

async function hashFile(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

/**
 * Claims a resumable partial download for `name`: the one a failed download parked
 * (`<name>.partial`), else an orphaned `<name>.*.incomplete` (its process killed, or not written
 * for `staleAfterMs`). The claim is an atomic rename to our own temporary name, so two processes
 * never share a partial.
 */
async function claimPartial(directory: string, name: string, temporary: string, staleAfterMs: number): Promise<boolean> {
  try {
    await rename(join(directory, name + PARTIAL), temporary);
    return true;
  } catch {
    // none parked
  }
  const entries = await readdir(directory).catch(() => [] as string[]);
  for (const entry of entries) {
    if (join(directory, entry) === temporary || !(await isOrphan(directory, entry, name, staleAfterMs))) continue;
    try {
      await rename(join(directory, entry), temporary);
      return true;
    } catch {
      // another process claimed it
    }
  }
  return false;
}

function parseContentRange(value: string | null): { start: number; total: number | undefined } | undefined {
  const match = value ? /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value.trim()) : null;
  if (!match) return undefined;
  return { start: Number(match[1]), total: match[3] === '*' ? undefined : Number(match[3]) };
}

/** The first `length` bytes of a file (all of it when shorter). */
async function readStart(path: string, length: number): Promise<Uint8Array> {
  const handle = await open(path, 'r');
  try {
    const buffer = new Uint8Array(length);
    let filled = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, filled, length - filled, filled);
      if (bytesRead === 0 || filled + bytesRead === length) return buffer.subarray(0, filled + bytesRead);
      filled += bytesRead;
    }
  } finally {
    await handle.close();
  }
}

/**
 * Downloads `url` into `directory/name` atomically and verified:
 * - bytes go to a temporary file unique to this call (`<name>.<host>-<pid>.<random>.incomplete`)
 *   beside the target, and are renamed onto it only after the sha256 (when known), size and
 *   content checks: a reader never sees a partial file and two concurrent downloads both succeed
 *   (the last rename wins, with identical content);
 * - limits: a body longer than the announced size is cut off there, one with no announced size at
 *   `settings.maxDownloadBytes` (JSON files at 16 MiB), a file not done within
 *   `settings.deadlineMs` is stopped (`DownloadLimitError`); an HTML page (a login wall) or, for
 *   JSON, text that does not parse is refused (`UnexpectedContentError`); nothing of these is kept;
 * - a download that fails after some bytes is parked as `<name>.partial` and resumed with an HTTP
 *   Range request by the next attempt, and so is the temporary file of a killed process; a server
 *   that ignores Range restarts it cleanly; once the file is complete, such leftovers are removed;
 * - a wrong hash is an `IntegrityError` and nothing is kept.
 */
export async function downloadFile(request: DownloadRequest): Promise<{ path: string; size: number; sha256: string }> {
  const { settings, url, directory } = request;
  const reportUrl = request.reportUrl ?? url;
  const content = request.content ?? (/\.json$/i.test(request.progressName) ? 'json' : 'binary');
  const staleAfterMs = request.staleAfterMs ?? 600_000;
  await mkdir(directory, { recursive: true });
  const stem = request.name ?? 'download';
  const temporary = join(directory, `${stem}.${HOST}-${process.pid}.${randomBytes(6).toString('hex')}${INCOMPLETE}`);
  let offset = 0;
  if (request.name !== undefined && (await claimPartial(directory, request.name, temporary, staleAfterMs))) {
    offset = (await stat(temporary)).size;
    if (request.expectedSize !== undefined && offset > request.expectedSize) {
      await truncate(temporary, 0);
      offset = 0;
    }
  }
  let hash = createHash('sha256');
  if (offset > 0) await hashFile(temporary, hash);

  // Keep what arrived for the next attempt, unless it cannot be part of the file.
  const park = async (keep: boolean) => {
    const size = (await stat(temporary).catch(() => null))?.size ?? 0;
    const resumable = keep && request.name !== undefined && size > 0 && (request.expectedSize === undefined || size < request.expectedSize);
    if (resumable) await rename(temporary, join(directory, request.name + PARTIAL)).catch(() => rm(temporary, { force: true }));
    else await rm(temporary, { force: true });
  };

  // The per-file deadline: aborts the request (and its body) however steadily bytes arrive.
  const deadline = new AbortController();
  let expired = false;
  const timer = setTimeout(() => {
    expired = true;
    deadline.abort();
  }, settings.deadlineMs);
  try {
    const get = (headers: Record<string, string>) =>
      fetchWithTimeout(settings, url, { headers: requestHeaders(settings, url, { 'accept-encoding': 'identity', ...headers }), signal: deadline.signal });
    let { response, controller } = await get(offset > 0 ? { range: `bytes=${offset}-` } : {});
    if (offset > 0 && response.status === 206 && parseContentRange(response.headers.get('content-range'))?.start !== offset) {
      controller.abort();
      offset = Number.NaN; // restart below
    }
    if (offset > 0 && (response.status === 416 || response.status === 200 || Number.isNaN(offset))) {
      // The server cannot resume (or answered the whole file): start over cleanly.
      if (response.status !== 200) {
        controller.abort();
        ({ response, controller } = await get({}));
      }
      await truncate(temporary, 0).catch(() => undefined);
      hash = createHash('sha256');
      offset = 0;
    }
    if (Number.isNaN(offset)) offset = 0;
    if (!response.ok) throw statusError(response, reportUrl, request.hubFile);
    checkResponseContent(response, reportUrl, request.progressName, content);
    const sent =
      response.status === 206
        ? parseContentRange(response.headers.get('content-range'))?.total
        : Number(response.headers.get('content-length')) || undefined;
    const limit = downloadLimit(settings, reportUrl, request.expectedSize ?? sent, content, offset);
    if (request.expectedSize !== undefined && sent !== undefined && sent > request.expectedSize) {
      controller.abort();
      throw limit.exceeded(); // the server means to send more than the hub announced
    }
    const total = limit.announced ? limit.total : undefined;
    const handle = await open(temporary, offset > 0 ? 'a' : 'w');
    let loaded = offset;
    try {
      request.progress?.({ stage: 'download', file: request.progressName, loaded, total });
      await readBody(
        response,
        controller,
        settings,
        reportUrl,
        async (chunk) => {
          let written = 0;
          while (written < chunk.byteLength) written += (await handle.write(chunk, written, chunk.byteLength - written)).bytesWritten;
          hash.update(chunk);
          loaded += chunk.byteLength;
          request.progress?.({ stage: 'download', file: request.progressName, loaded, total });
        },
        limit,
      );
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (total !== undefined && loaded !== total) {
      throw new DownloadError(reportUrl, `received ${loaded} of ${total} bytes (the connection closed early)`);
    }
    checkDownloadedContent(await readStart(temporary, content === 'json' ? loaded : 1024), reportUrl, request.progressName, content);
  } catch (error) {
    const refused = DownloadLimitError.isInstance(error) || UnexpectedContentError.isInstance(error);
    await park(!refused);
    if (expired) throw deadlineExceeded(reportUrl, settings);
    if (VitzooError.isInstance(error) || isFileSystemError(error)) throw error; // the cache turns file-system errors into typed ones
    throw new DownloadError(reportUrl, (error as Error).message ?? String(error), undefined, { cause: error });
  } finally {
    clearTimeout(timer);
  }

  const sha256 = hash.digest('hex');
  if (request.expectedSha256 !== undefined && sha256 !== request.expectedSha256) {
    await rm(temporary, { force: true });
    throw new IntegrityError(reportUrl, `sha256 ${request.expectedSha256}`, `sha256 ${sha256}`);
  }
  const size = (await stat(temporary)).size;
  const path = join(directory, request.name ?? sha256);
  try {
    await rename(temporary, path);
  } catch (error) {
    await rm(temporary, { force: true });
    throw error;
  }
  if (request.name !== undefined) await removeLeftovers(directory, request.name, staleAfterMs);
  return { path, size, sha256 };
}
