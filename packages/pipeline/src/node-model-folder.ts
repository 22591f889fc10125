/**
 * Writing model folders (timm hub layout: config.json + model.safetensors) that `loadModel`, the
 * CLI and the browser demo read as they are. Weights are streamed, one tensor at a
 * time, each file written atomically.
 */
import { mkdir, readdir, realpath, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { InvalidArgumentError, elementCount, formatShape, safetensorsLayout, tensorBytes, tensorInfos, type Tensor, type TensorInfo } from '@vitzoo/core';
import { writeFileAtomic } from '@vitzoo/hub/node';

export interface OutputFolderOptions {
  /** Write into a folder that already holds files (model.safetensors and config.json are replaced). Default false. */
  overwrite?: boolean;
  /** Folders read from (ingredients, the backbone): never written to, even with `overwrite`. */
  inputs?: readonly string[];
}

async function canonical(path: string): Promise<string> {
  return realpath(path).catch(() => resolve(path));
}

/**
 * Checks the output folder and creates it when missing: it must not be one of `inputs` (that
 * would replace a model while it is read), and must be empty unless `overwrite`.
 */
export async function prepareOutputFolder(dir: string, options: OutputFolderOptions = {}): Promise<void> {
  if (typeof dir !== 'string' || dir === '') throw new InvalidArgumentError('output', 'Name the output folder.');
  const info = await stat(dir).catch(() => null);
  if (info && !info.isDirectory()) throw new InvalidArgumentError('output', `The output ${dir} is a file; name a folder (it receives config.json and model.safetensors).`);
  const target = await canonical(dir);
  for (const input of options.inputs ?? []) {
    if ((await canonical(input)) === target) throw new InvalidArgumentError('output', `The output folder ${dir} is one of the models read (${input}); name a new folder.`);
  }
  if (info) {
    const entries = await readdir(dir);
    if (entries.length > 0 && !options.overwrite) {
      throw new InvalidArgumentError('output', `The output folder ${dir} is not empty (${entries.slice(0, 3).join(', ')}${entries.length > 3 ? ', …' : ''}); name a new folder, or allow overwriting (--force).`);
    }
  } else {
    await mkdir(dir, { recursive: true });
  }
}

/** Safetensors bytes: the header, then each tensor's bytes as `tensors` yields them (checked against `layout`). */
async function* safetensorsChunks(
  infos: Readonly<Record<string, TensorInfo>>,
  tensors: AsyncIterable<[string, Tensor]> | Iterable<[string, Tensor]>,
  metadata: Record<string, string> | undefined,
): AsyncGenerator<Uint8Array> {
  const layout = safetensorsLayout(infos, metadata);
  yield layout.header;
  let index = 0;
  for await (const [name, tensor] of tensors) {
    const expected = layout.names[index];
    const info = expected === undefined ? undefined : infos[expected];
    if (name !== expected || !info || tensor.dtype !== info.dtype || tensor.data.length !== elementCount(info.shape)) {
      throw new InvalidArgumentError('tensors', `Tensor ${index} is '${name}' ${tensor.dtype} ${formatShape(tensor.shape)}; the file layout expects '${expected}'${info ? ` ${info.dtype} ${formatShape(info.shape)}` : ''}.`);
    }
    yield tensorBytes(tensor);
    index += 1;
  }
  if (index !== layout.names.length) throw new InvalidArgumentError('tensors', `Got ${index} of the ${layout.names.length} tensors of the file layout.`);
}

export interface ModelFolderContents {
  /** config.json (written with 2-space indentation). */
  config: Record<string, unknown>;
  /** The tensors: a state dict, or tensors produced in sorted name order (e.g. a soup's `tensors()`) with `tensors` saying their dtypes and shapes. */
  data: AsyncIterable<[string, Tensor]> | Iterable<[string, Tensor]> | Record<string, Tensor>;
  /** Every tensor's dtype and shape, when `data` is produced on demand (the safetensors header is written first). */
  tensors?: Readonly<Record<string, TensorInfo>>;
  /** safetensors `__metadata__` (default `{ format: 'pt' }`, as timm writes). */
  metadata?: Record<string, string>;
}

/**
 * Writes `model.safetensors` (streamed, one tensor at a time) and then `config.json` into `dir`,
 * each atomically (a temporary file, then a rename): a failure leaves no partial file, and the
 * config appears only once the weights are complete. Call `prepareOutputFolder` first.
 */
export async function writeModelFolder(dir: string, contents: ModelFolderContents): Promise<{ weights: string; config: string; bytes: number }> {
  const { data } = contents;
  const produced = Symbol.asyncIterator in data || Symbol.iterator in data;
  const ordered: AsyncIterable<[string, Tensor]> | Iterable<[string, Tensor]> = produced
    ? (data as AsyncIterable<[string, Tensor]> | Iterable<[string, Tensor]>)
    : Object.keys(data)
        .sort()
        .map((name): [string, Tensor] => [name, (data as Record<string, Tensor>)[name]!]);
  const tensors = contents.tensors ?? (produced ? undefined : tensorInfos(data as Record<string, Tensor>));
  if (!tensors) throw new InvalidArgumentError('tensors', 'Tensors produced on demand need their dtypes and shapes (tensors) for the safetensors header.');
  const weights = join(dir, 'model.safetensors');
  const config = join(dir, 'config.json');
  const bytes = await writeFileAtomic(weights, safetensorsChunks(tensors, ordered, contents.metadata ?? { format: 'pt' }), { createFolder: false });
  await writeFileAtomic(config, `${JSON.stringify(contents.config, null, 2)}\n`, { createFolder: false });
  return { weights, config, bytes };
}
