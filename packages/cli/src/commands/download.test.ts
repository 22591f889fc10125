import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import { convertCheckpoint, graphBytes, maxAbsDifference, parseSafetensors } from '@vitzoo/core';
import { resolveModelSource } from '@vitzoo/hub/node';
import { startHubTestServer, type HubTestServer } from '@vitzoo/hub/testing';
import { loadModel, softmax } from '@vitzoo/pipeline/node';
import { createHuggingFaceTransform } from '@vitzoo/preprocess';
import { loadImage } from '@vitzoo/preprocess/node';
import { nodeBackend } from '@vitzoo/runtime-node';
import { createDefaultRegistry } from 'vitzoo';
import { run } from '../run.js';
import { captureIo } from '../test-io.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const fixture = join(root, 'fixtures', 'models', 'vit_tiny');
const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const KWARGS = { img_size: 32, patch_size: 8, embed_dim: 48, depth: 2, num_heads: 3, mlp_ratio: 4, class_token: true, global_pool: 'token', num_classes: 10 };
const PREPROCESSOR = { do_resize: true, size: { height: 32, width: 32 }, resample: 3, do_normalize: true, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5], do_rescale: true, rescale_factor: 1 / 255 };
const LABELS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

/** timm's hub config.json for the fixture: a registered variant name plus the fixture's kwargs. */
const timmConfig = JSON.stringify({
  architecture: 'vit_tiny_patch16_224',
  num_classes: 10,
  model_args: { img_size: 32, patch_size: 8, embed_dim: 48, depth: 2, num_heads: 3, mlp_ratio: 4, class_token: true, global_pool: 'token' },
  pretrained_cfg: { input_size: [3, 32, 32], interpolation: 'bicubic', crop_pct: 0.9, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], num_classes: 10, label_names: LABELS },
});

let server: HubTestServer;
let cache: string;
let weights: Uint8Array;
let onnx: Uint8Array;
const saved: Record<string, string | undefined> = {};

