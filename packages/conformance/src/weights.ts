import { readFile, stat } from 'node:fs/promises';
import { FileNotFoundError, InvalidArgumentError, parseSafetensors, type StateDict } from '@vitzoo/core';

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

/**
 * Loads a checkpoint file into a state dict by its extension: `.safetensors` (and anything
 * else, sniffed as safetensors).
 */
export async function loadWeights(path: string): Promise<StateDict> {
  const bytes = await readRequiredFile(path, 'Weights file');
  return parseSafetensors(bytes, { source: path }).tensors;
}
