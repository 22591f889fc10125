import { stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { FileAccessError, InvalidArgumentError, describeFileType } from '@vitzoo/core';
import { writeFileAtomic as writeAtomically } from '@vitzoo/hub/node';

/** A file the command reads, which its output must never replace. */
export interface CommandInput {
  path: string;
  /** What it is, for the message ('weights file', 'config.json', 'image'). */
  what: string;
}

/**
 * Checks where an output the user asked for will go, before any work is done: the folder must
 * exist (we never create folders the user did not ask for); an existing path must be a regular file
 * (never a folder, device, FIFO or socket: replacing `/dev/null` by a file is not writing to it)
 * and none of the command's own inputs (the same file, also through a link).
 */
export async function checkOutputPath(path: string, inputs: readonly CommandInput[] = []): Promise<void> {
  const folder = dirname(path);
  const folderInfo = await stat(folder).catch(() => null);
  if (!folderInfo?.isDirectory()) throw new InvalidArgumentError('output', `Cannot write ${path}: folder ${folder} does not exist.`);
  const existing = await stat(path).catch(() => null);
  if (!existing) return;
  if (existing.isDirectory()) throw new InvalidArgumentError('output', `Cannot write ${path}: it is a folder; name a file.`);
  if (!existing.isFile()) {
    throw new InvalidArgumentError('output', `Refusing to write ${path}: it is ${describeFileType(existing)}, not a regular file; name a regular file (a new one, or one to replace).`);
  }
  for (const input of inputs) {
    const info = await stat(input.path).catch(() => null);
    if (info && info.dev === existing.dev && info.ino === existing.ino) {
      throw new InvalidArgumentError('output', `Refusing to write ${path}: it is the ${input.what} this command reads (${input.path}); name another output file.`);
    }
  }
}

/**
 * Writes an output the user asked for, atomically (temporary file beside it, then rename: a failure
 * never leaves a partial file nor touches an existing one), after `checkOutputPath`. A folder that
 * cannot be written is a `FileAccessError`.
 */
export async function writeFileAtomic(path: string, chunks: Iterable<Uint8Array>, inputs: readonly CommandInput[] = []): Promise<number> {
  await checkOutputPath(path, inputs);
  try {
    return await writeAtomically(path, chunks, { createFolder: false });
  } catch (error) {
    throw FileAccessError.from(error, 'write', { path, hint: `Choose an output in a folder you can write.` });
  }
}
