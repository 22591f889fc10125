/**
 * @vitzoo/pipeline/browser: the loader's file source for browsers and workers. Hub repos and
 * registry names are fetched with the hub protocol into the Cache API (`createBrowserHubCache`),
 * built graphs kept there too (`createBrowserGraphStore`), and model folders served over HTTP
 * (a URL or a path relative to the page) fetched as they are. Picked files (`File`s, a
 * `FileList`) need no file source: `loadModel` reads them directly.
 */
import { DownloadError, InvalidArgumentError, UnsupportedError, type ProgressListener } from '@vitzoo/core';
import {
  createBrowserGraphStore,
  createBrowserHubCache,
  fetchHubModel,
  fetchWithTimeout,
  folderLayout,
  hubSettings,
  memoryCacheStorage,
  parseModelSource,
  readBody,
  releaseTimmConfig,
  sha256Hex,
  statusError,
  TIMM_WEIGHTS_FILES,
  type CachedHubFile,
  type HubSettings,
} from '@vitzoo/hub';
import type { ModelFileSource, ModelFiles, OpenModelOptions } from './load-model.js';

export * from './index.js';

export interface BrowserFileSourceOptions {
  /** Default: globalThis.fetch. */
  fetch?: typeof fetch;
  /** Default: globalThis.caches (the Cache API; needs a secure context: https or localhost). */
  caches?: CacheStorage;
  /** Never touch the network: models must be in the Cache API already. */
  offline?: boolean;
  /** Base URL of relative model folders. Default: the page's (document.baseURI), or the worker's location. */
  baseUrl?: string;
  /** Milliseconds without a response or body data before a request fails. Default 30 000. */
  timeoutMs?: number;
}

const DEFAULT_CACHE_NAME = 'vitzoo';

function pageBase(): string | undefined {
  if (typeof document !== 'undefined' && document.baseURI) return document.baseURI;
  if (typeof location !== 'undefined') return location.href;
  return undefined;
}

function filesFromHub(name: string, layout: 'timm' | 'onnx', modelFile: string, entries: readonly CachedHubFile[], cached: boolean): ModelFiles {
  const byName = new Map(entries.map((entry) => [entry.file, entry]));
  const entry = (file: string) => {
    const found = byName.get(file);
    if (!found) throw new InvalidArgumentError('file', `${name} has no file '${file}' (it has ${[...byName.keys()].join(', ')}).`);
    return found;
  };
  return {
    name,
    files: [...byName.keys()].sort(),
    layout,
    modelFile,
    cached,
    read: (file) => entry(file).bytes(),
    sha256: async (file) => entry(file).sha256 ?? sha256Hex(await entry(file).bytes()),
  };
}

/** Model files held in memory (fetched from a folder URL or a release file). */
function filesFromMap(name: string, contents: ReadonlyMap<string, Uint8Array>, modelFile: string, layout?: 'timm' | 'onnx'): ModelFiles {
  const read = async (file: string) => {
    const bytes = contents.get(file);
    if (!bytes) throw new InvalidArgumentError('file', `${name} has no file '${file}' (it has ${[...contents.keys()].join(', ')}).`);
    return bytes;
  };
  return { name, files: [...contents.keys()].sort(), modelFile, ...(layout ? { layout } : {}), cached: false, read, sha256: async (file) => sha256Hex(await read(file)) };
}

