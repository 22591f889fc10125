import { mkdir, mkdtemp, readFile, readdir, rm, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  FileNotFoundError,
  InvalidArgumentError,
  InvalidConfigError,
  UnsupportedError,
  convertCheckpoint,
  createRegistry,
  graphBytes,
  maxAbsDifference,
  parseSafetensors,
  pretrainedConfig,
  type Architecture,
  type ProgressEvent,
  type Tensor,
} from '@vitzoo/core';
import { resolveModelSource } from '@vitzoo/hub/node';
import { startHubTestServer, type HubTestServer } from '@vitzoo/hub/testing';
import { GraphBuilder, serializeModel } from '@vitzoo/onnx';
import { loadImage } from '@vitzoo/preprocess/node';
import { nodeBackend } from '@vitzoo/runtime-node';
import { cswin } from '@vitzoo/cswin';
import { vit } from '@vitzoo/vit';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadModel as loadFrom } from '@vitzoo/pipeline';
import { createNodeFileSource, loadModel, readOnnxModelFolder, softmax } from '@vitzoo/pipeline/node';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const vitCase = join(root, 'fixtures', 'models', 'vit_tiny');
const cswinCase = join(root, 'fixtures', 'models', 'cswin_tiny');
const LABELS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

async function fixture(dir: string) {
  const config = JSON.parse(await readFile(join(dir, 'config.json'), 'utf8')) as { kwargs: Record<string, unknown> };
  const io = parseSafetensors(await readFile(join(dir, 'io.safetensors'))).tensors as Record<string, Tensor>;
  return { kwargs: config.kwargs, io };
}

/** An architecture that counts its graph builds. */
function counting<C>(architecture: Architecture<C>): { architecture: Architecture<C>; builds: () => number } {
  let builds = 0;
  return {
    architecture: {
      ...architecture,
      buildGraph: (...args: Parameters<Architecture<C>['buildGraph']>) => {
        builds++;
        return architecture.buildGraph(...args);
      },
    },
    builds: () => builds,
  };
}

let scratch: string;
let vitFixture: Awaited<ReturnType<typeof fixture>>;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'vitzoo-load-model-'));
  vitFixture = await fixture(vitCase);
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

const transformersConfig = { model_type: 'vit', architectures: ['ViTForImageClassification'], image_size: 32, id2label: Object.fromEntries(LABELS.map((label, index) => [String(index), label])) };
const preprocessorConfig = { do_resize: true, size: { height: 32, width: 32 }, resample: 3, do_rescale: true, rescale_factor: 1 / 255, do_normalize: true, image_mean: [0.5, 0.5, 0.5], image_std: [0.5, 0.5, 0.5] };

/** A transformers.js-layout folder around the vit_tiny fixture's graph. */
async function onnxFolder(name: string, files: { config?: object; preprocessor?: object | null; graph?: Uint8Array; graphName?: string } = {}): Promise<string> {
  const dir = join(scratch, name);
  await mkdir(join(dir, 'onnx'), { recursive: true });
  const stateDict = parseSafetensors(await readFile(join(vitCase, 'model.safetensors'))).tensors;
  const graph = files.graph ?? graphBytes(convertCheckpoint({ architecture: vit, kwargs: vitFixture.kwargs, stateDict, outputs: ['logits'] }));
  await writeFile(join(dir, 'config.json'), JSON.stringify(files.config ?? transformersConfig));
  if (files.preprocessor !== null) await writeFile(join(dir, 'preprocessor_config.json'), JSON.stringify(files.preprocessor ?? preprocessorConfig));
  await writeFile(join(dir, files.graphName ?? 'onnx/model.onnx'), graph);
  return dir;
}

