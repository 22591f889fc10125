/**
 * @vitzoo/hub: model sources (hub repos, URLs, folders, registry names), hub layouts, the hub
 * protocol, the zoo catalogue and a Cache API cache. Platform-free; the Node file cache and
 * `resolveModelSource` are in `@vitzoo/hub/node`.
 */
export * from './errors.js';
export * from './names.js';
export * from './source.js';
export * from './hub.js';
export * from './layout.js';
export * from './cache.js';
export * from './hub-model.js';
export * from './catalogue.js';
export * from './browser-cache.js';
export * from './graph-cache.js';
