import { open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { InvalidArgumentError } from '@vitzoo/core';

/**
 * Writes chunks to `path` atomically: into a temporary file beside it, then renamed over it, so a
 * failure never leaves a partial file and never touches an existing one.
 */
export async function writeFileAtomic(path: string, chunks: Iterable<Uint8Array>): Promise<number> {
  const folder = dirname(path);
  const folderInfo = await stat(folder).catch(() => null);
  if (!folderInfo?.isDirectory()) throw new InvalidArgumentError('output', `Cannot write ${path}: folder ${folder} does not exist.`);
  const existing = await stat(path).catch(() => null);
  if (existing?.isDirectory()) throw new InvalidArgumentError('output', `Cannot write ${path}: it is a folder; name a file.`);
  const temporary = join(folder, `.${basename(path)}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`);
  const handle = await open(temporary, 'wx');
  let written = 0;
  try {
    for (const chunk of chunks) {
      let offset = 0;
      while (offset < chunk.byteLength) {
        const { bytesWritten } = await handle.write(chunk, offset, chunk.byteLength - offset);
        offset += bytesWritten;
      }
      written += chunk.byteLength;
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
