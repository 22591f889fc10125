import { readFileSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSafetensors, type Tensor } from '@vitzoo/core';
import { loadModel, type Model } from '@vitzoo/pipeline/node';
import { decodeImage } from '@vitzoo/preprocess/node';
import { nodeBackend } from '@vitzoo/runtime-node';
import { createDefaultRegistry } from 'vitzoo';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createServer, type VitzooServer } from './server.js';
import { OpenInferenceClient, type ClientInput } from './test-client.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const digits = join(root, 'fixtures/digits');
const files = readdirSync(join(digits, 'test')).filter((name) => name.endsWith('.png')).sort();
const pngs = files.map((name) => new Uint8Array(readFileSync(join(digits, 'test', name))));
const registry = createDefaultRegistry();
const packageVersion = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** torch's logits for the 360 test images (file-name order), from the fixtures. */
function torchLogits(model: 'vit' | 'deit'): Float32Array {
  return parseSafetensors(readFileSync(join(digits, model, 'io.safetensors'))).tensors.logits!.data as Float32Array;
}
const reference = { 'digits-vit': torchLogits('vit'), 'digits-deit': torchLogits('deit') };

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i]! - b[i]!));
  return max;
}

/** The torch logits of test images `indices`, as one flat array. */
function expectedLogits(model: keyof typeof reference, indices: readonly number[]): Float32Array {
  const out = new Float32Array(indices.length * 10);
  indices.forEach((image, row) => out.set(reference[model].subarray(image * 10, image * 10 + 10), row * 10));
  return out;
}

/** Collects the server's JSON log lines. */
function logCollector() {
  const lines: Record<string, unknown>[] = [];
  return { lines, stream: { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) } };
}

/** No log line at error level or above, none with a stack: bad input is never a crash. */
function expectNoCrash(lines: readonly Record<string, unknown>[]) {
  const crashes = lines.filter((line) => (line.level as number) >= 50 || JSON.stringify(line).includes('"stack"'));
  expect(crashes).toEqual([]);
}

let vit: Model;
let deit: Model;
/** Test images decoded and preprocessed by the models' own transform (both models share 32x32 / mean 0.5 / std 0.5). */
let pixels: Tensor<'float32'>;

beforeAll(async () => {
  // One runtime thread each: the test machine's cores are shared, and these models are tiny.
  vit = await loadModel(join(root, 'models/digits-vit'), { registry, backend: nodeBackend, outputs: ['logits', 'pre_logits'], sessionOptions: { intraOpNumThreads: 1 } });
  deit = await loadModel(join(root, 'models/digits-deit'), { registry, backend: nodeBackend, sessionOptions: { intraOpNumThreads: 1 } });
  const images = await Promise.all(pngs.map((bytes, index) => decodeImage(bytes, files[index])));
  pixels = vit.transform.applyBatch(images) as Tensor<'float32'>;
});
afterAll(async () => {
  await vit?.dispose();
  await deit?.dispose();
});

/** Rows `indices` of the preprocessed test images, flat. */
function pixelRows(indices: readonly number[]): Float32Array {
  const plane = 3 * 32 * 32;
  const out = new Float32Array(indices.length * plane);
  indices.forEach((image, row) => out.set(pixels.data.subarray(image * plane, (image + 1) * plane), row * plane));
  return out;
}

function pixelInput(indices: readonly number[], binary = false): ClientInput {
  return { name: 'pixel_values', shape: [indices.length, 3, 32, 32], datatype: 'FP32', data: pixelRows(indices), binary };
}

function imageInput(indices: readonly number[], binary = false): ClientInput {
  return { name: 'image', shape: [indices.length], datatype: 'BYTES', data: indices.map((index) => pngs[index]!), binary };
}

