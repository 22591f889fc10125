import { createReadStream, statSync } from 'node:fs';
import { createServer } from 'node:http';
import { extname, join, normalize, sep } from 'node:path';

const contentTypes = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.css': 'text/css',
  '.json': 'application/json',
  '.wasm': 'application/wasm',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.svg': 'image/svg+xml',
  '.map': 'application/json',
};

/**
 * A static file server on 127.0.0.1 (random port). `mounts` maps URL prefixes ('/', '/fixtures/')
 * to folders; `isolated` adds COOP/COEP headers so pages are cross-origin isolated (wasm threads).
 */
export async function serveStatic({ mounts, isolated = false }) {
  const sorted = Object.entries(mounts).sort((a, b) => b[0].length - a[0].length);
  const server = createServer((request, response) => {
    const url = decodeURIComponent((request.url ?? '/').split('?')[0]);
    const mount = sorted.find(([prefix]) => url.startsWith(prefix));
    if (!mount) return notFound(response);
    const [prefix, folder] = mount;
    let path = normalize(join(folder, url.slice(prefix.length)));
    if (!path.startsWith(normalize(folder).replace(/[\\/]$/, '') + sep) && path !== normalize(folder)) return notFound(response);
    let stats;
    try {
      stats = statSync(path);
      if (stats.isDirectory()) {
        path = join(path, 'index.html');
        stats = statSync(path);
      }
    } catch {
      return notFound(response);
    }
    response.statusCode = 200;
    response.setHeader('Content-Type', contentTypes[extname(path)] ?? 'application/octet-stream');
    response.setHeader('Content-Length', stats.size);
    response.setHeader('Cache-Control', 'no-store');
    if (isolated) {
      response.setHeader('Cross-Origin-Opener-Policy', 'same-origin');
      response.setHeader('Cross-Origin-Embedder-Policy', 'require-corp');
    }
    createReadStream(path).pipe(response);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise((resolve) => server.close(resolve)),
  };
}

function notFound(response) {
  response.statusCode = 404;
  response.setHeader('Content-Type', 'text/plain');
  response.end('not found');
}
