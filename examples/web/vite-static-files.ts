/**
 * A tiny Vite plugin that publishes files from outside the app (the bundled demo models in the
 * repository's models/ folder) at fixed URLs: served by `vite dev` / `vite preview`'s dev
 * middleware and emitted into the production build, so the built app is fully static.
 */
import { readFileSync, statSync } from 'node:fs';
import type { Plugin } from 'vite';

const contentTypes: Record<string, string> = { '.json': 'application/json', '.safetensors': 'application/octet-stream' };

/** `files` maps a path below the app's base URL ('models/digits-vit/config.json') to a file on disk. */
export function staticFiles(files: Record<string, string>): Plugin {
  return {
    name: 'vitzoo-example:static-files',
    configureServer(server) {
      server.middlewares.use((request, response, next) => {
        const url = (request.url ?? '').split('?')[0] ?? '';
        const base = server.config.base;
        const key = url.startsWith(base) ? url.slice(base.length) : '';
        const path = files[key];
        if (!path) return next();
        response.statusCode = 200;
        response.setHeader('Content-Type', contentTypes[key.slice(key.lastIndexOf('.'))] ?? 'application/octet-stream');
        response.setHeader('Content-Length', statSync(path).size);
        response.end(readFileSync(path));
      });
    },
    generateBundle() {
      for (const [fileName, path] of Object.entries(files)) this.emitFile({ type: 'asset', fileName, source: readFileSync(path) });
    },
  };
}