describe('the Open Inference Protocol on a real server (digits ViT and DeiT)', () => {
  let server: VitzooServer;
  let client: OpenInferenceClient;
  const log = logCollector();

  beforeAll(async () => {
    server = createServer({
      models: [
        { name: 'digits-vit', model: vit },
        { name: 'digits-deit', model: deit },
      ],
      maxBatch: 32,
      maxDelayMs: 5,
      bodyLimit: 1024 * 1024,
      logger: { stream: log.stream },
    });
    client = new OpenInferenceClient(await server.listen({ host: '127.0.0.1', port: 0 }));
    await server.ready();
  });
  afterAll(() => server?.close());

  test('health, server metadata, model metadata and model readiness', async () => {
    expect(server.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await client.live()).toMatchObject({ status: 200, body: { live: true } });
    expect(await client.ready()).toMatchObject({ status: 200, body: { ready: true } });
    const metadata = await client.serverMetadata();
    expect(metadata.status).toBe(200);
    expect(metadata.body).toEqual({ name: 'vitzoo', version: packageVersion, extensions: ['binary_tensor_data', 'classification'] });

    const vitMetadata = await client.modelMetadata('digits-vit');
    expect(vitMetadata.status).toBe(200);
    expect(vitMetadata.body).toEqual({
      name: 'digits-vit',
      platform: 'onnxruntime_onnx',
      inputs: [{ name: 'pixel_values', datatype: 'FP32', shape: [-1, 3, 32, 32] }],
      // digits-vit: 10 classes, embed_dim 64 (models/digits-vit/config.json)
      outputs: [
        { name: 'logits', datatype: 'FP32', shape: [-1, 10] },
        { name: 'pre_logits', datatype: 'FP32', shape: [-1, 64] },
      ],
    });
    expect((await client.modelMetadata('digits-deit')).body.outputs).toEqual([{ name: 'logits', datatype: 'FP32', shape: [-1, 10] }]);
    expect(await client.modelReady('digits-deit')).toMatchObject({ status: 200, body: { name: 'digits-deit', ready: true } });

    for (const result of [await client.modelMetadata('nope'), await client.modelReady('nope')]) {
      expect(result.status).toBe(404);
      expect(result.body.error).toMatch(/Model 'nope' is not served here\. Served models: digits-vit, digits-deit/);
    }
    const models = await fetch(`${server.url}/v1/models`);
    expect(await models.json()).toEqual({ models: ['digits-vit', 'digits-deit'] });
    const unknownRoute = await fetch(`${server.url}/v2/models/digits-vit/versions/1/infer`, { method: 'POST', body: '{}' });
    expect(unknownRoute.status).toBe(404);
    expect(((await unknownRoute.json()) as { error: string }).error).toMatch(/No route POST .*unversioned/);
  });

  test('FP32 pixel_values in JSON and as binary give the logits of model.forward and of torch', async () => {
    const indices = [0, 1, 2, 3, 4, 5];
    const json = await client.infer('digits-vit', { id: 'request-7', inputs: [pixelInput(indices)] });
    expect(json.status).toBe(200);
    expect(json.binary).toBe(false);
    expect(json.body).toMatchObject({ model_name: 'digits-vit', id: 'request-7' });
    expect(json.outputs.map((output) => [output.name, output.datatype, output.shape])).toEqual([
      ['logits', 'FP32', [6, 10]],
      ['pre_logits', 'FP32', [6, 64]],
    ]);
    const direct = await vit.forward({ dtype: 'float32', shape: [6, 3, 32, 32], data: pixelRows(indices) });
    expect(maxAbsDiff(json.outputs[0]!.data as Float32Array, direct.logits!.data as Float32Array)).toBeLessThan(1e-5);
    expect(maxAbsDiff(json.outputs[1]!.data as Float32Array, direct.pre_logits!.data as Float32Array)).toBeLessThan(1e-5);
    expect(maxAbsDiff(json.outputs[0]!.data as Float32Array, expectedLogits('digits-vit', indices))).toBeLessThan(1e-4);

    // The binary tensor data extension both ways: binary input, binary output for logits only.
    const binary = await client.infer('digits-vit', { inputs: [pixelInput(indices, true)], outputs: [{ name: 'logits', parameters: { binary_data: true } }] });
    expect(binary.status).toBe(200);
    expect(binary.binary).toBe(true);
    expect(binary.headers.get('content-type')).toBe('application/octet-stream');
    expect(binary.body.id).toBeUndefined();
    expect(binary.outputs.map((output) => [output.name, output.shape, output.parameters])).toEqual([['logits', [6, 10], { binary_data_size: 6 * 10 * 4 }]]);
    expect(maxAbsDiff(binary.outputs[0]!.data as Float32Array, direct.logits!.data as Float32Array)).toBeLessThan(1e-5);

    // binary_data_output for every output, on a binary request to the other model.
    const all = await client.infer('digits-deit', { parameters: { binary_data_output: true }, inputs: [pixelInput([10, 11], true)] });
    expect(all.status).toBe(200);
    expect(all.outputs.map((output) => output.parameters)).toEqual([{ binary_data_size: 2 * 10 * 4 }]);
    expect(maxAbsDiff(all.outputs[0]!.data as Float32Array, expectedLogits('digits-deit', [10, 11]))).toBeLessThan(1e-4);

    // Nested data (the tensor's natural shape) is the same tensor as flat data.
    const nested = pixelRows([3]);
    const rows = Array.from({ length: 3 }, (_, c) => Array.from({ length: 32 }, (_, y) => Array.from(nested.subarray(c * 1024 + y * 32, c * 1024 + y * 32 + 32))));
    const nestedResult = await client.infer('digits-deit', { inputs: [{ name: 'pixel_values', shape: [1, 3, 32, 32], datatype: 'FP32', data: [rows] }] });
    expect(nestedResult.status).toBe(200);
    expect(maxAbsDiff(nestedResult.outputs[0]!.data as Float32Array, expectedLogits('digits-deit', [3]))).toBeLessThan(1e-4);
  });

  test('BYTES image inputs (base64 in JSON, or binary) are decoded and preprocessed with the model config: the logits of classify and torch', async () => {
    const indices = [20, 21, 22, 23];
    for (const binary of [false, true]) {
      const result = await client.infer('digits-deit', { inputs: [imageInput(indices, binary)] });
      expect(result.status).toBe(200);
      expect(result.outputs[0]!.shape).toEqual([4, 10]);
      expect(maxAbsDiff(result.outputs[0]!.data as Float32Array, expectedLogits('digits-deit', indices))).toBeLessThan(1e-4);
    }
    // [N, 1] is accepted as well as [N].
    const column = await client.infer('digits-vit', { inputs: [{ ...imageInput([30, 31], true), shape: [2, 1] }], outputs: [{ name: 'logits' }] });
    expect(column.status).toBe(200);
    expect(column.outputs.map((output) => output.name)).toEqual(['logits']);
    expect(maxAbsDiff(column.outputs[0]!.data as Float32Array, expectedLogits('digits-vit', [30, 31]))).toBeLessThan(1e-4);
  });

  test('requested outputs and the classification extension (top-k "value:index:label" per image)', async () => {
    const only = await client.infer('digits-vit', { inputs: [pixelInput([5, 6])], outputs: [{ name: 'pre_logits' }] });
    expect(only.outputs.map((output) => [output.name, output.shape])).toEqual([['pre_logits', [2, 64]]]);
    const direct = await vit.forward({ dtype: 'float32', shape: [2, 3, 32, 32], data: pixelRows([5, 6]) }, { outputs: ['pre_logits'] });
    expect(maxAbsDiff(only.outputs[0]!.data as Float32Array, direct.pre_logits!.data as Float32Array)).toBeLessThan(1e-5);

    for (const binary of [false, true]) {
      const classified = await client.infer('digits-vit', { inputs: [pixelInput([5, 6])], outputs: [{ name: 'logits', parameters: { classification: 3, binary_data: binary } }] });
      expect(classified.status).toBe(200);
      const output = classified.outputs[0]!;
      expect([output.datatype, output.shape]).toEqual(['BYTES', [2, 3]]);
      const logits = expectedLogits('digits-vit', [5, 6]);
      const strings = output.data as string[];
      for (let row = 0; row < 2; row++) {
        const sorted = Array.from({ length: 10 }, (_, index) => index).sort((a, b) => logits[row * 10 + b]! - logits[row * 10 + a]!);
        for (let rank = 0; rank < 3; rank++) {
          const [value, index, label] = strings[row * 3 + rank]!.split(':');
          expect(Number(index)).toBe(sorted[rank]);
          expect(label).toBe(String(sorted[rank])); // digits' label names are the digits
          expect(Math.abs(Number(value) - logits[row * 10 + sorted[rank]!]!)).toBeLessThan(1e-4);
        }
      }
    }
  });

  test('the classify route: raw image bytes or multipart files in, top-k JSON like `vitzoo classify --json` out', async () => {
    const raw = await fetch(`${server.url}/v1/models/digits-deit:classify?top_k=3`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: pngs[40] });
    expect(raw.status).toBe(200);
    const expected = await deit.classify(await decodeImage(pngs[40]!), { topK: 3 });
    expect(await raw.json()).toEqual({ model_name: 'digits-deit', results: [{ image: 'body', predictions: expected[0] }] });

    const form = new FormData();
    for (const index of [41, 42, 43]) form.append('images', new Blob([pngs[index]!], { type: 'image/png' }), files[index]);
    const multipart = await fetch(`${server.url}/v1/models/digits-vit:classify?threshold=0.01`, { method: 'POST', body: form });
    expect(multipart.status).toBe(200);
    const body = (await multipart.json()) as { results: { image: string; predictions: { index: number; score: number }[] }[] };
    const classified = await vit.classify(await Promise.all([41, 42, 43].map((index) => decodeImage(pngs[index]!))), { topK: 5, threshold: 0.01 });
    expect(body.results.map((result) => result.image)).toEqual([files[41], files[42], files[43]]);
    body.results.forEach((result, row) => {
      expect(result.predictions.map((prediction) => prediction.index)).toEqual(classified[row]!.map((prediction) => prediction.index));
      result.predictions.forEach((prediction, rank) => expect(Math.abs(prediction.score - classified[row]![rank]!.score)).toBeLessThan(1e-6));
    });

    const wrongVerb = await fetch(`${server.url}/v1/models/digits-vit:explain`, { method: 'POST', body: pngs[0] });
    expect(wrongVerb.status).toBe(404);
    const badTopK = await fetch(`${server.url}/v1/models/digits-vit:classify?top_k=zero`, { method: 'POST', body: pngs[0] });
    expect(badTopK.status).toBe(400);
    expect(((await badTopK.json()) as { error: string }).error).toMatch(/topK must be a positive integer/);
  });

  test('bad requests get 400 and a message naming what was wrong; nothing is logged as a crash', async () => {
    const cases: [string, Promise<{ status: number; body: Record<string, unknown> }>, RegExp][] = [
      ['malformed JSON', client.post('digits-vit', '{"inputs": [', { 'Content-Type': 'application/json' }), /not valid JSON/],
      ['no body', client.post('digits-vit', ''), /has no body/],
      ['no inputs', client.post('digits-vit', '{"inputs": []}'), /'inputs' must be a non-empty array/],
      ['wrong datatype', client.infer('digits-vit', { inputs: [{ ...pixelInput([0]), datatype: 'INT32' }] }), /datatype 'INT32'.*FP32/],
      ['wrong shape', client.infer('digits-vit', { inputs: [{ name: 'pixel_values', shape: [1, 3, 16, 16], datatype: 'FP32', data: new Float32Array(768) }] }), /shape \[1, 3, 16, 16\].*\[N, 3, 32, 32\]/],
      ['too few values', client.infer('digits-vit', { inputs: [{ ...pixelInput([0]), data: new Float32Array(100) }] }), /has 100 values; its shape \[1, 3, 32, 32\] needs 3072/],
      ['a string among the values', client.infer('digits-vit', { inputs: [{ ...pixelInput([0]), data: ['x'] }] }), /FP32 data must be finite numbers/],
      ['binary size mismatch', client.infer('digits-vit', { inputs: [{ ...pixelInput([0], true), data: new Float32Array(10) }] }), /40 bytes of binary FP32 data.*needs 12288/],
      ['unknown input', client.infer('digits-vit', { inputs: [{ ...pixelInput([0]), name: 'input0' }] }), /no input 'input0'.*'pixel_values'/],
      ['unknown output', client.infer('digits-vit', { inputs: [pixelInput([0])], outputs: [{ name: 'features' }] }), /no output 'features'.*'logits', 'pre_logits'/],
      ['too many images', client.infer('digits-vit', { inputs: [pixelInput(Array.from({ length: 33 }, (_, i) => i), true)] }), /holds 33 images; a request holds 1 to 32/],
      ['not base64', client.infer('digits-vit', { inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', data: ['%%%'] }] }), /not base64/],
      ['an undecodable image', client.infer('digits-vit', { inputs: [{ name: 'image', shape: [1], datatype: 'BYTES', data: [new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8])], binary: true }] }), /Invalid image image\[0\]: unrecognised or unsupported image format/],
      ['a body over the size limit', client.infer('digits-vit', { inputs: [pixelInput(Array.from({ length: 100 }, (_, i) => i), true)] }), /larger than the limit of 1048576 bytes/],
      ['a bad Inference-Header-Content-Length', client.post('digits-vit', '{"inputs": []}', { 'Inference-Header-Content-Length': '999' }), /Inference-Header-Content-Length is '999'/],
    ];
    for (const [what, pending, message] of cases) {
      const result = await pending;
      expect({ what, status: result.status }).toEqual({ what, status: 400 });
      expect(Object.keys(result.body)).toEqual(['error']);
      expect(result.body.error).toMatch(message);
    }
    const undecodable = await fetch(`${server.url}/v1/models/digits-vit:classify`, { method: 'POST', body: new Uint8Array([0x89, 0x50, 0x4e, 0x47, 1, 2]) });
    expect(undecodable.status).toBe(400);
    expect(((await undecodable.json()) as { error: string }).error).toMatch(/Invalid image body/);
    // The server still answers, and every refusal was one info-level line.
    expect((await client.infer('digits-vit', { inputs: [pixelInput([0])] })).status).toBe(200);
    expectNoCrash(log.lines);
    const refusals = log.lines.filter((line) => line.statusCode === 400);
    expect(refusals.length).toBe(cases.length + 2);
    for (const line of refusals) expect(line).toMatchObject({ level: 30, msg: 'request completed', error: expect.any(String) });
  });

  test('500 concurrent infer requests (JSON, binary, images; both models) all get their own correct logits, in batches', async () => {
    const batchesBefore = await histogramCount(server, 'vitzoo_batch_size_count');
    const requests = Array.from({ length: 500 }, (_, i) => {
      const model = i % 3 === 0 ? 'digits-deit' : 'digits-vit';
      const indices = i % 10 === 0 ? [i % 360, (i * 7 + 1) % 360] : [i % 360];
      const input = i % 4 < 2 ? imageInput(indices, i % 4 === 0) : pixelInput(indices, i % 4 === 2);
      return { model: model as keyof typeof reference, indices, pending: client.infer(model, { id: String(i), inputs: [input], outputs: [{ name: 'logits' }] }) };
    });
    let worst = 0;
    for (const [i, request] of requests.entries()) {
      const result = await request.pending;
      expect(result.status).toBe(200);
      expect(result.body.id).toBe(String(i));
      worst = Math.max(worst, maxAbsDiff(result.outputs[0]!.data as Float32Array, expectedLogits(request.model, request.indices)));
    }
    expect(worst).toBeLessThan(1e-4);
    // Dynamic batching ran them in far fewer model runs than requests.
    const batches = (await histogramCount(server, 'vitzoo_batch_size_count')) - batchesBefore;
    expect(batches).toBeGreaterThan(0);
    expect(batches).toBeLessThan(500);
  });

  test('GET /metrics: Prometheus text with requests by model and status, latency, batch sizes, queue depth and load time', async () => {
    const before = await metricValue(server, 'vitzoo_requests_total{model="digits-deit",endpoint="infer",status="200"}');
    await Promise.all([0, 1, 2].map((i) => client.infer('digits-deit', { inputs: [pixelInput([i])] })));
    const response = await fetch(`${server.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(await metricValue(server, 'vitzoo_requests_total{model="digits-deit",endpoint="infer",status="200"}')).toBe(before + 3);
    expect(text).toMatch(/^vitzoo_requests_total\{model="digits-vit",endpoint="infer",status="400"\} \d+$/m);
    expect(text).toMatch(/^vitzoo_request_duration_seconds_bucket\{le="0\.1",model="digits-deit",endpoint="infer"\} \d+$/m);
    expect(text).toMatch(/^vitzoo_batch_size_bucket\{le="32",model="digits-vit"\} \d+$/m);
    expect(text).toMatch(/^vitzoo_queue_depth\{model="digits-vit"\} 0$/m);
    expect(text).toMatch(/^vitzoo_model_load_seconds\{model="digits-deit"\} [\d.e-]+$/m);
    expect(text).toMatch(/^vitzoo_model_ready\{model="digits-vit"\} 1$/m);
    expect(text).toMatch(/^process_cpu_user_seconds_total /m);
    // An unknown model name is counted without its name (no label per made-up name).
    await client.modelMetadata('made-up');
    expect(await metricValue(server, 'vitzoo_requests_total{model="",endpoint="model_metadata",status="404"}')).toBeGreaterThanOrEqual(1);
  });

  test('one structured log line per request', async () => {
    const before = log.lines.filter((line) => line.msg === 'request completed').length;
    await client.live();
    await client.infer('digits-vit', { inputs: [pixelInput([0, 1])] });
    const lines = log.lines.filter((line) => line.msg === 'request completed').slice(before);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ level: 30, method: 'GET', url: '/v2/health/live', statusCode: 200, endpoint: 'live', reqId: expect.any(String) });
    expect(lines[1]).toMatchObject({ method: 'POST', url: '/v2/models/digits-vit/infer', statusCode: 200, endpoint: 'infer', model: 'digits-vit', images: 2, durationMs: expect.any(Number) });
  });
});

/** A sample's value from GET /metrics. */
async function metricValue(server: VitzooServer, sample: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  const line = text.split('\n').find((candidate) => candidate.startsWith(`${sample} `));
  return line ? Number(line.slice(sample.length + 1)) : 0;
}

/** The sum over models of a histogram's `_count`. */
async function histogramCount(server: VitzooServer, name: string): Promise<number> {
  const text = await (await fetch(`${server.url}/metrics`)).text();
  return text
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`))
    .reduce((sum, line) => sum + Number(line.split(' ').at(-1)), 0);
}

describe('back-pressure, timeouts, loading and draining', () => {
  test('overload: a full queue answers 503 with Retry-After, and the server recovers', async () => {
    const log = logCollector();
    // The first request waits up to 1 s for company, so the queue fills while the rest arrive.
    const server = createServer({ models: [{ name: 'digits-vit', model: vit }], maxDelayMs: 1000, maxQueue: 4, logger: { stream: log.stream } });
    try {
      const client = new OpenInferenceClient(await server.listen({ port: 0 }));
      await server.ready();
      const results = await Promise.all(Array.from({ length: 80 }, (_, i) => client.infer('digits-vit', { inputs: [pixelInput([i])], outputs: [{ name: 'logits' }] })));
      const refused = results.filter((result) => result.status === 503);
      const answered = results.filter((result) => result.status === 200);
      expect(refused.length).toBeGreaterThan(0);
      expect(answered.length).toBeGreaterThanOrEqual(4);
      expect(refused.length + answered.length).toBe(80);
      for (const result of refused) {
        expect(result.headers.get('retry-after')).toBe('1');
        expect(result.body.error).toMatch(/overloaded: 4 requests are already waiting \(--max-queue\)/);
      }
      results.forEach((result, i) => {
        if (result.status === 200) expect(maxAbsDiff(result.outputs[0]!.data as Float32Array, expectedLogits('digits-vit', [i]))).toBeLessThan(1e-4);
      });
      // Recovered: the queue is empty again and a request is answered.
      expect(await metricValue(server, 'vitzoo_queue_depth{model="digits-vit"}')).toBe(0);
      const after = await client.infer('digits-vit', { inputs: [pixelInput([100])] });
      expect(after.status).toBe(200);
      expect(await metricValue(server, 'vitzoo_requests_total{model="digits-vit",endpoint="infer",status="503"}')).toBe(refused.length);
      expectNoCrash(log.lines);
    } finally {
      await server.close();
    }
  });

  test('a client that goes away (mid-body, or while queued) gives its queue place back, and its request never runs', async () => {
    const log = logCollector();
    const server = createServer({ models: [{ name: 'digits-vit', model: vit }], maxDelayMs: 300, maxQueue: 2, logger: { stream: log.stream } });
    const depth = async () => (await server.metrics.queueDepth.get()).values.find((value) => value.labels.model === 'digits-vit')?.value;
    const until = async (condition: () => Promise<boolean>) => {
      const started = Date.now();
      while (!(await condition())) {
        if (Date.now() - started > 10_000) throw new Error('timed out waiting');
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    };
    try {
      const url = await server.listen({ port: 0 });
      const client = new OpenInferenceClient(url);
      await server.ready();
      // Queued, waiting for its batch, when the client gives up.
      const controller = new AbortController();
      const body = JSON.stringify({ inputs: [{ name: 'pixel_values', shape: [1, 3, 32, 32], datatype: 'FP32', data: Array.from(pixelRows([0])) }] });
      const abandoned = fetch(`${url}/v2/models/digits-vit/infer`, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: controller.signal });
      await until(async () => (await depth()) === 1);
      controller.abort();
      await expect(abandoned).rejects.toThrow();
      await until(async () => (await depth()) === 0);
      // Gone halfway through sending its body.
      const { port } = new URL(url);
      const socket = connect(Number(port), '127.0.0.1', () => {
        socket.write('POST /v2/models/digits-vit/infer HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"inputs": [');
      });
      await until(async () => (await depth()) === 1);
      socket.destroy();
      await until(async () => (await depth()) === 0);
      expect(await metricValue(server, 'vitzoo_requests_total{model="digits-vit",endpoint="infer",status="aborted"}')).toBe(2);
      expect(await metricValue(server, 'vitzoo_batch_size_count{model="digits-vit"}')).toBe(0); // neither ran
      // Both places are free again.
      const results = await Promise.all([1, 2].map((i) => client.infer('digits-vit', { inputs: [pixelInput([i])], outputs: [{ name: 'logits' }] })));
      expect(results.map((result) => result.status)).toEqual([200, 200]);
      expect(log.lines.filter((line) => line.msg === 'request aborted by the client')).toHaveLength(2);
      expectNoCrash(log.lines);
    } finally {
      await server.close();
    }
  });

  test('a request not answered within requestTimeoutMs gets 503, and leaves the queue', async () => {
    const server = createServer({ models: [{ name: 'digits-vit', model: vit }], maxDelayMs: 300, requestTimeoutMs: 20, logger: false });
    try {
      const client = new OpenInferenceClient(await server.listen({ port: 0 }));
      await server.ready();
      const result = await client.infer('digits-vit', { inputs: [pixelInput([0])] });
      expect(result.status).toBe(503);
      expect(result.headers.get('retry-after')).toBe('1');
      expect(result.body.error).toMatch(/not answered within 20 ms/);
      expect(await metricValue(server, 'vitzoo_queue_depth{model="digits-vit"}')).toBe(0);
      expect(await metricValue(server, 'vitzoo_batch_size_count{model="digits-vit"}')).toBe(0); // it never ran
    } finally {
      await server.close();
    }
  });

  test('while a model loads: live 200, ready and model ready 503, infer 503 with Retry-After; then ready', async () => {
    let finish!: (model: Model) => void;
    const loaded = new Promise<Model>((resolve) => (finish = resolve));
    const server = createServer({ models: [{ name: 'slow', load: () => loaded }], logger: false });
    try {
      const client = new OpenInferenceClient(await server.listen({ port: 0 }));
      expect((await client.live()).status).toBe(200);
      expect(await client.ready()).toMatchObject({ status: 503, body: { ready: false } });
      expect(await client.modelReady('slow')).toMatchObject({ status: 503, body: { name: 'slow', ready: false } });
      const early = await client.infer('slow', { inputs: [pixelInput([0])] });
      expect(early.status).toBe(503);
      expect(early.headers.get('retry-after')).toBe('1');
      expect(early.body.error).toMatch(/Model 'slow' is still loading/);
      // The server loads its own copy and disposes it on close.
      finish(await loadModel(join(root, 'models/digits-deit'), { registry, backend: nodeBackend }));
      await server.ready();
      expect((await client.ready()).status).toBe(200);
      const result = await client.infer('slow', { inputs: [pixelInput([7])] });
      expect(maxAbsDiff(result.outputs[0]!.data as Float32Array, expectedLogits('digits-deit', [7]))).toBeLessThan(1e-4);
    } finally {
      await server.close();
    }
  });

  test('a model that fails to load: ready() rejects with its typed error, and the server says why', async () => {
    const server = createServer({ models: [{ name: 'broken', load: () => loadModel(join(root, 'fixtures/digits/test'), { registry, backend: nodeBackend }) }], logger: false });
    try {
      const client = new OpenInferenceClient(await server.listen({ port: 0 }));
      await expect(server.ready()).rejects.toMatchObject({ code: 'file-not-found' });
      expect((await client.ready()).status).toBe(503);
      const result = await client.infer('broken', { inputs: [pixelInput([0])] });
      expect(result.status).toBe(503);
      expect(result.body.error).toMatch(/Model 'broken' failed to load: .*config/i);
    } finally {
      await server.close();
    }
  });

  test('close() drains: queued requests are answered, readiness turns 503, then the port is closed', async () => {
    const server = createServer({ models: [{ name: 'digits-vit', model: vit }], maxDelayMs: 400, logger: false });
    const client = new OpenInferenceClient(await server.listen({ port: 0 }));
    await server.ready();
    const pending = [0, 1, 2, 3].map((i) => client.infer('digits-vit', { inputs: [pixelInput([i])], outputs: [{ name: 'logits' }] }));
    // Wait until all four are queued, waiting for their batch.
    while ((await server.metrics.queueDepth.get()).values.find((value) => value.labels.model === 'digits-vit')?.value !== 4) {
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const closed = server.close();
    expect((await server.app.inject({ method: 'GET', url: '/v2/health/ready' })).json()).toEqual({ ready: false });
    const results = await Promise.all(pending);
    for (const [i, result] of results.entries()) {
      expect(result.status).toBe(200);
      expect(maxAbsDiff(result.outputs[0]!.data as Float32Array, expectedLogits('digits-vit', [i]))).toBeLessThan(1e-4);
    }
    await closed;
    await expect(client.live()).rejects.toThrow();
    // The server does not dispose a model it was given.
    expect((await vit.forward({ dtype: 'float32', shape: [1, 3, 32, 32], data: pixelRows([0]) })).logits?.shape).toEqual([1, 10]);
  });

  test('bad options are typed errors', () => {
    expect(() => createServer({ models: [] })).toThrow(/at least one model/);
    expect(() => createServer({ models: [{ name: 'a/b', model: vit }] })).toThrow(/letters, digits/);
    expect(() => createServer({ models: [{ name: 'a', model: vit }, { name: 'a', model: deit }], logger: false })).toThrow(/Two models are named 'a'/);
    expect(() => createServer({ models: [{ name: 'a', model: vit }], maxBatch: 0 })).toThrow(/maxBatch must be a positive integer/);
  });
});
