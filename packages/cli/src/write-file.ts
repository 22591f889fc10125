import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { InvalidArgumentError } from '@vitzoo/core';
import { writeFileAtomic as writeAtomically } from '@vitzoo/hub/node';

/**
 * Writes an output the user asked for, atomically (temporary file beside it, then rename: a failure
 * never leaves a partial file nor touches an existing one). Unlike cache writes, the folder must
 * already exist: we never create folders the user did not ask for.
 */
export async function writeFileAtomic(path: string, chunks: Iterable<Uint8Array>): Promise<number> {
  const folder = dirname(path);
  const folderInfo = await stat(folder).catch(() => null);
  if (!folderInfo?.isDirectory()) throw new InvalidArgumentError('output', `Cannot write ${path}: folder ${folder} does not exist.`);
  const existing = await stat(path).catch(() => null);
  if (existing?.isDirectory()) throw new InvalidArgumentError('output', `Cannot write ${path}: it is a folder; name a file.`);
  return writeAtomically(path, chunks, { createFolder: false });
}
