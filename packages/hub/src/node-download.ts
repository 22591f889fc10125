import { createHash, randomBytes, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat, truncate } from 'node:fs/promises';
import { join } from 'node:path';
import { DownloadError, IntegrityError, VitzooError } from '@vitzoo/core';
import type { ProgressListener } from './cache.js';
import { fetchWithTimeout, readBody, requestHeaders, statusError, type HubSettings } from './hub.js';

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
  /** An orphaned `.incomplete` file (a killed process) untouched this long may be resumed. Default 10 min. */
  staleAfterMs?: number;
}

const PARTIAL = '.partial';
const INCOMPLETE = '.incomplete';

async function hashFile(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
}

/**
 * Claims a resumable partial download for `name`: the one a failed download parked
 * (`<name>.partial`), else an orphaned `<name>.*.incomplete` not written for `staleAfterMs`. The
 * claim is an atomic rename to our own temporary name, so two processes never share a partial.
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
    if (!entry.startsWith(`${name}.`) || !entry.endsWith(INCOMPLETE)) continue;
    const info = await stat(join(directory, entry)).catch(() => null);
    if (!info || Date.now() - info.mtimeMs < staleAfterMs) continue;
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

/**
 * Downloads `url` into `directory/name` atomically and verified:
 * - bytes go to a temporary file unique to this call (`<name>.<pid>.<random>.incomplete`) beside
 *   the target, and are renamed onto it only after the sha256 (when known) and size check: a
 *   reader never sees a partial file and two concurrent downloads both succeed (the last rename
 *   wins, with identical content);
 * - a download that fails after some bytes is parked as `<name>.partial` and resumed with an HTTP
 *   Range request by the next attempt; a server that ignores Range restarts it cleanly;
 * - a wrong hash is an `IntegrityError` and nothing is kept.
 */
export async function downloadFile(request: DownloadRequest): Promise<{ path: string; size: number; sha256: string }> {
  const { settings, url, directory } = request;
  const reportUrl = request.reportUrl ?? url;
  await mkdir(directory, { recursive: true });
  const stem = request.name ?? 'download';
  const temporary = join(directory, `${stem}.${process.pid}.${randomBytes(6).toString('hex')}${INCOMPLETE}`);
  let offset = 0;
  if (request.name !== undefined && (await claimPartial(directory, request.name, temporary, request.staleAfterMs ?? 600_000))) {
    offset = (await stat(temporary)).size;
    if (request.expectedSize !== undefined && offset > request.expectedSize) {
      await truncate(temporary, 0);
      offset = 0;
    }
  }
  let hash = createHash('sha256');
  if (offset > 0) await hashFile(temporary, hash);

  const park = async () => {
    const size = (await stat(temporary).catch(() => null))?.size ?? 0;
    const resumable = request.name !== undefined && size > 0 && (request.expectedSize === undefined || size < request.expectedSize);
    if (resumable) await rename(temporary, join(directory, request.name + PARTIAL)).catch(() => rm(temporary, { force: true }));
    else await rm(temporary, { force: true });
  };

  try {
    let { response, controller } = await fetchWithTimeout(settings, url, {
      headers: requestHeaders(settings, url, { 'accept-encoding': 'identity', ...(offset > 0 ? { range: `bytes=${offset}-` } : {}) }),
    });
    if (offset > 0 && response.status === 206 && parseContentRange(response.headers.get('content-range'))?.start !== offset) {
      controller.abort();
      offset = Number.NaN; // restart below
    }
    if (offset > 0 && (response.status === 416 || response.status === 200 || Number.isNaN(offset))) {
      // The server cannot resume (or answered the whole file): start over cleanly.
      if (response.status !== 200) {
        controller.abort();
        ({ response, controller } = await fetchWithTimeout(settings, url, { headers: requestHeaders(settings, url, { 'accept-encoding': 'identity' }) }));
      }
      await truncate(temporary, 0).catch(() => undefined);
      hash = createHash('sha256');
      offset = 0;
    }
    if (Number.isNaN(offset)) offset = 0;
    if (!response.ok) throw statusError(response, reportUrl, request.hubFile);
    const announced =
      response.status === 206
        ? parseContentRange(response.headers.get('content-range'))?.total
        : Number(response.headers.get('content-length')) || undefined;
    const total = request.expectedSize ?? announced;
    const handle = await open(temporary, offset > 0 ? 'a' : 'w');
    let loaded = offset;
    try {
      request.progress?.({ stage: 'download', file: request.progressName, loaded, total });
      await readBody(response, controller, settings, reportUrl, async (chunk) => {
        let written = 0;
        while (written < chunk.byteLength) written += (await handle.write(chunk, written, chunk.byteLength - written)).bytesWritten;
        hash.update(chunk);
        loaded += chunk.byteLength;
        request.progress?.({ stage: 'download', file: request.progressName, loaded, total });
      });
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (total !== undefined && loaded !== total) {
      throw new DownloadError(reportUrl, `received ${loaded} of ${total} bytes (the connection closed early)`);
    }
  } catch (error) {
    await park();
    if (VitzooError.isInstance(error)) throw error;
    throw new DownloadError(reportUrl, (error as Error).message ?? String(error), undefined, { cause: error });
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
  return { path, size, sha256 };
}