describe('loadModel: transformers.js ONNX-layout folders run as they are', () => {
  it('runs onnx/model.onnx: the fixture logits, HF preprocessing, id2label labels', async () => {
    const dir = await onnxFolder('onnx-vit');
    const model = await loadModel(dir, { registry: createRegistry([]), backend: nodeBackend }); // no architecture needed
    try {
      expect(model.outputs).toEqual(['logits']);
      expect(model.pretrained).toBeUndefined();
      expect(model.labels).toEqual(LABELS);
      const { logits } = await model.forward(vitFixture.io.pixel_values!);
      const diff = maxAbsDifference(logits!, vitFixture.io.logits!);
      expect(diff).toBeLessThanOrEqual(1e-4);
      // preprocessing from preprocessor_config.json: an exact 32x32 bicubic resize, x/255, (x-0.5)/0.5 (no timm crop)
      expect(model.transform.steps).toEqual({
        resize: { mode: 'exact', height: 32, width: 32, interpolation: 'bicubic' },
        rescale: { mode: 'multiply', factor: 1 / 255 },
        normalize: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
      });
      const image = await loadImage(join(root, 'fixtures', 'images', 'chelsea.png'));
      const [predictions] = await model.classify(image, { topK: 10 });
      const pixels = model.transform.applyBatch([image]);
      const expected = softmax((await model.forward(pixels)).logits!.data as Float32Array);
      expect(predictions).toHaveLength(10);
      for (const prediction of predictions!) {
        expect(prediction.label).toBe(LABELS[prediction.index]);
        expect(prediction.score).toBeCloseTo(expected[prediction.index]!, 12);
      }
    } finally {
      await model.dispose();
    }
  });

  it('takes the model file the resolver chose (e.g. a quantized graph), and a root model.onnx', async () => {
    const dir = await onnxFolder('onnx-chosen', { graphName: 'onnx/model_quantized.onnx' });
    const model = await loadModel('org/repo', {
      registry: createRegistry([]),
      backend: nodeBackend,
      resolveSource: async () => ({ dir, layout: 'onnx' as const, modelFile: 'onnx/model_quantized.onnx' }),
    });
    try {
      expect(maxAbsDifference((await model.forward(vitFixture.io.pixel_values!)).logits!, vitFixture.io.logits!)).toBeLessThanOrEqual(1e-4);
    } finally {
      await model.dispose();
    }
    // without a resolver, the folder's only graph is found
    expect((await readOnnxModelFolder(dir)).graph).toBe(join(dir, 'onnx', 'model_quantized.onnx'));
    const rootGraph = await onnxFolder('onnx-root', { graphName: 'model.onnx' });
    expect((await readOnnxModelFolder(rootGraph)).graph).toBe(join(rootGraph, 'model.onnx'));
  });

  it('typed errors: other input/output names, missing files, bad id2label, outputs the graph lacks, label count', async () => {
    const g = new GraphBuilder();
    const input = g.input('input', 'float32', ['batch', 3, 32, 32]);
    g.output(g.op('ReduceMean', [input], { axes: [2, 3], keepdims: 0 }), 'output', 'float32', ['batch', 3]);
    const foreign = await onnxFolder('onnx-foreign', { graph: serializeModel(g.build()) });
    const error = await loadModel(foreign, { registry: createRegistry([]), backend: nodeBackend }).catch((caught: unknown) => caught);
    expect(UnsupportedError.isInstance(error)).toBe(true);
    expect((error as Error).message).toContain(`${join(foreign, 'onnx', 'model.onnx')} has inputs 'input', outputs 'output'`);
    expect((error as Error).message).toContain("'pixel_values' in, 'logits' out");

    const noPreprocessor = await onnxFolder('onnx-no-preprocessor', { preprocessor: null });
    await expect(loadModel(noPreprocessor, { registry: createRegistry([]), backend: nodeBackend })).rejects.toSatisfy(
      (caught: unknown) => FileNotFoundError.isInstance(caught) && (caught as Error).message.includes(join(noPreprocessor, 'preprocessor_config.json')),
    );
    const noGraph = await onnxFolder('onnx-no-graph', { graphName: 'notes.txt' });
    await expect(readOnnxModelFolder(noGraph)).rejects.toSatisfy(
      (caught: unknown) => FileNotFoundError.isInstance(caught) && (caught as Error).message.includes(join(noGraph, 'onnx', 'model.onnx')),
    );
    const badLabels = await onnxFolder('onnx-bad-labels', { config: { ...transformersConfig, id2label: { 0: 'a', 2: 'c' } } });
    await expect(loadModel(badLabels, { registry: createRegistry([]), backend: nodeBackend })).rejects.toThrow(InvalidConfigError);
    const badProcessor = await onnxFolder('onnx-bad-processor', { preprocessor: { ...preprocessorConfig, resample: 9 } });
    await expect(loadModel(badProcessor, { registry: createRegistry([]), backend: nodeBackend })).rejects.toThrow(/resample/);

    const good = await onnxFolder('onnx-good');
    await expect(loadModel(good, { registry: createRegistry([]), backend: nodeBackend, outputs: ['logits', 'pre_logits'] })).rejects.toSatisfy(
      (caught: unknown) => UnsupportedError.isInstance(caught) && /gives 'logits', not 'pre_logits'/.test((caught as Error).message),
    );
    await expect(loadModel(good, { registry: createRegistry([]), backend: nodeBackend, weights: join(vitCase, 'model.safetensors') })).rejects.toThrow(InvalidArgumentError);
    // id2label with 3 names for a graph of 10 logits: refused at the first classify, not mislabelled
    const fewLabels = await onnxFolder('onnx-few-labels', { config: { ...transformersConfig, id2label: { 0: 'a', 1: 'b', 2: 'c' } } });
    const model = await loadModel(fewLabels, { registry: createRegistry([]), backend: nodeBackend });
    try {
      await expect(model.classify(vitFixture.io.pixel_values!)).rejects.toThrow(/one name per class: the graph gives 10 logits/);
    } finally {
      await model.dispose();
    }
  });
});

