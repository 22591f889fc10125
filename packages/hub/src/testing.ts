/**
 * @vitzoo/hub/testing: a real HTTP server on 127.0.0.1 speaking the hub's file protocol, for tests
 * of anything that downloads models (this package, the CLI, the pipeline).
 *
 * Routes: HEAD/GET `/{org}/{name}/resolve/{revision}/{file}` (revision 'main' or the repo's commit)
 * with ETag / X-Repo-Commit / Content-Length, and for LFS files a 302 to `/cdn/{sha256}` carrying
 * X-Linked-Etag / X-Linked-Size, as huggingface.co does; `/cdn/{sha256}` and `/files/{name}` serve
 * bytes with Range support. Every answer carries CORS headers (any origin; the hub's headers
 * exposed), so browser pages on another origin can use it. Faults (status codes, truncated,
 * stalled, endless or trickling bodies, no announced size, HTML login walls, wrong hashes, no
 * Range support) can be set per file.
 */
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export { memoryCacheStorage } from './browser-cache.js';

export type HubTestFault =
  | { kind: 'status'; status: number }
  /** Announce the full Content-Length, send `bytes` bytes, close the connection. */
  | { kind: 'truncate'; bytes: number }
  /** Send `bytes` bytes (or only the headers), then nothing until the server closes. */
  | { kind: 'stall'; bytes?: number }
  /** Advertise a sha256 that is not the file's. */
  | { kind: 'wrong-hash' }
  /** Ignore Range requests (always answer 200 with the whole file). */
  | { kind: 'no-range' }
  /** Advertise this X-Linked-Etag instead of the sha256 (e.g. a hostile value). */
  | { kind: 'etag'; etag: string }
  /** Wait this long before sending the body. */
  | { kind: 'delay'; ms: number }
  /**
   * Send the file, then `extra` more bytes (or bytes without end when `extra` is undefined), with no
   * Content-Length (chunked), while the hub's HEAD still announces the file's real size.
   */
  | { kind: 'endless'; extra?: number }
  /** Announce no size anywhere: no X-Linked-Size, no Content-Length (a chunked body). */
  | { kind: 'no-size' }
  /** Answer 200 with an HTML page (a login wall) instead of the file, as `text/html` unless `contentType` says otherwise. */
  | { kind: 'html'; contentType?: string }
  /** Send `bytes` bytes every `intervalMs` (a slow-loris body that never trips an idle timeout). */
  | { kind: 'trickle'; bytes: number; intervalMs: number };

/** The page a hub or CDN shows instead of a file when it wants a login. */
export const LOGIN_WALL_HTML = '<!DOCTYPE html>\n<html lang="en"><head><title>Sign in</title></head><body><form action="/login">Sign in to continue</form></body></html>\n';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
}

export interface HubTestServer {
  /** e.g. http://127.0.0.1:43123 (use as HF_ENDPOINT). */
  readonly url: string;
  /** Every request received, in order. */
  readonly requests: RecordedRequest[];
  /** The commit every repo is at. */
  readonly commit: string;
  /** Adds or replaces a repo's files. */
  setRepo(repo: string, files: Record<string, Uint8Array | string>): void;
  /** Serves `bytes` at `/files/{name}` (release files). */
  setFile(name: string, bytes: Uint8Array): void;
  /** Applies a fault to a repo file (or `/files/{name}`) for the next `times` requests (default: all). */
  fault(file: string, fault: HubTestFault, times?: number): void;
  clearFaults(): void;
  close(): Promise<void>;
}

