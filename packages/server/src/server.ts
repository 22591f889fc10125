/**
 * `createServer`: vitzoo models behind the Open Inference Protocol (KServe v2 / Triton REST) on
 * fastify, with dynamic batching per model, a bounded queue, per-request timeouts, Prometheus
 * metrics and one structured log line per request.
 */
import { createRequire } from 'node:module';
import multipart from '@fastify/multipart';
import Fastify, { LogController, type FastifyError, type FastifyInstance, type FastifyRequest } from 'fastify';
import { InvalidArgumentError, VitzooError, createTensor, positiveInteger, type OutputName, type Tensor } from '@vitzoo/core';
import { indexLabels, predictionsFromLogits, resolvePredictionFilter, type Prediction } from '@vitzoo/pipeline';
import { preprocessImages } from '@vitzoo/preprocess/node';
import { QueueFullError, type Ticket } from './batcher.js';
import { createMetrics, type ServerMetrics } from './metrics.js';
import {
  HEADER_CONTENT_LENGTH,
  PROTOCOL_EXTENSIONS,
  classificationStrings,
  encodeInferenceResponse,
  readBytes,
  readFloat32,
  readInferenceRequest,
  splitBody,
  type RequestInput,
  type RequestedOutput,
  type ResponseOutput,
} from './protocol.js';
import { ServedModel, type ServedModelSource } from './served-model.js';

declare module 'fastify' {
  interface FastifyContextConfig {
    /** vitzoo: the endpoint a route serves, for metrics and log lines. */
    endpoint?: string;
  }
}

const packageVersion = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

/** Default largest request body: 64 MiB (a batch of 32 FP32 224x224 images in binary is 19 MB; in JSON about 3x that). */
export const DEFAULT_BODY_LIMIT = 64 * 1024 * 1024;

export interface ServerLoggerOptions {
  /** pino level: 'fatal', 'error', 'warn', 'info' (default), 'debug', 'trace' or 'silent'. */
  level?: string;
  /** Where the JSON lines go (default stdout). */
  stream?: { write(line: string): void };
}

export interface ServerOptions {
  /** The models to serve, by name (the `{name}` of the URLs). Loading starts at once; `ready()` says when they are. */
  models: readonly ServedModelSource[];
  /** Most images per model run; also the most one request may hold (default 32). 1 turns batching off. */
  maxBatch?: number;
  /** How long a request may wait for others to join its batch, in ms (default 0: batches form while the previous one runs). */
  maxDelayMs?: number;
  /** Most requests per model admitted and not yet running; more get 503 with Retry-After (default 256). */
  maxQueue?: number;
  /** A request not answered within this many ms gets 503 (default 30000). */
  requestTimeoutMs?: number;
  /** Largest request body in bytes (default 64 MiB); larger ones get 400. */
  bodyLimit?: number;
  /** One JSON line per request (pino, fastify's logger): `true` (default, info level to stdout), `false`, or options. */
  logger?: boolean | ServerLoggerOptions;
  /** The server name in the server metadata (default 'vitzoo'). */
  name?: string;
}

export interface VitzooServer {
  /** The fastify instance (routes, `inject` for tests). */
  readonly app: FastifyInstance;
  /** The Prometheus registry behind GET /metrics. */
  readonly metrics: ServerMetrics;
  /** `http://host:port` once listening. */
  readonly url: string | undefined;
  /** Starts accepting connections (default 127.0.0.1:8080; port 0 picks a free one); resolves with the URL. */
  listen(options?: { host?: string; port?: number }): Promise<string>;
  /** Resolves when every model is loaded and warmed up; rejects with the first model's load failure. */
  ready(): Promise<void>;
  /**
   * Stops accepting requests, answers the ones in flight, then disposes the models it loaded.
   * Readiness turns to 503 at once, so a load balancer stops sending traffic.
   */
  close(): Promise<void>;
}

/** An error answered with an HTTP status and `{"error": message}`. */
class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'HttpError';
  }
}

/** The reason a request is abandoned when its client goes away: nothing is answered, nothing is wrong. */
class ClientGoneError extends Error {
  constructor() {
    super('The client closed the connection.');
    this.name = 'ClientGoneError';
  }
}