describe('loadModel: the built-graph cache', () => {
  let cacheDir: string;
  beforeEach(async () => {
    cacheDir = await mkdtemp(join(scratch, 'graph-cache-'));
  });

  it('a second load skips conversion and gives identical logits; other outputs are another entry', async () => {
    const { architecture, builds } = counting(vit);
    const registry = createRegistry([architecture]);
    const load = (outputs: ('logits' | 'pre_logits')[]) => loadModel(vitCase, { registry, backend: nodeBackend, outputs, graphCache: { cacheDir } });
    const results: Record<string, Tensor>[] = [];
    for (let round = 0; round < 2; round++) {
      const model = await load(['logits', 'pre_logits']);
      try {
        expect(model.labels).toHaveLength(10);
        const outputs = (await model.forward(vitFixture.io.pixel_values!)) as Record<string, Tensor>;
        expect(maxAbsDifference(outputs.logits!, vitFixture.io.logits!)).toBeLessThanOrEqual(1e-4);
        expect(maxAbsDifference(outputs.pre_logits!, vitFixture.io.pre_logits!)).toBeLessThanOrEqual(1e-4);
        results.push(outputs);
      } finally {
        await model.dispose();
      }
      expect(builds()).toBe(1);
    }
    expect(results[1]!.logits!.data).toEqual(results[0]!.logits!.data);
    expect((await readdir(join(cacheDir, 'graphs'))).filter((name) => name.endsWith('.onnx'))).toHaveLength(1);
    await (await load(['logits'])).dispose();
    expect(builds()).toBe(2);
    expect((await readdir(join(cacheDir, 'graphs'))).filter((name) => name.endsWith('.onnx'))).toHaveLength(2);
  });

  it('a corrupted cached graph (flipped byte, truncated) is detected and rebuilt, never used', async () => {
    const { architecture, builds } = counting(vit);
    const registry = createRegistry([architecture]);
    const events: ProgressEvent[] = [];
    const load = () => loadModel(vitCase, { registry, backend: nodeBackend, graphCache: { cacheDir }, onProgress: (event) => events.push(event) });
    const check = async () => {
      const model = await load();
      try {
        expect(maxAbsDifference((await model.forward(vitFixture.io.pixel_values!)).logits!, vitFixture.io.logits!)).toBeLessThanOrEqual(1e-4);
      } finally {
        await model.dispose();
      }
    };
    await check();
    expect(builds()).toBe(1);
    // The build, the graph's bytes written to the cache, then the session.
    expect(events.map((event) => event.stage).filter((stage, i, all) => stage !== all[i - 1])).toEqual(['build', 'session']);
    const written = events.filter((event) => event.stage === 'build' && event.file !== undefined).at(-1)!;
    expect(written.loaded).toBe(written.total);
    expect(written.total).toBeGreaterThan(0);
    const [graphFile] = (await readdir(join(cacheDir, 'graphs'))).filter((name) => name.endsWith('.onnx'));
    const path = join(cacheDir, 'graphs', graphFile!);
    const good = new Uint8Array(await readFile(path));
    // A flipped bit in the middle of the file (inside the weights, which are most of it): ONNX
    // Runtime would load it and give wrong numbers.
    const flipped = good.slice();
    flipped[good.byteLength >> 1]! ^= 0x40;
    await writeFile(path, flipped);
    await check();
    expect(builds()).toBe(2);
    expect(new Uint8Array(await readFile(path))).toEqual(good);
    await truncate(path, 1000);
    await check();
    expect(builds()).toBe(3);
    await check(); // and a good entry is used again
    expect(builds()).toBe(3);
  });

  it('is off for local folders unless asked, on in the resolver\'s cache, and graphCache: false turns it off', async () => {
    const { architecture, builds } = counting(vit);
    const registry = createRegistry([architecture]);
    for (let round = 0; round < 2; round++) await (await loadModel(vitCase, { registry, backend: nodeBackend })).dispose();
    expect(builds()).toBe(2);
    const resolveSource = async () => ({ dir: vitCase, cacheDir });
    for (let round = 0; round < 2; round++) await (await loadModel('org/repo', { registry, backend: nodeBackend, resolveSource })).dispose();
    expect(builds()).toBe(3);
    expect((await readdir(join(cacheDir, 'graphs'))).some((name) => name.endsWith('.onnx'))).toBe(true);
    await (await loadModel('org/repo', { registry, backend: nodeBackend, resolveSource, graphCache: false })).dispose();
    expect(builds()).toBe(4);
    await expect(loadModel(vitCase, { registry, backend: nodeBackend, graphCache: { cacheDir }, weights: join(scratch, 'missing.safetensors') })).rejects.toThrow(
      /Weights file not found/,
    );
  });
});

