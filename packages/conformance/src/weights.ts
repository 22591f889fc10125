import { readFile, stat } from 'node:fs/promises';
import { FileNotFoundError, InvalidArgumentError, parseSafetensors, type StateDict } from '@vitzoo/core';
import { detectPytorchFormat, readPytorchCheckpoint } from '@vitzoo/pytorch';

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
 * Loads a checkpoint file into a state dict. `.safetensors` files are read as safetensors. Other
 * files are sniffed: a zip archive or a pickle starting with torch's magic number — and any
 * `.pth`/`.pt`/`.bin` file — goes to the safe PyTorch reader (@vitzoo/pytorch: a restricted
 * unpickler that runs nothing; the state dict is found under the usual container keys); anything
 * else is read as safetensors.
 */
export async function loadWeights(path: string): Promise<StateDict> {
  const bytes = await readRequiredFile(path, 'Weights file');
  const pytorch = !path.endsWith('.safetensors') && (detectPytorchFormat(bytes) !== undefined || /\.(pth|pt|bin)$/i.test(path));
  if (pytorch) return readPytorchCheckpoint(bytes, { source: path }).stateDict;
  return parseSafetensors(bytes, { source: path }).tensors;
}