const RETRY_AFTER = { 'retry-after': '1' };

type Endpoint = 'live' | 'ready' | 'server_metadata' | 'model_metadata' | 'model_ready' | 'infer' | 'classify' | 'models' | 'metrics' | 'not_found';

/** What a request carries between hooks and handler. */
interface RequestState {
  served?: ServedModel;
  ticket?: Ticket;
  controller: AbortController;
  timer?: ReturnType<typeof setTimeout>;
  /** Images in the request. */
  images?: number;
  /** The error answered, for the log line. */
  error?: string;
  /** Counted out of the requests in flight (answered or abandoned). */
  finished?: boolean;
}


function bad(message: string): InvalidArgumentError {
  return new InvalidArgumentError('request', message);
}

/** Status and message for an error thrown while answering. */
function describeError(error: unknown, bodyLimit: number, maxBatch: number): { status: number; message: string; headers: Record<string, string>; crash: boolean } {
  if (error instanceof HttpError) return { status: error.status, message: error.message, headers: error.headers, crash: false };
  if (error instanceof ClientGoneError) return { status: 499, message: error.message, headers: {}, crash: false }; // never sent: the connection is gone
  if (VitzooError.isInstance(error)) {
    const clientError = ['invalid-argument', 'invalid-image', 'invalid-config', 'unsupported', 'unknown-model'].includes(error.code);
    return { status: error.code === 'unknown-model' ? 404 : clientError ? 400 : 500, message: error.message, headers: {}, crash: !clientError };
  }
  const fastifyError = error as Partial<FastifyError>;
  switch (fastifyError.code) {
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
    case 'FST_REQ_FILE_TOO_LARGE':
      return { status: 400, message: `The request body is larger than the limit of ${bodyLimit} bytes (bodyLimit, vitzoo serve --max-body-mb).`, headers: {}, crash: false };
    case 'FST_FILES_LIMIT':
      return { status: 400, message: `A request holds at most ${maxBatch} images (--max-batch).`, headers: {}, crash: false };
    default:
      break;
  }
  if (typeof fastifyError.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
    return { status: fastifyError.statusCode, message: fastifyError.message ?? 'Bad request.', headers: {}, crash: false };
  }
  return { status: 500, message: `Internal error: ${error instanceof Error ? error.message : String(error)}`, headers: {}, crash: true };
}

