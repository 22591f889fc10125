import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, realpath, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { InvalidArgumentError, type BuiltGraph } from '@vitzoo/core';
import type { ProgressListener } from './cache.js';
import { canonicalJson } from './catalogue.js';
import { isSha256 } from './names.js';
import { defaultCacheDir, type Environment } from './node-cache.js';

/** What a built graph depends on. */
export interface GraphKeyInput {
  /** sha256 of the weights file (`fileSha256`). */
  weightsSha256: string;
  /** Architecture id. */
  architecture: string;
  /** Constructor kwargs the graph was built from. */
  kwargs: Readonly<Record<string, unknown>>;
  /** Requested outputs, in order. */
  outputs: readonly string[];
  /** The graph builder's version: pass `@vitzoo/onnx`'s PRODUCER_VERSION. */
  builderVersion: string;
  /** Anything else that changes the graph (precision, graph options). */
  options?: Readonly<Record<string, unknown>>;
}

/**
 * The cache key of a built graph: sha256 of the canonical JSON (sorted keys) of the weights hash,
 * architecture, kwargs, outputs, options and 'vitzoo.builder_version' (builder version + architecture id).
 */
export function graphCacheKey(input: GraphKeyInput): string {
  if (!isSha256(input.weightsSha256)) throw new InvalidArgumentError('weightsSha256', `Expected a 64-hex sha256, got ${JSON.stringify(input.weightsSha256)}.`);
  const text = canonicalJson({
    weights: input.weightsSha256,
    architecture: input.architecture,
    kwargs: input.kwargs,
    outputs: input.outputs,
    options: input.options ?? {},
    'vitzoo.builder_version': `${input.builderVersion}+${input.architecture}`,
  });
  return createHash('sha256').update(text).digest('hex');
}

/**
 * sha256 of a file. A cache blob named by its sha256 (an LFS file, verified when it was
 * downloaded) is not read again.
 */
export async function fileSha256(path: string): Promise<string> {
  const real = await realpath(path);
  const name = basename(real);
  if (isSha256(name) && basename(dirname(real)) === 'blobs') return name;
  const hash = createHash('sha256');
  for await (const chunk of createReadStream(real)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

export interface GraphCacheOptions {
  cacheDir?: string;
  env?: Environment;
  onProgress?: ProgressListener;
}

/** Where the graph of a key is (or would be) stored: `<cache>/graphs/<key>.onnx`. */
export function graphPath(key: string, options: Pick<GraphCacheOptions, 'cacheDir' | 'env'> = {}): string {
  if (!/^[0-9a-f]{16,128}$/.test(key)) throw new InvalidArgumentError('key', `Graph cache key ${JSON.stringify(key)} must be lower-case hex (use graphCacheKey).`);
  return join(resolve(options.cacheDir ?? defaultCacheDir(options.env)), 'graphs', `${key}.onnx`);
}

/**
 * The path of the cached ONNX graph for `key`, building and storing it (atomically: temporary
 * file + rename) when it is not there yet. A second call with the same key skips `build`.
 */
export async function cachedGraph(key: string, build: () => BuiltGraph | Promise<BuiltGraph>, options: GraphCacheOptions = {}): Promise<string> {
  const path = graphPath(key, options);
  const info = await stat(path).catch(() => null);
  if (info?.isFile() && info.size > 0) return path;
  const graph = await build();
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  const handle = await open(temporary, 'wx');
  const file = basename(path);
  try {
    let loaded = 0;
    options.onProgress?.({ file, loaded, total: graph.byteLength, phase: 'convert' });
    for (const chunk of graph.chunks()) {
      let written = 0;
      while (written < chunk.byteLength) written += (await handle.write(chunk, written, chunk.byteLength - written)).bytesWritten;
      loaded += chunk.byteLength;
      options.onProgress?.({ file, loaded, total: graph.byteLength, phase: 'convert' });
    }
    if (loaded !== graph.byteLength) throw new RangeError(`Graph produced ${loaded} bytes, announced ${graph.byteLength}.`);
    await handle.sync();
    await handle.close();
    await rename(temporary, path);
  } catch (error) {
    await handle.close().catch(() => undefined);
    await rm(temporary, { force: true });
    throw error;
  }
  return path;
}