/** Files served through the LFS redirect: weights and graphs, as on the hub. */
function isLfs(file: string): boolean {
  return /\.(safetensors|onnx|bin|pth|pt|onnx_data)$/.test(file);
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const gitSha1 = (bytes: Uint8Array) => createHash('sha1').update(`blob ${bytes.byteLength}\0`).update(bytes).digest('hex');

export async function startHubTestServer(
  repos: Record<string, Record<string, Uint8Array | string>> = {},
  options: { commit?: string } = {},
): Promise<HubTestServer> {
  const commit = options.commit ?? 'c0ffee0000000000000000000000000000000001';
  const store = new Map<string, Map<string, Uint8Array>>();
  const releaseFiles = new Map<string, Uint8Array>();
  const blobs = new Map<string, Uint8Array>();
  const faults = new Map<string, { fault: HubTestFault; remaining: number }[]>();
  const requests: RecordedRequest[] = [];
  const sockets = new Set<Socket>();

  const setRepo = (repo: string, files: Record<string, Uint8Array | string>) => {
    const map = new Map<string, Uint8Array>();
    for (const [name, content] of Object.entries(files)) {
      const bytes = typeof content === 'string' ? new TextEncoder().encode(content) : content;
      map.set(name, bytes);
      blobs.set(sha256(bytes), bytes);
    }
    store.set(repo, map);
  };
  for (const [repo, files] of Object.entries(repos)) setRepo(repo, files);

  const takeFault = (key: string, kinds: HubTestFault['kind'][]): HubTestFault | undefined => {
    const list = faults.get(key);
    const entry = list?.find((candidate) => kinds.includes(candidate.fault.kind) && candidate.remaining > 0);
    if (!entry) return undefined;
    entry.remaining -= 1;
    return entry.fault;
  };

  /** True when a fault of this kind is set for `key` (without using it up). */
  const peekFault = (key: string, kind: HubTestFault['kind']): boolean => faults.get(key)?.some((entry) => entry.fault.kind === kind && entry.remaining > 0) ?? false;

  /** Answers with the login-wall page when `key` has the 'html' fault. */
  const sendHtml = (request: IncomingMessage, response: ServerResponse, key: string): boolean => {
    const fault = takeFault(key, ['html']);
    if (fault?.kind !== 'html') return false;
    const page = new TextEncoder().encode(LOGIN_WALL_HTML);
    response.writeHead(200, { 'content-type': fault.contentType ?? 'text/html; charset=utf-8', 'content-length': String(page.byteLength) });
    response.end(request.method === 'HEAD' ? undefined : page);
    return true;
  };

  /** Sends bytes honouring Range and the body faults of `key`. */
  const sendBytes = (request: IncomingMessage, response: ServerResponse, bytes: Uint8Array, key: string, headers: Record<string, string>) => {
    const noRange = takeFault(key, ['no-range']) !== undefined;
    const range = /^bytes=(\d+)-$/.exec(request.headers.range ?? '');
    let body = bytes;
    const head: Record<string, string> = { 'accept-ranges': noRange ? 'none' : 'bytes', 'content-type': 'application/octet-stream', ...headers };
    let status = 200;
    if (range && !noRange) {
      const start = Number(range[1]);
      if (start >= bytes.byteLength) {
        response.writeHead(416, { 'content-range': `bytes */${bytes.byteLength}` }).end();
        return;
      }
      body = bytes.subarray(start);
      status = 206;
      head['content-range'] = `bytes ${start}-${bytes.byteLength - 1}/${bytes.byteLength}`;
    }
    const unannounced = peekFault(key, 'no-size') || (request.method !== 'HEAD' && peekFault(key, 'endless'));
    if (!unannounced) head['content-length'] = String(body.byteLength);
    if (request.method === 'HEAD') {
      takeFault(key, ['no-size']);
      response.writeHead(status, head).end();
      return;
    }
    const delay = takeFault(key, ['delay']);
    if (delay?.kind === 'delay') {
      setTimeout(() => sendBody(response, status, head, body, key), delay.ms);
      return;
    }
    sendBody(response, status, head, body, key);
  };

  const sendBody = (response: ServerResponse, status: number, head: Record<string, string>, body: Uint8Array, key: string) => {
    takeFault(key, ['no-size']);
    const fault = takeFault(key, ['truncate', 'stall', 'endless', 'trickle']);
    response.writeHead(status, head);
    if (fault?.kind === 'endless') {
      // The file, then filler until `extra` bytes more were sent or the client goes away.
      const filler = new Uint8Array(64 * 1024).fill(0x41);
      let remaining = fault.extra ?? Number.POSITIVE_INFINITY;
      const pump = () => {
        while (!response.destroyed && remaining > 0) {
          const chunk = filler.subarray(0, Math.min(filler.byteLength, remaining));
          remaining -= chunk.byteLength;
          if (!response.write(chunk)) return void response.once('drain', pump);
        }
        if (!response.destroyed) response.end();
      };
      response.write(body);
      pump();
      return;
    }
    if (fault?.kind === 'trickle') {
      let sent = 0;
      const timer = setInterval(() => {
        if (response.destroyed) return clearInterval(timer);
        const next = body.subarray(sent, sent + fault.bytes);
        sent += next.byteLength;
        if (sent >= body.byteLength) {
          clearInterval(timer);
          response.end(next);
        } else response.write(next);
      }, fault.intervalMs);
      response.on('close', () => clearInterval(timer));
      return;
    }
    if (fault?.kind === 'truncate') {
      // Let the client read what was sent before the connection closes (a stream that errors
      // drops the chunks it still queues).
      response.write(body.subarray(0, Math.min(fault.bytes, body.byteLength)), () => setTimeout(() => response.socket?.end(), 150));
      return;
    }
    if (fault?.kind === 'stall') {
      if (fault.bytes) response.write(body.subarray(0, fault.bytes));
      else response.flushHeaders();
      return; // never ends; close() destroys the socket
    }
    response.end(body);
  };

  const handle = (request: IncomingMessage, response: ServerResponse) => {
    const url = new URL(request.url ?? '/', 'http://127.0.0.1');
    const path = decodeURIComponent(url.pathname);
    requests.push({ method: request.method ?? 'GET', path, headers: request.headers });
    // CORS, as huggingface.co sends it: pages on other origins read the files and the hub's headers.
    response.setHeader('access-control-allow-origin', '*');
    response.setHeader('access-control-expose-headers', 'etag, x-repo-commit, x-linked-etag, x-linked-size, content-length, content-range, accept-ranges, location');
    if (request.method === 'OPTIONS') {
      response.writeHead(204, { 'access-control-allow-methods': 'GET, HEAD, OPTIONS', 'access-control-allow-headers': '*', 'access-control-max-age': '600' }).end();
      return;
    }
    const cdn = /^\/cdn\/([0-9a-f]{64})$/.exec(path);
    if (cdn) {
      const bytes = blobs.get(cdn[1]!);
      if (!bytes) return void response.writeHead(404).end('no such blob');
      const key = (request.headers['x-test-file'] as string | undefined) ?? [...store.values()].flatMap((files) => [...files].filter(([, b]) => b === bytes).map(([name]) => name))[0] ?? '';
      if (sendHtml(request, response, key)) return;
      return sendBytes(request, response, bytes, key, { etag: `"${cdn[1]}"` });
    }
    const release = /^\/files\/(.+)$/.exec(path);
    if (release) {
      const bytes = releaseFiles.get(release[1]!);
      const status = takeFault(`/files/${release[1]}`, ['status']);
      if (status?.kind === 'status') return void response.writeHead(status.status).end('fault');
      if (!bytes) return void response.writeHead(404).end('not found');
      if (sendHtml(request, response, `/files/${release[1]}`)) return;
      return sendBytes(request, response, bytes, `/files/${release[1]}`, { etag: `"${gitSha1(bytes)}"` });
    }
    const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(path);
    if (!resolve) return void response.writeHead(404).end('unknown route');
    const [, repo, revision, file] = resolve as unknown as [string, string, string, string];
    const files = store.get(repo);
    if (!files) return void response.writeHead(404, { 'x-error-code': 'RepoNotFound' }).end('Repository not found');
    if (revision !== 'main' && revision !== commit) return void response.writeHead(404, { 'x-error-code': 'RevisionNotFound' }).end('Invalid rev id');
    const bytes = files.get(file);
    if (!bytes) return void response.writeHead(404, { 'x-error-code': 'EntryNotFound', 'x-repo-commit': commit }).end('Entry not found');
    const status = takeFault(file, ['status']);
    if (status?.kind === 'status') return void response.writeHead(status.status, { 'x-repo-commit': commit }).end('fault');
    if (sendHtml(request, response, file)) return;
    const digest = sha256(bytes);
    const noSize = peekFault(file, 'no-size');
    if (isLfs(file)) {
      const override = takeFault(file, ['wrong-hash', 'etag']);
      const advertised = override?.kind === 'wrong-hash' ? sha256(new TextEncoder().encode(`not ${digest}`)) : override?.kind === 'etag' ? override.etag : digest;
      response
        .writeHead(302, {
          location: `/cdn/${digest}`,
          'x-repo-commit': commit,
          'x-linked-etag': `"${advertised}"`,
          ...(noSize ? {} : { 'x-linked-size': String(bytes.byteLength) }),
          etag: `"${gitSha1(bytes)}"`,
          'content-length': '0',
        })
        .end();
      return;
    }
    return sendBytes(request, response, bytes, file, { etag: `"${gitSha1(bytes)}"`, 'x-repo-commit': commit });
  };

  const server: Server = createServer(handle);
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    commit,
    setRepo,
    setFile: (name, bytes) => {
      releaseFiles.set(name, bytes);
    },
    fault: (file, fault, times = Number.POSITIVE_INFINITY) => {
      const list = faults.get(file) ?? [];
      list.push({ fault, remaining: times });
      faults.set(file, list);
    },
    clearFaults: () => faults.clear(),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