/** Creates the server; models start loading at once. Call `listen` to accept connections. */
export function createServer(options: ServerOptions): VitzooServer {
  if (!options || !Array.isArray(options.models) || options.models.length === 0) {
    throw new InvalidArgumentError('models', 'createServer needs at least one model: { models: [{ name, model }] or [{ name, load }] }.');
  }
  const maxBatch = positiveInteger(options.maxBatch ?? 32, 'maxBatch');
  const requestTimeoutMs = positiveInteger(options.requestTimeoutMs ?? 30_000, 'requestTimeoutMs');
  const bodyLimit = positiveInteger(options.bodyLimit ?? DEFAULT_BODY_LIMIT, 'bodyLimit');
  const serverName = options.name ?? 'vitzoo';
  const metrics = createMetrics();

  const models = new Map<string, ServedModel>();
  for (const source of options.models) {
    const name = source?.name;
    const served = new ServedModel(source, { maxBatch, maxDelayMs: options.maxDelayMs, maxQueue: options.maxQueue }, {
      batch: (size, seconds) => {
        metrics.batchSize.observe({ model: name }, size);
        metrics.batchSeconds.observe({ model: name }, seconds);
      },
      queueDepth: (depth) => metrics.queueDepth.set({ model: name }, depth),
    });
    if (models.has(served.name)) throw new InvalidArgumentError('models', `Two models are named '${served.name}'; names must be unique.`);
    models.set(served.name, served);
    metrics.modelReady.set({ model: served.name }, 0);
    metrics.queueDepth.set({ model: served.name }, 0);
  }

  const loggerOption = options.logger ?? true;
  const app = Fastify({
    logger: loggerOption === false ? false : loggerOption === true ? { level: 'info' } : { level: loggerOption.level ?? 'info', ...(loggerOption.stream ? { stream: loggerOption.stream } : {}) },
    logController: new LogController({ disableRequestLogging: true }), // our onResponse hook logs one line per request
    bodyLimit,
    return503OnClosing: false,
    forceCloseConnections: 'idle',
  });

  // Sequentially, so two large models do not convert at once.
  const loading = (async () => {
    for (const served of models.values()) {
      await served.load();
      if (served.state === 'ready') {
        metrics.modelReady.set({ model: served.name }, 1);
        metrics.modelLoadSeconds.set({ model: served.name }, served.loadSeconds!);
        app.log.info({ model: served.name, loadSeconds: Number(served.loadSeconds!.toFixed(3)), signature: served.signature }, 'model ready');
      } else {
        app.log.error({ model: served.name, error: served.unavailableReason }, 'model failed to load');
      }
    }
  })();

  const states = new WeakMap<FastifyRequest, RequestState>();
  let draining = false;
  let url: string | undefined;

  const stateOf = (request: FastifyRequest): RequestState => {
    let state = states.get(request);
    if (!state) states.set(request, (state = { controller: new AbortController() }));
    return state;
  };
  const endpointOf = (request: FastifyRequest): Endpoint => ((request.routeOptions.config?.endpoint as Endpoint | undefined) ?? 'not_found');
  const lookup = (name: string): ServedModel => {
    const served = models.get(name);
    if (!served) throw new HttpError(404, `Model '${name}' is not served here. Served models: ${[...models.keys()].join(', ')}.`);
    return served;
  };

  /** onRequest for the inference routes: the model exists and is ready, and its queue has room (before the body is read). */
  const admit = async (request: FastifyRequest) => {
    const state = stateOf(request);
    const name = endpointOf(request) === 'classify' ? classifyTarget(request) : (request.params as { name: string }).name;
    const served = lookup(name);
    state.served = served;
    if (draining) throw new HttpError(503, 'The server is shutting down; retry on another replica.', { ...RETRY_AFTER, connection: 'close' });
    if (served.state !== 'ready') throw new HttpError(503, served.unavailableReason, served.state === 'loading' ? RETRY_AFTER : {});
    try {
      state.ticket = served.batcher!.admit();
    } catch (error) {
      if (error instanceof QueueFullError) {
        throw new HttpError(503, `Model '${served.name}' is overloaded: ${served.batcher!.maxQueue} requests are already waiting (--max-queue); retry later.`, RETRY_AFTER);
      }
      throw error;
    }
    state.timer = setTimeout(() => {
      state.controller.abort(new HttpError(503, `The request was not answered within ${requestTimeoutMs} ms (--request-timeout-ms); the server is overloaded, retry later.`, RETRY_AFTER));
    }, requestTimeoutMs);
  };

  const classifyTarget = (request: FastifyRequest): string => {
    const target = (request.params as { target: string }).target;
    const match = /^(.*):classify$/.exec(target);
    if (!match) throw new HttpError(404, `No route POST ${request.url}; the convenience route is POST /v1/models/{name}:classify.`);
    return match[1]!;
  };

  // Requests in flight, so close() resolves only once each is answered and logged.
  let inFlight = 0;
  let allFinished: (() => void) | undefined;
  const finish = (state: RequestState | undefined) => {
    if (!state || state.finished) return;
    state.finished = true;
    inFlight -= 1;
    if (inFlight === 0) allFinished?.();
  };
  app.addHook('onRequest', async (request, reply) => {
    const state = stateOf(request);
    inFlight += 1;
    // A connection closed before the answer was sent (the client gave up or went away): fastify
    // runs no onResponse then, so the request's queue place, timer and count are given back here.
    reply.raw.once('close', () => {
      if (reply.raw.writableFinished) return; // answered: onResponse logs and counts it
      state.controller.abort(new ClientGoneError());
      clearTimeout(state.timer);
      state.ticket?.release();
      const endpoint = endpointOf(request);
      const model = state.served?.name ?? '';
      metrics.requests.inc({ model, endpoint, status: 'aborted' });
      request.log.info({ method: request.method, url: request.url, endpoint, ...(model ? { model } : {}) }, 'request aborted by the client');
      finish(state);
    });
  });

  // While draining, every answer closes its connection, so close() does not wait for idle keep-alive sockets.
  app.addHook('onSend', async (_request, reply) => {
    if (draining) void reply.header('connection', 'close');
  });

  app.addHook('onResponse', async (request, reply) => {
    const state = states.get(request);
    if (state) {
      clearTimeout(state.timer);
      state.ticket?.release();
    }
    const endpoint = endpointOf(request);
    const model = state?.served?.name ?? '';
    const seconds = reply.elapsedTime / 1000;
    metrics.requests.inc({ model, endpoint, status: String(reply.statusCode) });
    metrics.requestSeconds.observe({ model, endpoint }, seconds);
    const line = {
      method: request.method,
      url: request.url,
      statusCode: reply.statusCode,
      durationMs: Number(reply.elapsedTime.toFixed(2)),
      endpoint,
      ...(model ? { model } : {}),
      ...(state?.images !== undefined ? { images: state.images } : {}),
      ...(state?.error !== undefined ? { error: state.error } : {}),
    };
    if (reply.statusCode >= 500 && reply.statusCode !== 503) request.log.error(line, 'request failed');
    else if (reply.statusCode >= 500) request.log.warn(line, 'request refused');
    else request.log.info(line, 'request completed');
    finish(state);
  });

  app.setErrorHandler((error, request, reply) => {
    const described = describeError(error, bodyLimit, maxBatch);
    stateOf(request).error = described.message;
    if (described.crash) request.log.error({ err: error }, 'internal error');
    void reply.code(described.status).headers(described.headers).send({ error: described.message });
  });

  app.setNotFoundHandler((request, reply) => {
    const message =
      `No route ${request.method} ${request.url}. Routes: GET /v2/health/live, GET /v2/health/ready, GET /v2, GET /v2/models/{name}, ` +
      'GET /v2/models/{name}/ready, POST /v2/models/{name}/infer, POST /v1/models/{name}:classify, GET /v1/models, GET /metrics (models are unversioned).';
    stateOf(request).error = message;
    void reply.code(404).send({ error: message });
  });

  // Health and metadata.
  app.get('/v2/health/live', { config: { endpoint: 'live' } }, async () => ({ live: true }));
  app.get('/v2/health/ready', { config: { endpoint: 'ready' } }, async (_request, reply) => {
    const ready = !draining && [...models.values()].every((served) => served.state === 'ready');
    return reply.code(ready ? 200 : 503).send({ ready });
  });
  app.get('/v2', { config: { endpoint: 'server_metadata' } }, async () => ({ name: serverName, version: packageVersion, extensions: [...PROTOCOL_EXTENSIONS] }));
  app.get('/v1/models', { config: { endpoint: 'models' } }, async () => ({ models: [...models.keys()] }));
  app.get('/v2/models/:name', { config: { endpoint: 'model_metadata' } }, async (request) => {
    const served = lookup((request.params as { name: string }).name);
    stateOf(request).served = served;
    if (served.state !== 'ready') throw new HttpError(503, served.unavailableReason, RETRY_AFTER);
    const { inputs, outputs } = served.signature!;
    return { name: served.name, platform: 'onnxruntime_onnx', inputs, outputs };
  });
  app.get('/v2/models/:name/ready', { config: { endpoint: 'model_ready' } }, async (request, reply) => {
    const served = lookup((request.params as { name: string }).name);
    stateOf(request).served = served;
    const ready = !draining && served.state === 'ready';
    return reply.code(ready ? 200 : 503).send({ name: served.name, ready });
  });
  app.get('/metrics', { config: { endpoint: 'metrics' } }, async (_request, reply) => {
    const text = await metrics.registry.metrics();
    return reply.header('content-type', metrics.registry.contentType).send(text);
  });

  // Inference: the body is read as bytes whatever its type (JSON, or JSON + binary tensor data).
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    scope.post('/v2/models/:name/infer', { config: { endpoint: 'infer' }, onRequest: admit }, async (request, reply) => {
      const state = stateOf(request);
      const served = state.served!;
      const { json, binary } = splitBody(request.body as Buffer | undefined, request.headers[HEADER_CONTENT_LENGTH]);
      const inference = readInferenceRequest(json, binary);
      const model = served.model!;
      const requested: RequestedOutput[] = inference.outputs ?? model.outputs.map((name) => ({ name, binary: inference.binaryOutput }));
      for (const output of requested) {
        if (!(model.outputs as readonly string[]).includes(output.name)) {
          throw bad(`Model '${served.name}' has no output '${output.name}'; its outputs are ${model.outputs.map((name) => `'${name}'`).join(', ')} (vitzoo serve --outputs chooses them).`);
        }
      }
      const pixels = await readPixels(inference.inputs, served, maxBatch);
      const rows = pixels.shape[0]!;
      state.images = rows;
      state.controller.signal.throwIfAborted(); // timed out or abandoned while being read or decoded
      const results = await state.ticket!.submit(pixels, requested.map((output) => output.name as OutputName), state.controller.signal);
      const outputs = requested.map((output): ResponseOutput => {
        const tensor = results[output.name as OutputName]!;
        if (output.classification === undefined) return { name: output.name, datatype: 'FP32', shape: tensor.shape, data: tensor.data as Float32Array, binary: output.binary };
        if (tensor.shape.length !== 2) throw bad(`The classification parameter applies to [batch, classes] outputs such as 'logits'; '${output.name}' is [${tensor.shape.join(', ')}].`);
        const classes = tensor.shape[1]!;
        const labels = output.name === 'logits' ? model.labels : undefined;
        const data = classificationStrings(tensor.data as Float32Array, rows, output.classification, labels);
        return { name: output.name, datatype: 'BYTES', shape: [rows, Math.min(output.classification, classes)], data, binary: output.binary };
      });
      const encoded = encodeInferenceResponse({ modelName: served.name, ...(inference.id !== undefined ? { id: inference.id } : {}), outputs });
      if (encoded.headerLength !== undefined) void reply.header('inference-header-content-length', String(encoded.headerLength));
      return reply.header('content-type', encoded.contentType).send(encoded.body);
    });
  });

  // The convenience route: raw image bytes or multipart/form-data files in, top-k predictions out.
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    await scope.register(multipart, { limits: { fileSize: bodyLimit, files: maxBatch, fields: 16, parts: maxBatch + 16 } });
    scope.post('/v1/models/:target', { config: { endpoint: 'classify' }, onRequest: admit }, async (request, reply) => {
      const state = stateOf(request);
      const served = state.served!;
      const model = served.model!;
      const query = request.query as Record<string, string | undefined>;
      const topK = query.top_k === undefined ? 5 : Number(query.top_k);
      const threshold = query.threshold === undefined ? undefined : Number(query.threshold);
      if (!model.outputs.includes('logits')) throw bad(`Model '${served.name}' was loaded without 'logits', so it cannot classify.`);
      const files: { name: string; bytes: Buffer }[] = [];
      if (request.isMultipart()) {
        let total = 0;
        for await (const part of request.parts()) {
          if (part.type !== 'file') continue;
          const bytes = await part.toBuffer();
          total += bytes.length;
          if (total > bodyLimit) throw Object.assign(new Error('too large'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE' });
          files.push({ name: part.filename || part.fieldname, bytes });
        }
        if (files.length === 0) throw bad('The multipart/form-data body holds no file; send each image as a file field.');
      } else {
        const body = request.body as Buffer | undefined;
        if (!body || body.length === 0) throw bad('The request has no body; send the encoded image (PNG, JPEG, WebP, …) as the body, or multipart/form-data files.');
        files.push({ name: 'body', bytes: body });
      }
      state.images = files.length;
      const transform = model.transform;
      // Decoded a few at a time within one image's pixel budget (PIL's limit), each turned into its
      // tensor at once: a request of many large images never holds them all decoded.
      const pixels = (await preprocessImages(files.map((file) => file.bytes), transform, { names: files.map((file) => file.name) })) as Tensor<'float32'>;
      const labels = model.labels ?? indexLabels(served.signature!.outputs.find((output) => output.name === 'logits')!.shape[1]!);
      const filter = resolvePredictionFilter({ topK, ...(threshold !== undefined ? { threshold } : {}) }, labels);
      state.controller.signal.throwIfAborted(); // timed out or abandoned while being read or decoded
      const { logits } = await state.ticket!.submit(pixels, ['logits'], state.controller.signal);
      const classes = logits!.shape[1]!;
      const values = logits!.data as Float32Array;
      const results = files.map((file, row): { image: string; predictions: Prediction[] } => ({
        image: file.name,
        predictions: predictionsFromLogits(values.subarray(row * classes, (row + 1) * classes), labels, filter),
      }));
      return reply.send({ model_name: served.name, results });
    });
  });

  const ready = loading.then(() => {
    const failed = [...models.values()].find((served) => served.state === 'failed');
    if (failed) throw failed.error;
  });
  ready.catch(() => undefined); // reported through ready() and the log

  let closing: Promise<void> | undefined;
  return {
    app,
    metrics,
    get url() {
      return url;
    },
    async listen(listenOptions = {}) {
      const host = listenOptions.host ?? '127.0.0.1';
      await app.listen({ host, port: listenOptions.port ?? 8080 });
      const { port } = app.server.address() as { port: number };
      url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
      return url;
    },
    ready: () => ready,
    close() {
      closing ??= (async () => {
        draining = true;
        for (const served of models.values()) metrics.modelReady.set({ model: served.name }, 0);
        await app.close(); // stops accepting; resolves when the connections are closed
        if (inFlight > 0) await new Promise<void>((resolve) => (allFinished = resolve)); // and each request is answered and logged
        await loading;
        for (const served of models.values()) {
          await served.batcher?.whenIdle();
          await served.dispose();
        }
      })();
      return closing;
    },
  };
}

