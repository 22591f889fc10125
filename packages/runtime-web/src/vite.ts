/**
 * @vitzoo/runtime-web/vite: a Vite plugin that serves onnxruntime-web's WebAssembly files from the
 * app's own origin. In `vite dev` it answers `<base><path><file>` from onnxruntime-web's dist folder;
 * in `vite build` it emits the files to `<outDir>/<path>`. The runtime's default `wasmPaths` ('ort/')
 * points there. It also selects onnxruntime-web's build that does not embed the wasm as an asset
 * (the `onnxruntime-web-use-extern-wasm` export condition), so the 28 MB binary is emitted once.
 *
 * Node-only (build tooling); the browser code is the package's root entry.
 */
import { createReadStream, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, join } from 'node:path';
import { DEFAULT_WASM_PATH, ORT_WASM_FILES } from './files.js';

export interface OrtWasmPluginOptions {
  /** Folder below the app's base URL; default 'ort/' (the runtime's default wasmPaths). */
  path?: string;
}

/** The folder holding onnxruntime-web's dist files. */
export function ortDistDirectory(): string {
  const require = createRequire(import.meta.url);
  // onnxruntime-web exports no ./package.json; its CommonJS entry lives in dist/.
  const directory = dirname(require.resolve('onnxruntime-web'));
  if (basename(directory) !== 'dist') throw new Error(`ortWasmFiles: unexpected onnxruntime-web layout (${directory}).`);
  return directory;
}

const contentTypes: Record<string, string> = { '.wasm': 'application/wasm', '.mjs': 'text/javascript' };

// Vite's default client conditions (vite 5-7), kept when the plugin adds its own.
const DEFAULT_CONDITIONS = ['module', 'browser', 'development|production'];

interface MinimalServer {
  config: { base: string; server?: { headers?: Record<string, string | number | readonly string[] | undefined> } };
  middlewares: { use(handler: (request: { url?: string }, response: NodeResponse, next: () => void) => void): void };
}
interface NodeResponse {
  setHeader(name: string, value: string | number): void;
  end(): void;
  statusCode: number;
}
interface EmitContext {
  emitFile(file: { type: 'asset'; fileName: string; source: Uint8Array }): string;
}

/** The Vite plugin (typed structurally, so this package does not depend on vite). */
export function ortWasmFiles(options: OrtWasmPluginOptions = {}) {
  const folder = (options.path ?? DEFAULT_WASM_PATH).replace(/^\/+/, '');
  if (!folder.endsWith('/')) throw new Error(`ortWasmFiles: path '${folder}' must end in '/'.`);
  const dist = ortDistDirectory();
  let command: 'build' | 'serve' = 'serve';
  return {
    name: 'vitzoo:ort-wasm-files',
    config(config: { resolve?: { conditions?: string[] } }, env: { command: 'build' | 'serve' }) {
      command = env.command;
      const conditions = config.resolve?.conditions ?? DEFAULT_CONDITIONS;
      return { resolve: { conditions: ['onnxruntime-web-use-extern-wasm', ...conditions] } };
    },
    configureServer(server: MinimalServer) {
      server.middlewares.use((request, response, next) => {
        const url = (request.url ?? '').split('?')[0] ?? '';
        const prefix = `${server.config.base}${folder}`;
        const file = url.startsWith(prefix) ? url.slice(prefix.length) : '';
        if (!(ORT_WASM_FILES as readonly string[]).includes(file)) return next();
        const path = join(dist, file);
        response.statusCode = 200;
        // The configured server headers (e.g. COOP/COEP): the .mjs also runs as the wasm threads'
        // worker script, which a cross-origin isolated page only starts when it carries them too.
        for (const [name, value] of Object.entries(server.config.server?.headers ?? {})) if (value !== undefined) response.setHeader(name, String(value));
        response.setHeader('Content-Type', contentTypes[file.slice(file.lastIndexOf('.'))] ?? 'application/octet-stream');
        response.setHeader('Content-Length', statSync(path).size);
        createReadStream(path).pipe(response as unknown as NodeJS.WritableStream);
      });
    },
    generateBundle(this: EmitContext) {
      if (command !== 'build') return;
      for (const file of ORT_WASM_FILES) this.emitFile({ type: 'asset', fileName: `${folder}${file}`, source: readFileSync(join(dist, file)) });
    },
  };
}