beforeAll(async () => {
  weights = new Uint8Array(readFileSync(join(fixture, 'model.safetensors')));
  const registry = createDefaultRegistry();
  const stateDict = parseSafetensors(weights).tensors;
  onnx = graphBytes(convertCheckpoint({ architecture: registry.architecture('vit'), kwargs: KWARGS, stateDict, outputs: ['logits'] }));
  server = await startHubTestServer({
    'test-org/vit-tiny-timm': { 'config.json': timmConfig, 'model.safetensors': weights },
    'test-org/vit-tiny-onnx': {
      'config.json': JSON.stringify({ model_type: 'vit', architectures: ['ViTForImageClassification'], id2label: Object.fromEntries(LABELS.map((label, index) => [index, label])), image_size: 32 }),
      'preprocessor_config.json': JSON.stringify(PREPROCESSOR),
      'onnx/model.onnx': onnx,
    },
    'timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k': { 'config.json': timmConfig, 'model.safetensors': weights },
  });
  for (const key of ['HF_ENDPOINT', 'VITZOO_CACHE', 'VITZOO_OFFLINE', 'HF_HUB_OFFLINE', 'HF_TOKEN']) saved[key] = process.env[key];
  process.env.HF_ENDPOINT = server.url;
  delete process.env.VITZOO_OFFLINE;
  delete process.env.HF_HUB_OFFLINE;
  delete process.env.HF_TOKEN;
});
afterAll(async () => {
  await server.close();
  for (const [key, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[key];
    else process.env[key] = value;
  }
});
beforeEach(() => {
  cache = mkdtempSync(join(tmpdir(), 'vitzoo-cli-cache-'));
  process.env.VITZOO_CACHE = cache;
  server.requests.length = 0;
  return () => rmSync(cache, { recursive: true, force: true });
});

async function cli(args: string[]) {
  const io = captureIo(root);
  const code = await run(args, io);
  expect(io.err).not.toMatch(/\n\s+at .*\(/);
  return { code, out: io.out, err: io.err };
}

describe('vitzoo download (HF_ENDPOINT = a hub-shaped server on 127.0.0.1)', () => {
  test('a timm-layout repo: fetched into VITZOO_CACHE, then served from the cache with zero requests', async () => {
    const first = await cli(['download', 'test-org/vit-tiny-timm', '--json']);
    expect(first.code).toBe(0);
    const summary = JSON.parse(first.out);
    expect(summary).toMatchObject({ version: 1, layout: 'timm', modelFile: 'model.safetensors', revision: server.commit, files: ['config.json', 'model.safetensors'] });
    expect(summary.dir.startsWith(cache)).toBe(true);
    expect(sha256(readFileSync(join(summary.dir, 'model.safetensors')))).toBe(sha256(weights));
    server.requests.length = 0;
    const second = await cli(['download', 'test-org/vit-tiny-timm', '--json']);
    expect(JSON.parse(second.out).dir).toBe(summary.dir);
    expect(server.requests).toEqual([]);
    const text = await cli(['download', 'test-org/vit-tiny-timm']);
    expect(text.out).toContain(`(timm layout, revision ${server.commit}) in ${summary.dir}`);
    expect(text.out).toContain('model.safetensors  (model)');
  });

  test('--build puts the graph classify would build into the graph cache: classify with the same flags then converts nothing', async () => {
    const graphs = () => (existsSync(join(cache, 'graphs')) ? readdirSync(join(cache, 'graphs')).filter((name) => name.endsWith('.onnx')).sort() : []);
    const first = await cli(['download', 'test-org/vit-tiny-timm', '--build', '--dtype', 'int8', '--json']);
    expect(first.code).toBe(0);
    expect(JSON.parse(first.out).graph).toEqual({ status: 'built', dtype: 'int8', outputs: ['logits'], architecture: 'vit' });
    expect(graphs()).toHaveLength(1);
    const again = await cli(['download', 'test-org/vit-tiny-timm', '--build', '--dtype', 'int8', '--json']);
    expect(JSON.parse(again.out).graph.status).toBe('cached');
    const built = statSync(join(cache, 'graphs', graphs()[0]!)).mtimeMs;
    server.requests.length = 0;
    const image = join(root, 'fixtures', 'images', 'chelsea.png');
    const classified = await cli(['classify', image, '--model', 'test-org/vit-tiny-timm', '--dtype', 'int8', '--json']);
    expect(classified.code).toBe(0);
    expect(server.requests).toEqual([]);
    expect(graphs()).toHaveLength(1); // the same cache key: nothing converted
    expect(statSync(join(cache, 'graphs', graphs()[0]!)).mtimeMs).toBe(built);
    // Another precision is another graph; a bad build flag is refused before anything is fetched.
    expect((await cli(['download', 'test-org/vit-tiny-timm', '--build', '--json'])).code).toBe(0);
    expect(graphs()).toHaveLength(2);
    server.requests.length = 0;
    const bad = await cli(['download', 'test-org/other-repo', '--build', '--image-size', '0']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/--image-size must be a side in pixels/);
    expect(server.requests).toEqual([]);
  });

  test('an ONNX-layout repo: the graph runs as it is and gives the fixture logits', async () => {
    const { code, out } = await cli(['download', 'hf-hub:test-org/vit-tiny-onnx', '--json']);
    expect(code).toBe(0);
    const summary = JSON.parse(out);
    expect(summary).toMatchObject({ layout: 'onnx', modelFile: 'onnx/model.onnx', files: ['config.json', 'preprocessor_config.json', 'onnx/model.onnx'] });
    const io = parseSafetensors(new Uint8Array(readFileSync(join(fixture, 'io.safetensors')))).tensors;
    const session = await nodeBackend.createSession(new Uint8Array(readFileSync(join(summary.dir, summary.modelFile))));
    try {
      const result = await session.run({ pixel_values: io.pixel_values! });
      expect(maxAbsDifference(result.logits!, io.logits!)).toBeLessThanOrEqual(1e-4);
    } finally {
      await session.dispose();
    }
  });

  test('a registry name resolves to its timm/ hub repo', async () => {
    const { code, out } = await cli(['download', 'vit_tiny_patch16_224.augreg_in21k_ft_in1k', '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ name: 'vit_tiny_patch16_224.augreg_in21k_ft_in1k', source: 'timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k@main', layout: 'timm' });
    expect(server.requests.some((r) => r.path === '/timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k/resolve/main/config.json')).toBe(true);
  });

  test('errors: a missing repo names repo and file; offline names what the cache lacks; bad timeout is a usage error', async () => {
    const missing = await cli(['download', 'test-org/does-not-exist', '--json']);
    expect(missing.code).toBe(1);
    expect(JSON.parse(missing.out).error).toMatchObject({ code: 'file-not-found', repo: 'test-org/does-not-exist', file: 'config.json' });
    expect(missing.err).toContain("'config.json' of hub repo 'test-org/does-not-exist'");
    server.requests.length = 0;
    const offline = await cli(['download', 'test-org/vit-tiny-timm', '--offline']);
    expect(offline.code).toBe(1);
    expect(offline.err).toContain("Offline mode (--offline, the offline option): test-org/vit-tiny-timm@main is not fully cached; missing 'config.json'");
    expect(server.requests).toEqual([]);
    const timeout = await cli(['download', 'test-org/vit-tiny-timm', '--timeout', '-1']);
    expect(timeout.code).toBe(1);
    expect(timeout.err).toContain('--timeout must be a positive number');
  });

  test('a URL of a bare weights file: refused before any request without --arch; with it, cached beside a generated config; --refresh downloads it again', async () => {
    server.setFile('model.safetensors', weights);
    const url = `${server.url}/files/model.safetensors`;
    const refused = await cli(['download', url]);
    expect(refused.err).toMatch(/^error: .*model\.safetensors is a bare weights file and 'model' is not a registered model name.*--arch <registry name>/);
    expect(refused.code).toBe(1);
    expect(server.requests).toEqual([]);
    const typo = await cli(['download', url, '--arch', 'vit_tiny_patch16_244']);
    expect(typo.err).toMatch(/Unknown model 'vit_tiny_patch16_244'\. Did you mean 'vit_tiny_patch16_224'/);
    const { code, out } = await cli(['download', url, '--arch', 'vit_tiny_patch16_224.augreg_in21k_ft_in1k', '--json']);
    expect(code).toBe(0);
    const summary = JSON.parse(out);
    expect(summary).toMatchObject({ name: 'vit_tiny_patch16_224.augreg_in21k_ft_in1k', layout: 'timm', files: ['config.json', 'model.safetensors'], modelFile: 'model.safetensors' });
    expect(JSON.parse(readFileSync(join(summary.dir, 'config.json'), 'utf8'))).toMatchObject({ architecture: 'vit_tiny_patch16_224', pretrained_cfg: { tag: 'augreg_in21k_ft_in1k' } });
    expect(sha256(readFileSync(join(summary.dir, 'model.safetensors')))).toBe(sha256(weights));
    server.requests.length = 0;
    await cli(['download', url, '--arch', 'vit_tiny_patch16_224.augreg_in21k_ft_in1k']);
    expect(server.requests).toEqual([]);
    await cli(['download', url, '--arch', 'vit_tiny_patch16_224.augreg_in21k_ft_in1k', '--refresh']);
    expect(server.requests.map((request) => `${request.method} ${request.path}`)).toEqual(['GET /files/model.safetensors']);
  });

  test('a stalled server ends in a timeout error, not a hang', async () => {
    server.fault('model.safetensors', { kind: 'stall', bytes: 10 });
    try {
      const { code, err } = await cli(['download', 'test-org/vit-tiny-timm', '--timeout', '0.3']);
      expect(code).toBe(1);
      expect(err).toMatch(/no data received for 300 ms \(timeout/);
    } finally {
      server.clearFaults();
    }
  });
});

describe('vitzoo classify --model <org>/<repo> (the issue\'s done-criterion)', () => {
  const image = join(root, 'fixtures', 'images', 'chelsea.png');
  type Line = { image: string; predictions: { index: number; label: string; score: number }[] };
  const graphFiles = () => (existsSync(join(cache, 'graphs')) ? readdirSync(join(cache, 'graphs')).filter((name) => name.endsWith('.onnx')) : []);

  test('classifies with a timm-layout hub repo; the second run uses the cache only (no request, no conversion) and prints the same', async () => {
    const first = await cli(['classify', image, '--model', 'test-org/vit-tiny-timm', '--json', '--top-k', '3']);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    const line = JSON.parse(first.out.trim().split('\n')[0]!) as Line;
    expect(line.predictions).toHaveLength(3);
    for (const prediction of line.predictions) expect(prediction.label).toBe(LABELS[prediction.index]);
    expect(server.requests.some((r) => r.path === `/cdn/${sha256(weights)}`)).toBe(true);
    // the built graph is cached beside the download
    const graphs = graphFiles();
    expect(graphs).toHaveLength(1);
    const graph = join(cache, 'graphs', graphs[0]!);
    const built = statSync(graph).mtimeMs;

    server.requests.length = 0;
    const second = await cli(['classify', image, '--model', 'test-org/vit-tiny-timm', '--json', '--top-k', '3']);
    expect(second.code).toBe(0);
    expect(second.out).toBe(first.out);
    expect(server.requests).toEqual([]);
    expect(graphFiles()).toEqual(graphs);
    expect(statSync(graph).mtimeMs).toBe(built); // not converted again

    // The same numbers as classifying the cached folder directly, converted afresh.
    const snapshot = join(cache, 'hub', 'models--test-org--vit-tiny-timm', 'snapshots', server.commit);
    const local = await cli(['classify', image, '--model', snapshot, '--json', '--top-k', '3', '--no-graph-cache']);
    expect(local.out).toBe(first.out);
    expect(server.requests).toEqual([]);
  });

  test('classifies with an ONNX-layout hub repo (graph as it is, HF preprocessing, id2label); the second run makes zero requests', async () => {
    const first = await cli(['classify', image, '--model', 'test-org/vit-tiny-onnx', '--json', '--top-k', '3']);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    expect(server.requests.some((r) => r.path === `/test-org/vit-tiny-onnx/resolve/${server.commit}/preprocessor_config.json`)).toBe(true);
    expect(server.requests.some((r) => r.path === `/cdn/${sha256(onnx)}`)).toBe(true);
    expect(graphFiles()).toEqual([]); // nothing to convert

    // Independently: the HF processor's steps on the image, the graph in a bare session, softmax.
    const pixels = createHuggingFaceTransform(PREPROCESSOR).applyBatch([await loadImage(image)]);
    const session = await nodeBackend.createSession(onnx);
    let expected: { index: number; score: number }[];
    try {
      const logits = (await session.run({ pixel_values: pixels })).logits!.data as Float32Array;
      const scores = softmax(logits);
      expected = [...scores].map((score, index) => ({ index, score })).sort((a, b) => b.score - a.score).slice(0, 3);
    } finally {
      await session.dispose();
    }
    const line = JSON.parse(first.out.trim()) as Line;
    expect(line.predictions.map((p) => p.index)).toEqual(expected.map((p) => p.index));
    expect(line.predictions.map((p) => p.label)).toEqual(expected.map((p) => LABELS[p.index]));
    line.predictions.forEach((prediction, rank) => expect(prediction.score).toBeCloseTo(expected[rank]!.score, 6));

    server.requests.length = 0;
    const second = await cli(['classify', image, '--model', 'test-org/vit-tiny-onnx', '--json', '--top-k', '3']);
    expect(second.code).toBe(0);
    expect(second.out).toBe(first.out);
    expect(server.requests).toEqual([]);
  });

  test('--offline names what the cache lacks: everything when empty, the one file a partial cache misses', async () => {
    const empty = await cli(['classify', image, '--model', 'test-org/vit-tiny-timm', '--offline']);
    expect(empty.code).toBe(1);
    expect(empty.err).toContain("Offline mode (--offline, the offline option): test-org/vit-tiny-timm@main is not fully cached; missing 'config.json'");
    expect(empty.err).toContain(cache);
    const json = await cli(['classify', image, '--model', 'test-org/vit-tiny-onnx', '--offline', '--json']);
    expect(json.code).toBe(1);
    expect(JSON.parse(json.out).error).toMatchObject({ missing: ['config.json'], source: 'test-org/vit-tiny-onnx@main' });
    expect(server.requests).toEqual([]);

    expect((await cli(['download', 'test-org/vit-tiny-onnx'])).code).toBe(0);
    rmSync(join(cache, 'hub', 'models--test-org--vit-tiny-onnx', 'snapshots', server.commit, 'onnx', 'model.onnx'));
    server.requests.length = 0;
    const partial = await cli(['classify', image, '--model', 'test-org/vit-tiny-onnx', '--offline']);
    expect(partial.code).toBe(1);
    expect(partial.err).toContain("missing 'onnx/model.onnx'");
    expect(partial.err).not.toContain("'config.json'");
    expect(server.requests).toEqual([]);
  });

  test('--cache-dir puts downloads and built graphs in another folder', async () => {
    const other = mkdtempSync(join(tmpdir(), 'vitzoo-cli-other-cache-'));
    try {
      const { code } = await cli(['classify', image, '--model', 'test-org/vit-tiny-timm', '--cache-dir', other]);
      expect(code).toBe(0);
      expect(existsSync(join(other, 'hub', 'models--test-org--vit-tiny-timm'))).toBe(true);
      expect(readdirSync(join(other, 'graphs')).filter((name) => name.endsWith('.onnx'))).toHaveLength(1);
      expect(existsSync(join(cache, 'hub'))).toBe(false);
    } finally {
      rmSync(other, { recursive: true, force: true });
    }
  });
});

describe('the pipeline loads hub models through resolveSource', () => {
  test('loadModel(org/repo) on a timm-layout repo gives the fixture logits; the second load is cache-only', async () => {
    const registry = createDefaultRegistry();
    const resolveSource = async (name: string) => (await resolveModelSource(name, { registry })).dir;
    const io = parseSafetensors(new Uint8Array(readFileSync(join(fixture, 'io.safetensors')))).tensors;
    for (const round of [1, 2]) {
      server.requests.length = 0;
      const model = await loadModel('test-org/vit-tiny-timm', { registry, backend: nodeBackend, resolveSource });
      try {
        const outputs = await model.forward(io.pixel_values!);
        expect(maxAbsDifference(outputs.logits!, io.logits!)).toBeLessThanOrEqual(1e-4);
        expect(model.labels).toEqual(LABELS);
      } finally {
        await model.dispose();
      }
      if (round === 2) expect(server.requests).toEqual([]);
      else expect(server.requests.length).toBeGreaterThan(0);
    }
  });
});

describe('progress bar labels', () => {
  test('name the model, never the graph file (a hash), and the file being downloaded', async () => {
    const { progressLabel } = await import('../model-sources.js');
    const hash = `${'ab'.repeat(32)}.onnx`;
    expect(progressLabel({ stage: 'build', file: hash, loaded: 10, total: 20 }, 'timm/deit_tiny_patch16_224.fb_in1k')).toEqual({
      phase: 'converting',
      name: 'timm/deit_tiny_patch16_224.fb_in1k',
    });
    expect(progressLabel({ stage: 'download', file: 'model.safetensors', loaded: 1, total: 2 }, 'org/repo')).toEqual({ phase: 'downloading', name: 'org/repo: model.safetensors' });
    expect(progressLabel({ stage: 'build', file: hash, loaded: 1 }, undefined).name).not.toContain('abab');
  });
});
