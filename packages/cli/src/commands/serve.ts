import type { Command } from 'commander';
import { InvalidArgumentError } from '@vitzoo/core';
import { resolveBackend } from '@vitzoo/pipeline/node';
import '@vitzoo/runtime-node'; // registers the 'node' backend
import { DEFAULT_BODY_LIMIT, MODEL_NAME, createServer } from '@vitzoo/server';
import type { CommandContext } from '../context.js';
import { DEFAULT_MODEL } from '../model-dir.js';
import { addModelSourceOptions, createModelLoader, type ModelSourceFlags } from '../model-loading.js';
import { integerOption } from '../option-values.js';
import { addBuildOptions, buildOptions, type BuildFlags } from '../build-options.js';

interface ServeCommandOptions extends ModelSourceFlags, BuildFlags {
  model: string[];
  name?: string;
  host: string;
  port: string;
  maxBatch: string;
  maxDelayMs: string;
  maxQueue: string;
  requestTimeoutMs: string;
  maxBodyMb: string;
  threads?: string;
  outputs: string;
  backend: string;
  logLevel: string;
}

/**
 * The name a model is served under when `--model` gives none: the last path segment of the source
 * (`models/digits-vit` → `digits-vit`, `timm/deit_small_patch16_224.fb_in1k@main` →
 * `deit_small_patch16_224.fb_in1k`, `hf-hub:org/repo` → `repo`).
 */