/** The request's one input as a `[N, 3, H, W]` float32 batch: `pixel_values` as given, or `image` decoded and preprocessed with the model's config. */
async function readPixels(inputs: readonly RequestInput[], served: ServedModel, maxBatch: number): Promise<Tensor<'float32'>> {
  const { height, width } = served.signature!;
  const expected = `'pixel_values' (FP32 [N, 3, ${height ?? 'H'}, ${width ?? 'W'}]) or 'image' (BYTES [N], encoded images)`;
  if (inputs.length !== 1) throw bad(`Model '${served.name}' takes one input, ${expected}; got ${inputs.map((input) => `'${input.name}'`).join(', ')}.`);
  const input = inputs[0]!;
  const images = input.shape[0] ?? 0;
  const checkImages = () => {
    if (images < 1 || images > maxBatch) throw bad(`Input '${input.name}' holds ${images} images; a request holds 1 to ${maxBatch} (--max-batch).`);
  };
  if (input.name === 'pixel_values') {
    if (input.datatype !== 'FP32') throw bad(`Input 'pixel_values' has datatype '${input.datatype}'; model '${served.name}' takes ${expected}.`);
    const [, channels, h, w] = input.shape;
    if (input.shape.length !== 4 || channels !== 3 || (height !== undefined && h !== height) || (width !== undefined && w !== width) || !(h! > 0 && w! > 0)) {
      throw bad(`Input 'pixel_values' has shape [${input.shape.join(', ')}]; model '${served.name}' takes [N, 3, ${height ?? 'H'}, ${width ?? 'W'}].`);
    }
    checkImages();
    return createTensor('float32', input.shape, readFloat32(input));
  }
  if (input.name === 'image') {
    if (input.datatype !== 'BYTES') throw bad(`Input 'image' has datatype '${input.datatype}'; it must be BYTES (encoded images: PNG, JPEG, WebP, GIF, TIFF, AVIF).`);
    if (!(input.shape.length === 1 || (input.shape.length === 2 && input.shape[1] === 1))) {
      throw bad(`Input 'image' has shape [${input.shape.join(', ')}]; it must be [N] (or [N, 1]): one encoded image per element.`);
    }
    checkImages();
    const elements = readBytes(input);
    const transform = served.model!.transform;
    // As :classify: decoded within a pixel budget, never all at once.
    return (await preprocessImages(elements, transform, { names: elements.map((_, index) => `image[${index}]`) })) as Tensor<'float32'>;
  }
  throw bad(`Model '${served.name}' has no input '${input.name}'; it takes ${expected}.`);
}

