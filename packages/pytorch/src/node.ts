/**
 * @vitzoo/pytorch/node: checkpoint files on disk. One place decides how a weights file is read:
 * `.safetensors` as safetensors; a zip archive or a pickle with torch's magic number, and any
 * `.pth`/`.pt`/`.bin` file, through the safe PyTorch reader (a restricted unpickler that runs
 * nothing); anything else as safetensors.
 */
import { readFile, stat } from 'node:fs/promises';
import { FileAccessError, FileNotFoundError, InvalidArgumentError, describeFileType, type StateDict } from '@vitzoo/core';
import { parseWeights } from './index.js';

export * from './index.js';

/**
 * Reads a regular file, with typed errors naming what it was: a missing path is a
 * `FileNotFoundError`, a folder an `InvalidArgumentError`, a device, pipe or socket (`/dev/zero`, a
 * FIFO: endless or blocking reads) or a file that cannot be read a `FileAccessError`.
 */
export async function readRequiredFile(path: string, what: string): Promise<Uint8Array> {
  let info;
  try {
    info = await stat(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new FileNotFoundError(path, what);
    throw FileAccessError.from(error, 'read', { path });
  }
  if (info.isDirectory()) throw new InvalidArgumentError('path', `${what} ${path} is a directory, not a file.`);
  if (!info.isFile()) throw new FileAccessError(path, 'read', `it is ${describeFileType(info)}, not a regular file`, `Give the ${what.toLowerCase()} itself.`);
  try {
    return await readFile(path);
  } catch (error) {
    throw FileAccessError.from(error, 'read', { path });
  }
}


/** Loads a checkpoint file (safetensors or a PyTorch archive, see `parseWeights`) into a state dict. */
export async function loadWeights(path: string): Promise<StateDict> {
  return parseWeights(await readRequiredFile(path, 'Weights file'), path);
}