export function defaultModelName(source: string): string {
  const path = source.replace(/[?#].*$/, '').replace(/[\\/]+$/, '').replace(/@[^/\\]*$/, '');
  return (path.split(/[\\/]/).at(-1) ?? path).replace(/^hf-hub:/, '');
}

/** `--model [NAME=]SOURCE` arguments as names and sources (`--name` names a single model). */
export function parseModelArguments(values: readonly string[], name?: string): { name: string; source: string }[] {
  const models = (values.length > 0 ? values : [DEFAULT_MODEL]).map((value) => {
    const named = /^([A-Za-z0-9][A-Za-z0-9._-]*)=(.+)$/.exec(value);
    const source = named ? named[2]! : value;
    return { name: named ? named[1]! : defaultModelName(source), source, named: named !== null };
  });
  if (name !== undefined) {
    if (models.length !== 1) throw new InvalidArgumentError('--name', `--name names a single model; with ${models.length} models give each its name as --model NAME=SOURCE.`);
    if (models[0]!.named) throw new InvalidArgumentError('--name', `The model is named twice (--name ${name} and --model ${values[0]}); give one.`);
    models[0]!.name = name;
  }
  const seen = new Set<string>();
  for (const model of models) {
    if (!MODEL_NAME.test(model.name)) {
      throw new InvalidArgumentError('--model', `'${model.name}' (from ${model.source}) cannot be a model name in URLs (letters, digits, '.', '_', '-'); name it: --model NAME=${model.source}.`);
    }
    if (seen.has(model.name)) throw new InvalidArgumentError('--model', `Two models would be served as '${model.name}'; name them apart: --model NAME=SOURCE.`);
    seen.add(model.name);
  }
  return models.map(({ name: modelName, source }) => ({ name: modelName, source }));
}

/** Resolves on the first SIGTERM or SIGINT (and removes its listeners); `stop` removes them without waiting. */
function shutdownSignal(): { received: Promise<NodeJS.Signals>; stop(): void } {
  let handler: (signal: NodeJS.Signals) => void = () => undefined;
  const received = new Promise<NodeJS.Signals>((resolve) => (handler = resolve));
  process.once('SIGTERM', handler);
  process.once('SIGINT', handler);
  return {
    received,
    stop: () => {
      process.off('SIGTERM', handler);
      process.off('SIGINT', handler);
    },
  };
}

export function registerServe(program: Command, context: CommandContext): void {
  const command = program
    .command('serve')
    .description('serve models over the Open Inference Protocol (KServe v2 / Triton REST) with dynamic batching; SIGTERM drains and exits 0')
    .option('-m, --model <[name=]source>', `a model to serve (repeatable): a folder, bundled model, registry name, hub repo or URL, as classify --model takes; named by its last path segment unless NAME= is given (default ${DEFAULT_MODEL})`, (value: string, previous: string[]) => [...previous, value], [] as string[])
    .option('--name <name>', 'the name of the (single) model in URLs')
    .option('--host <host>', 'address to listen on (0.0.0.0 in containers)', '127.0.0.1')
    .option('--port <port>', 'port to listen on (0 picks a free one)', '8080')
    .option('--max-batch <n>', 'most images per model run, and per request (1 turns batching off)', '32')
    .option('--max-delay-ms <ms>', 'how long a request may wait for others to join its batch (0: none; batches form while the previous one runs)', '0')
    .option('--max-queue <n>', 'most requests per model waiting; more get 503 with Retry-After', '256')
    .option('--request-timeout-ms <ms>', 'answer 503 to a request not answered within this time', '30000')
    .option('--max-body-mb <mb>', 'largest request body in MiB (larger: 400)', String(DEFAULT_BODY_LIMIT / (1024 * 1024)))
    .option('--threads <n>', 'ONNX Runtime threads per model run (default: its own choice, every core)')
    .option('--outputs <names>', 'graph outputs to build and serve, comma-separated: logits, pre_logits, features', 'logits')
    .option('--backend <name>', 'runtime backend', 'node')
    .option('--log-level <level>', 'request log level: fatal, error, warn, info, debug, trace, silent', 'info');
  // The graph-build flags (--dtype, --q4-block-size, --image-size) and where models come from, as classify takes them.
  addModelSourceOptions(addBuildOptions(command), { graphCache: true }).action(async (options: ServeCommandOptions) => {
    const { io } = context;
    const models = parseModelArguments(options.model, options.name);
    const port = integerOption(options.port, '--port', 0, 65535);
    const maxBatch = integerOption(options.maxBatch, '--max-batch', 1);
    const maxDelayMs = integerOption(options.maxDelayMs, '--max-delay-ms', 0);
    const maxQueue = integerOption(options.maxQueue, '--max-queue', 1);
    const requestTimeoutMs = integerOption(options.requestTimeoutMs, '--request-timeout-ms', 1);
    const bodyLimit = integerOption(options.maxBodyMb, '--max-body-mb', 1) * 1024 * 1024;
    const threads = options.threads === undefined ? undefined : integerOption(options.threads, '--threads', 1);
    const build = buildOptions(options);
    const outputs = options.outputs.split(',').map((name) => name.trim()).filter(Boolean);
    const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
    if (!levels.includes(options.logLevel)) throw new InvalidArgumentError('--log-level', `--log-level must be one of ${levels.join(', ')}, got '${options.logLevel}'.`);

    const registry = await context.registry();
    const backend = await resolveBackend([options.backend]);
    // The CLI's one model loader (as classify); no progress bars: the output is the request log.
    const loader = createModelLoader(context, registry, { ...options, json: true });
    const load = (source: string) =>
      loader.load(source, { backend, outputs, ...build, batchSize: maxBatch, ...(threads !== undefined ? { sessionOptions: { intraOpNumThreads: threads } } : {}) });
    const server = createServer({
      models: models.map((model) => ({ name: model.name, load: () => load(model.source) })),
      maxBatch,
      maxDelayMs,
      maxQueue,
      requestTimeoutMs,
      bodyLimit,
      logger: { level: options.logLevel },
    });
    // stdout carries the JSON log lines (one per request); these few lifecycle lines go to stderr.
    const signal = shutdownSignal();
    try {
      const url = await server.listen({ host: options.host, port });
      io.stderr(`vitzoo serve: listening on ${url} (models: ${models.map((model) => model.name).join(', ')}; loading)\n`);
      const outcome = await Promise.race([server.ready().then(() => 'ready' as const), signal.received]);
      if (outcome === 'ready') {
        io.stderr(`vitzoo serve: ready at ${url}: ${models.map((model) => `${url}/v2/models/${model.name}`).join(', ')}\n`);
        await signal.received;
      }
      io.stderr('vitzoo serve: shutting down; answering the requests in flight\n');
    } finally {
      signal.stop();
      await server.close();
      io.stderr('vitzoo serve: stopped\n');
    }
  });
}
