/**
 * @vitzoo/hub/node: the file cache (`$XDG_CACHE_HOME/vitzoo`, `VITZOO_CACHE`), `resolveModelSource`
 * (what the pipeline and the CLI call) and the built-graph cache.
 */
export * from './index.js';
export * from './node-cache.js';
export * from './node-download.js';
export * from './node-graph-cache.js';
export * from './node-resolve.js';
