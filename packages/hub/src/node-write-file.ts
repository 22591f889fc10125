import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

export interface WriteFileAtomicOptions {
  /** Create the folder when missing (default true). */
  createFolder?: boolean;
  /** Called with every chunk after it is written (hashing, progress). */
  onChunk?: (chunk: Uint8Array) => void;
  /** When set, a different total aborts the write before anything replaces `path`. */
  expectedBytes?: number;
}

/**
 * Writes `data` (text, bytes, or chunks produced on demand, synchronously or asynchronously) to `path` atomically: into a temporary
 * file beside it, synced, then renamed over it. On any failure the temporary file is removed and
 * an existing `path` is left as it was. Returns the bytes written.
 */
export async function writeFileAtomic(
  path: string,
  data: string | Uint8Array | Iterable<Uint8Array> | AsyncIterable<Uint8Array>,
  options: WriteFileAtomicOptions = {},
): Promise<number> {
  const folder = dirname(path);
  if (options.createFolder ?? true) await mkdir(folder, { recursive: true });
  const chunks: Iterable<Uint8Array> | AsyncIterable<Uint8Array> =
    typeof data === 'string' ? [new TextEncoder().encode(data)] : data instanceof Uint8Array ? [data] : data;
  const temporary = join(folder, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await open(temporary, 'wx');
  let written = 0;
  try {
    for await (const chunk of chunks) {
      let offset = 0;
      while (offset < chunk.byteLength) offset += (await handle.write(chunk, offset, chunk.byteLength - offset)).bytesWritten;
      written += chunk.byteLength;
      options.onChunk?.(chunk);
    }
    if (options.expectedBytes !== undefined && written !== options.expectedBytes) {
      throw new RangeError(`Produced ${written} bytes for ${basename(path)}, announced ${options.expectedBytes}.`);
    }
    await handle.sync();
    await handle.close();
    await rename(temporary, path);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temporary, { force: true });
    throw error;
  }
  return written;
}