/** GETs `url` (with the timeout and progress of the hub client): the bytes, or a typed error (404s name the file). */
async function fetchFile(settings: HubSettings, url: string, file: string, progress: ProgressListener | undefined): Promise<Uint8Array | undefined> {
  const { response, controller } = await fetchWithTimeout(settings, url, {});
  if (response.status === 404) return undefined;
  if (!response.ok) throw statusError(response, url);
  const announced = Number(response.headers.get('content-length'));
  const total = Number.isSafeInteger(announced) && announced > 0 ? announced : undefined;
  const chunks: Uint8Array[] = [];
  let loaded = 0;
  progress?.({ stage: 'download', file, loaded, total });
  await readBody(response, controller, settings, url, (chunk) => {
    chunks.push(chunk);
    loaded += chunk.byteLength;
    progress?.({ stage: 'download', file, loaded, total });
  });
  if (total !== undefined && loaded !== total) throw new DownloadError(url, `received ${loaded} of ${total} bytes (the connection closed early)`);
  const bytes = new Uint8Array(loaded);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/**
 * A model folder served over HTTP (`<url>/config.json` + `model.safetensors`, else
 * `pytorch_model.bin`), or one file of it (`<folder>/model.pth`: config.json beside it).
 */
async function openFolderUrl(url: URL, settings: HubSettings, options: OpenModelOptions): Promise<ModelFiles> {
  const last = url.pathname.split('/').pop() ?? '';
  const named = /\.(safetensors|pth|pt|bin|onnx)$/i.test(last) ? decodeURIComponent(last) : undefined;
  const folder = new URL(named === undefined && !url.pathname.endsWith('/') ? `${url.href}/` : './', url);
  const files = new Map<string, Uint8Array>();
  const get = async (file: string) => {
    options.signal?.throwIfAborted();
    const bytes = await fetchFile(settings, new URL(file, folder).href, file, options.progress);
    if (bytes) files.set(file, bytes);
    return bytes;
  };
  if (!(await get('config.json'))) throw new DownloadError(new URL('config.json', folder).href, 'the server has no config.json there (404); a model folder holds config.json and model.safetensors', 404);
  const candidates = named !== undefined ? [named] : [...TIMM_WEIGHTS_FILES];
  let modelFile: string | undefined;
  for (const file of candidates) {
    if (await get(file)) {
      modelFile = file;
      break;
    }
  }
  if (modelFile === undefined) {
    throw new DownloadError(folder.href, `the folder has config.json but no weights (${candidates.join(', ')} answered 404)`, 404);
  }
  return filesFromMap(folder.href, files, modelFile, folderLayout([...files.keys()])?.layout === 'onnx' ? 'onnx' : undefined);
}

/**
 * The browser file source of `loadModel`:
 * - `org/repo[@revision]` (and `hf-hub:`), and registry names with a hub repo: the hub protocol at
 *   `endpoint` (default https://huggingface.co; CORS), files kept in the Cache API `cache`
 *   (default 'vitzoo'; `false`: in memory only), pinned to the hub's commit, sha256-checked;
 * - registry names whose weights are an authors' release file: that URL, with timm's config;
 * - a URL or a path relative to the page: a model folder served as files (`config.json` + weights).
 * Built graphs go to the same Cache API cache, so a second load reads neither weights nor builds.
 */
export function createBrowserFileSource(settings: BrowserFileSourceOptions = {}): ModelFileSource {
  const storage = (cache: string | false | undefined) => (cache === false ? memoryCacheStorage() : (settings.caches ?? globalThis.caches));
  return {
    async open(source, options) {
      const spec = parseModelSource(source, { registry: options.registry, ...(options.revision !== undefined ? { revision: options.revision } : {}) });
      const hubOptions = {
        ...(options.endpoint !== undefined ? { endpoint: options.endpoint } : {}),
        ...(settings.fetch ? { fetch: settings.fetch } : {}),
        ...(settings.timeoutMs !== undefined ? { timeoutMs: settings.timeoutMs } : {}),
      };
      const hub = spec.kind === 'hub' ? spec : spec.kind === 'registry' ? spec.hub : undefined;
      if (hub) {
        const caches = storage(options.cache);
        if (!caches) throw new UnsupportedError('The Cache API is not available here (it needs a secure context: https or localhost); pass cache: false to keep downloads in memory.');
        const cacheName = typeof options.cache === 'string' ? options.cache : DEFAULT_CACHE_NAME;
        const cache = createBrowserHubCache({ ...hubOptions, caches, cacheName, offline: settings.offline ?? false });
        options.signal?.throwIfAborted();
        const model = await fetchHubModel(cache, hub.repo, hub.revision, options.progress ? { progress: options.progress } : {});
        const name = spec.kind === 'registry' ? spec.name : `${hub.repo}@${hub.revision}`;
        return filesFromHub(name, model.layout, model.modelFile, model.files, options.cache !== false);
      }
      if (settings.offline) throw new UnsupportedError(`Offline: ${source} is not a hub model, and only hub models are kept in the cache.`);
      const httpSettings = hubSettings(hubOptions);
      if (spec.kind === 'registry') {
        if (!spec.url) throw new UnsupportedError(`${spec.name} has no download source registered (no hub repo or release url in its pretrained config).`);
        const file = spec.pretrained.file ?? 'model.pth';
        const bytes = await fetchFile(httpSettings, spec.url, file, options.progress);
        if (!bytes) throw new DownloadError(spec.url, 'the release file answered 404', 404);
        const config = new TextEncoder().encode(JSON.stringify(releaseTimmConfig(spec.model, spec.pretrained, file)));
        return filesFromMap(spec.name, new Map([['config.json', config], [file, bytes]]), file, 'timm');
      }
      const text = spec.kind === 'url' ? spec.url : spec.kind === 'local' ? spec.path : source;
      let url: URL;
      try {
        url = new URL(text, settings.baseUrl ?? pageBase());
      } catch {
        throw new InvalidArgumentError('model', `'${source}' is neither a hub repo (org/repo), a registry name nor a URL of a model folder.`);
      }
      if (!/^https?:$/.test(url.protocol)) throw new InvalidArgumentError('model', `'${source}' must be an http(s) URL of a model folder.`);
      return openFolderUrl(url, httpSettings, options);
    },
    graphStore(_files, options) {
      if (options.cache === false) return undefined;
      const caches = storage(options.cache);
      if (!caches) return undefined;
      return createBrowserGraphStore({ caches, cacheName: typeof options.cache === 'string' ? options.cache : DEFAULT_CACHE_NAME });
    },
  };
}
