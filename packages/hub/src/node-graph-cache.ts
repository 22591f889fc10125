import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, realpath, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { graphBytes, type BuiltGraph, type ProgressListener } from '@vitzoo/core';
import { checkGraphKey, graphKeyText, type GraphKeyInput, type GraphStore } from './graph-cache.js';
import { isSha256 } from './names.js';
import { cacheFolderError, defaultCacheDir, type Environment } from './node-cache.js';
import { writeFileAtomic } from './node-write-file.js';

/**
 * The cache key of a built graph: the sha256 of `graphKeyText(input)` (the same key as
 * `computeGraphCacheKey`, computed synchronously).
 */
export function graphCacheKey(input: GraphKeyInput): string {
  return createHash('sha256').update(graphKeyText(input)).digest('hex');
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
  progress?: ProgressListener;
}

/** Where the graph of a key is (or would be) stored: `<cache>/graphs/<key>.onnx`. */
export function graphPath(key: string, options: Pick<GraphCacheOptions, 'cacheDir' | 'env'> = {}): string {
  return join(resolve(options.cacheDir ?? defaultCacheDir(options.env)), 'graphs', `${checkGraphKey(key)}.onnx`);
}

/** The cache entry beside a stored graph (`<key>.json`): what the graph file must be. */
export interface GraphCacheEntry {
  version: 1;
  key: string;
  /** Size of `<key>.onnx` in bytes. */
  size: number;
  /** sha256 of `<key>.onnx`. */
  sha256: string;
}

function entryPath(path: string): string {
  return path.replace(/\.onnx$/, '.json');
}

/** The entry of a stored graph, or why there is no usable one. */
async function readEntry(path: string, key: string): Promise<GraphCacheEntry | string> {
  let text: string;
  try {
    text = await readFile(entryPath(path), 'utf8');
  } catch {
    return 'no cache entry';
  }
  try {
    const entry = JSON.parse(text) as Partial<GraphCacheEntry>;
    if (entry.version === 1 && entry.key === key && Number.isSafeInteger(entry.size) && typeof entry.sha256 === 'string' && isSha256(entry.sha256)) {
      return entry as GraphCacheEntry;
    }
  } catch {
    // fall through
  }
  return 'unreadable cache entry';
}

/** Why a stored graph does not match its entry, or undefined when it does. */
async function checkStored(path: string, key: string, read: boolean): Promise<{ problem?: string; bytes?: Uint8Array }> {
  const info = await stat(path).catch(() => null);
  if (!info?.isFile()) return { problem: 'not cached' };
  const entry = await readEntry(path, key);
  if (typeof entry === 'string') return { problem: entry };
  if (info.size !== entry.size) return { problem: `size ${info.size} bytes, the cache entry says ${entry.size}` };
  const hash = createHash('sha256');
  let bytes: Uint8Array | undefined;
  if (read) {
    bytes = new Uint8Array(await readFile(path));
    hash.update(bytes);
  } else {
    for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  }
  const sha256 = hash.digest('hex');
  if (sha256 !== entry.sha256) return { problem: `sha256 ${sha256}, the cache entry says ${entry.sha256}` };
  if (bytes && bytes.byteLength !== entry.size) return { problem: `size ${bytes.byteLength} bytes, the cache entry says ${entry.size}` };
  return { bytes };
}

/**
 * Writes `chunks` to `path` atomically (temporary file + rename), then the entry with their size
 * and sha256 (also atomically). Nothing is left behind when writing fails.
 */
async function storeGraph(path: string, key: string, chunks: Iterable<Uint8Array>, byteLength: number, progress: ProgressListener | undefined): Promise<void> {
  // A stale entry must never vouch for the new file: remove it first.
  await rm(entryPath(path), { force: true });
  const file = basename(path);
  const hash = createHash('sha256');
  let loaded = 0;
  progress?.({ stage: 'build', file, loaded, total: byteLength });
  await writeFileAtomic(path, chunks, {
    expectedBytes: byteLength,
    onChunk: (chunk) => {
      hash.update(chunk);
      loaded += chunk.byteLength;
      progress?.({ stage: 'build', file, loaded, total: byteLength });
    },
  });
  const entry: GraphCacheEntry = { version: 1, key, size: byteLength, sha256: hash.digest('hex') };
  await writeFileAtomic(entryPath(path), `${JSON.stringify(entry)}\n`);
}

