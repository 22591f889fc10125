/**
 * The built-graph cache, platform-free part: the cache key (the same on every platform), the
 * `GraphStore` interface the pipeline's loader writes built graphs to, and the Cache API store of
 * browsers and workers. The Node store (files under `<cache>/graphs/`) is in `@vitzoo/hub/node`.
 */
import { InvalidArgumentError, graphBytes, type BuiltGraph, type ProgressListener } from '@vitzoo/core';
import { canonicalJson } from './catalogue.js';
import { isSha256 } from './names.js';

/** What a built graph depends on. */
export interface GraphKeyInput {
  /** sha256 of the weights file. */
  weightsSha256: string;
  /** Architecture id. */
  architecture: string;
  /** Constructor kwargs the graph was built from. */
  kwargs: Readonly<Record<string, unknown>>;
  /** Requested outputs, in order. */
  outputs: readonly string[];
  /** The graph builder's version: `@vitzoo/onnx`'s PRODUCER_VERSION and the architecture's builderVersion. */
  builderVersion: string;
  /** Anything else that changes the graph (the weights' `dtype`, graph options). */
  options?: Readonly<Record<string, unknown>>;
}

/**
 * The text a graph cache key is the sha256 of: the canonical JSON (sorted keys) of the weights
 * hash, architecture, kwargs, outputs, options and 'vitzoo.builder_version' (builder version +
 * architecture id).
 */
export function graphKeyText(input: GraphKeyInput): string {
  if (!isSha256(input.weightsSha256)) throw new InvalidArgumentError('weightsSha256', `Expected a 64-hex sha256, got ${JSON.stringify(input.weightsSha256)}.`);
  return canonicalJson({
    weights: input.weightsSha256,
    architecture: input.architecture,
    kwargs: input.kwargs,
    outputs: input.outputs,
    options: input.options ?? {},
    'vitzoo.builder_version': `${input.builderVersion}+${input.architecture}`,
  });
}

function hex(buffer: ArrayBuffer): string {
  return [...new Uint8Array(buffer)].map((byte) => byte.toString(16).padStart(2, '0')).join('');
}

/** sha256 (lower-case hex) with the Web Crypto API (browsers, workers and Node ≥ 20). */
export async function sha256Hex(data: Uint8Array | string): Promise<string> {
  const bytes = typeof data === 'string' ? new TextEncoder().encode(data) : data;
  return hex(await globalThis.crypto.subtle.digest('SHA-256', bytes as Uint8Array<ArrayBuffer>));
}

/** The cache key of a built graph (sha256 of `graphKeyText`); `graphCacheKey` of @vitzoo/hub/node gives the same key. */
export function computeGraphCacheKey(input: GraphKeyInput): Promise<string> {
  return sha256Hex(graphKeyText(input));
}

/** Checks a graph cache key: lower-case hex (what `computeGraphCacheKey` gives). */
export function checkGraphKey(key: string): string {
  if (!/^[0-9a-f]{16,128}$/.test(key)) throw new InvalidArgumentError('key', `Graph cache key ${JSON.stringify(key)} must be lower-case hex (use graphCacheKey).`);
  return key;
}

/**
 * Where built graphs are kept. A stored graph is used only when it matches the size and sha256
 * recorded when it was written (checked on every `get`); one that does not is dropped.
 */
export interface GraphStore {
  /** For messages, e.g. a folder or a Cache API cache name. */
  readonly location: string;
  /** The verified graph of `key` (Node: the file's path, which the backend opens itself; browsers: its bytes), or undefined. */
  get(key: string): Promise<string | Uint8Array | undefined>;
  /** Stores a built graph (reporting `{ stage: 'build', file, loaded, total }` bytes) and returns what `get` would. */
  put(key: string, graph: BuiltGraph, options?: { progress?: ProgressListener }): Promise<string | Uint8Array>;
}

export interface BrowserGraphStoreOptions {
  /** Cache API cache name. Default 'vitzoo' (the hub file cache's). */
  cacheName?: string;
  /** Default: globalThis.caches. */
  caches?: CacheStorage;
}

/** The URL a graph is stored under in the Cache API (never fetched). */
export function browserGraphUrl(key: string): string {
  return `https://vitzoo.invalid/graphs/${checkGraphKey(key)}.onnx`;
}

/**
 * Built graphs in the Cache API (browsers and workers), stored with their size and sha256 in
 * headers and checked against both when read back: a damaged entry is deleted and reported as a
 * miss, so it is rebuilt.
 */
export function createBrowserGraphStore(options: BrowserGraphStoreOptions = {}): GraphStore {
  const cacheName = options.cacheName ?? 'vitzoo';
  const open = () => {
    const storage = options.caches ?? globalThis.caches;
    if (!storage) throw new InvalidArgumentError('cache', 'The Cache API is not available here (it needs a secure context: https or localhost); pass cache: false.');
    return storage.open(cacheName);
  };
  return {
    location: `Cache API cache '${cacheName}'`,
    async get(key) {
      const url = browserGraphUrl(key);
      const cache = await open();
      const response = await cache.match(url);
      if (!response) return undefined;
      const expectedSha256 = response.headers.get('x-vitzoo-sha256');
      const expectedSize = Number(response.headers.get('x-vitzoo-size'));
      const bytes = new Uint8Array(await response.arrayBuffer());
      if (expectedSha256 === null || bytes.byteLength !== expectedSize || (await sha256Hex(bytes)) !== expectedSha256) {
        await cache.delete(url);
        return undefined;
      }
      return bytes;
    },
    async put(key, graph, putOptions = {}) {
      const url = browserGraphUrl(key);
      const file = `${key}.onnx`;
      putOptions.progress?.({ stage: 'build', file, loaded: 0, total: graph.byteLength });
      const bytes = graphBytes(graph);
      const cache = await open();
      await cache.put(
        url,
        new Response(bytes as Uint8Array<ArrayBuffer>, { headers: { 'content-type': 'application/octet-stream', 'x-vitzoo-size': String(bytes.byteLength), 'x-vitzoo-sha256': await sha256Hex(bytes) } }),
      );
      putOptions.progress?.({ stage: 'build', file, loaded: bytes.byteLength, total: bytes.byteLength });
      return bytes;
    },
  };
}