describe('loadModel: release-file weights named by the resolver', () => {
  let server: HubTestServer;
  beforeAll(async () => {
    server = await startHubTestServer();
    server.setFile('cswin_fixture.pth', new Uint8Array(await readFile(join(cswinCase, 'model.pth'))));
  });
  afterAll(() => server.close());

  it('a CSWin-style .pth release (state_dict_ema inside) is used as the weights file, then served from the cache', async () => {
    const { kwargs, io } = await fixture(cswinCase);
    const url = `${server.url}/files/cswin_fixture.pth`;
    const counted = counting(cswin);
    const architecture: Architecture = {
      ...counted.architecture,
      variants: {
        ...cswin.variants,
        cswin_fixture: { kwargs, pretrained: { release: pretrainedConfig({ url, file: 'cswin_fixture.pth', size: 64, numClasses: 10, labelNames: LABELS }) } },
      },
    } as Architecture;
    const registry = createRegistry([architecture]);
    const cacheDir = await mkdtemp(join(scratch, 'release-cache-'));
    const resolveSource = (name: string) => resolveModelSource(name, { registry, cacheDir, env: {} });
    for (let round = 0; round < 2; round++) {
      server.requests.length = 0;
      const model = await loadModel('cswin_fixture.release', { registry, backend: nodeBackend, resolveSource, outputs: ['logits', 'features'] });
      try {
        expect(model.labels).toEqual(LABELS);
        const outputs = await model.forward(io.pixel_values!);
        expect(maxAbsDifference(outputs.logits!, io.logits!)).toBeLessThanOrEqual(1e-4);
        expect(maxAbsDifference(outputs.features!, io.features!)).toBeLessThanOrEqual(1e-4);
      } finally {
        await model.dispose();
      }
      if (round === 0) expect(server.requests.map((request) => request.path)).toContain('/files/cswin_fixture.pth');
      else expect(server.requests).toEqual([]);
      expect(counted.builds()).toBe(1); // the second load uses the graph cached beside the download
    }
  });
});