/** Slices of `bytes` (progress reports while a graph held in memory is written). */
function* slices(bytes: Uint8Array, size = 1 << 24): Iterable<Uint8Array> {
  for (let offset = 0; offset < bytes.byteLength; offset += size) yield bytes.subarray(offset, Math.min(offset + size, bytes.byteLength));
}

/**
 * The path of the cached ONNX graph for `key`, building and storing it when it is not there yet.
 * The graph is written atomically (temporary file + rename) with an entry `<key>.json` holding its
 * size and sha256; a stored graph is used only when it matches its entry (checked on every call),
 * otherwise it is rebuilt. A second call with the same key skips `build`.
 */
export async function cachedGraph(key: string, build: () => BuiltGraph | Promise<BuiltGraph>, options: GraphCacheOptions = {}): Promise<string> {
  const path = graphPath(key, options);
  const { problem } = await unusableCache(path, () => checkStored(path, key, false));
  if (problem === undefined) return path;
  const graph = await build();
  await unusableCache(path, () => storeGraph(path, key, graph.chunks(), graph.byteLength, options.progress));
  return path;
}

/** Runs a graph-cache file operation; a cache folder that cannot be used is a `FileAccessError` saying how to choose another or turn the cache off. */
async function unusableCache<T>(path: string, operation: () => Promise<T>): Promise<T> {
  try {
    return await operation();
  } catch (error) {
    throw cacheFolderError(error, dirname(dirname(path)), ', or turn the graph cache off (graphCache: false, --no-graph-cache)');
  }
}

/** A graph from the graph cache, in memory. */
export interface LoadedGraph {
  /** The ONNX bytes (verified against the cache entry, or just built). */
  bytes: Uint8Array;
  path: string;
  /** 'cached': read from the cache; 'built': not cached yet; 'rebuilt': the stored graph did not match its entry. */
  status: 'cached' | 'built' | 'rebuilt';
  /** Why a stored graph was rebuilt (status 'rebuilt'). */
  problem?: string;
}

/**
 * Like `cachedGraph`, but returns the graph's bytes: read once and checked against the size and
 * sha256 of the cache entry (a stored graph that does not match is rebuilt and replaced, never
 * used), or built, stored and returned without reading them back.
 */
export async function loadCachedGraph(key: string, build: () => BuiltGraph | Promise<BuiltGraph>, options: GraphCacheOptions = {}): Promise<LoadedGraph> {
  const path = graphPath(key, options);
  const stored = await unusableCache(path, () => checkStored(path, key, true));
  if (stored.problem === undefined && stored.bytes) return { bytes: stored.bytes, path, status: 'cached' };
  const graph = await build();
  const bytes = graphBytes(graph);
  await unusableCache(path, () => storeGraph(path, key, slices(bytes), bytes.byteLength, options.progress));
  const rebuilt = stored.problem !== 'not cached';
  return { bytes, path, status: rebuilt ? 'rebuilt' : 'built', ...(rebuilt ? { problem: stored.problem } : {}) };
}

/**
 * The built-graph cache as a `GraphStore` (what the pipeline's loader uses): `<cacheDir>/graphs/`,
 * `get` gives the path of a stored graph that matches its entry, `put` writes one atomically.
 */
export function createGraphStore(options: Pick<GraphCacheOptions, 'cacheDir' | 'env'> = {}): GraphStore {
  return {
    location: dirname(graphPath('0'.repeat(64), options)),
    async get(key) {
      const path = graphPath(key, options);
      return (await unusableCache(path, () => checkStored(path, key, false))).problem === undefined ? path : undefined;
    },
    async put(key, graph, putOptions = {}) {
      const path = graphPath(key, options);
      await unusableCache(path, () => storeGraph(path, key, graph.chunks(), graph.byteLength, putOptions.progress));
      return path;
    },
  };
}
