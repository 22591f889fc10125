/**
 * @vitzoo/pytorch/node: checkpoint files on disk. One place decides how a weights file is read:
 * `.safetensors` as safetensors; a zip archive or a pickle with torch's magic number, and any
 * `.pth`/`.pt`/`.bin` file, through the safe PyTorch reader (a restricted unpickler that runs
 * nothing); anything else as safetensors.
 */
import { readFile, stat } from 'node:fs/promises';
import { FileNotFoundError, InvalidArgumentError, type StateDict } from '@vitzoo/core';
import { parseWeights } from './index.js';

export * from './index.js';

/** Reads a file, turning a missing path into a typed error naming what it was. */
export async function readRequiredFile(path: string, what: string): Promise<Uint8Array> {
  try {
    const info = await stat(path);
    if (info.isDirectory()) throw new InvalidArgumentError('path', `${what} ${path} is a directory, not a file.`);
    return await readFile(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new FileNotFoundError(path, what);
    throw error;
  }
}

/** Loads a checkpoint file (safetensors or a PyTorch archive, see `parseWeights`) into a state dict. */
export async function loadWeights(path: string): Promise<StateDict> {
  return parseWeights(await readRequiredFile(path, 'Weights file'), path);
}