describe('loadModel: a model file at a URL (no config.json beside it)', () => {
  let server: HubTestServer;
  let registry: ReturnType<typeof createRegistry>;
  let cacheDir: string;
  const pretrained = pretrainedConfig({ size: 32, numClasses: 10, labelNames: LABELS, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
  beforeAll(async () => {
    server = await startHubTestServer();
    const weights = new Uint8Array(await readFile(join(vitCase, 'model.safetensors')));
    const stateDict = parseSafetensors(weights).tensors;
    server.setFile('vit_fixture.test.safetensors', weights);
    server.setFile('model.safetensors', weights);
    server.setFile('vit_fixture.onnx', graphBytes(convertCheckpoint({ architecture: vit, kwargs: vitFixture.kwargs, stateDict, outputs: ['logits'] })));
    registry = createRegistry([{ ...vit, variants: { vit_fixture: { kwargs: vitFixture.kwargs, pretrained: { test: pretrained } } } } as Architecture]);
    cacheDir = await mkdtemp(join(scratch, 'url-cache-'));
  });
  afterAll(() => server.close());
  beforeEach(() => {
    server.requests.length = 0;
  });

  async function expectFixtureLogits(url: string, architecture?: string) {
    const resolveSource = (name: string) => resolveModelSource(name, { registry, cacheDir, env: {}, architecture });
    const model = await loadModel(url, { registry, backend: nodeBackend, resolveSource });
    try {
      expect(model.labels).toEqual(LABELS);
      expect(model.pretrained?.inputSize).toEqual([3, 32, 32]);
      const { logits } = await model.forward(vitFixture.io.pixel_values!);
      expect(maxAbsDifference(logits!, vitFixture.io.logits!)).toBeLessThanOrEqual(1e-4);
    } finally {
      await model.dispose();
    }
  }

  it('weights whose file name is a registry name get that model\'s config', async () => {
    await expectFixtureLogits(`${server.url}/files/vit_fixture.test.safetensors`);
  });

  it('an .onnx graph runs as it is, preprocessed by the named model\'s pretrained config', async () => {
    await expectFixtureLogits(`${server.url}/files/vit_fixture.onnx`);
  });

  it('anonymous weights need the architecture option, and are refused before any download without it', async () => {
    const url = `${server.url}/files/model.safetensors`;
    const refused = await loadModel(url, { registry, backend: nodeBackend, resolveSource: (name) => resolveModelSource(name, { registry, cacheDir, env: {} }) }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(InvalidArgumentError);
    expect((refused as Error).message).toMatch(/bare weights file and 'model' is not a registered model name.*--arch <registry name>.*Nothing was downloaded/);
    expect(server.requests).toEqual([]);
    await expectFixtureLogits(url, 'vit_fixture.test');
    const unknown = await resolveModelSource(url, { registry, cacheDir, env: {}, architecture: 'vit_fixtur' }).catch((e: unknown) => e);
    expect((unknown as Error).message).toMatch(/Unknown model 'vit_fixtur'\. Did you mean 'vit_fixture'/);
    const notModel = await resolveModelSource(`${server.url}/files/page.html`, { registry, cacheDir, env: {} }).catch((e: unknown) => e);
    expect((notModel as Error).message).toMatch(/must name a weights file \(\.safetensors, \.pth, \.pt, \.bin\) or an ONNX graph/);
  });

  it('the one loader takes the architecture option (the Node file source downloads)', async () => {
    const model = await loadFrom(`${server.url}/files/model.safetensors`, {
      registry,
      fileSource: createNodeFileSource({ download: true }),
      backend: nodeBackend,
      cache: await mkdtemp(join(scratch, 'loader-cache-')),
      architecture: 'vit_fixture.test',
    });
    try {
      const { logits } = await model.forward(vitFixture.io.pixel_values!);
      expect(maxAbsDifference(logits!, vitFixture.io.logits!)).toBeLessThanOrEqual(1e-4);
    } finally {
      await model.dispose();
    }
  });
});
