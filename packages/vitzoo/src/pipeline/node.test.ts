import { mkdtemp, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  FileNotFoundError,
  InvalidArgumentError,
  InvalidConfigError,
  InvalidImageError,
  UnknownModelError,
  graphBytes,
  convertCheckpoint,
  maxAbsDifference,
  parseSafetensors,
  type Tensor,
} from '@vitzoo/core';
import { createTransform, loadImage } from '@vitzoo/preprocess/node';
import { nodeBackend } from '@vitzoo/runtime-node';
import { createRegistry } from '@vitzoo/core';
import { cswin } from '@vitzoo/cswin';
import { deit } from '@vitzoo/deit';
import { vit } from '@vitzoo/vit';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModel, createModel, loadModel, loadWeights, locateModel, readModelFolder } from '@vitzoo/pipeline/node';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const registry = createRegistry([vit, deit, cswin]);
const digitsVit = `${root}models/digits-vit`;
const vitCase = `${root}fixtures/models/vit_tiny`;

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'vitzoo-pipeline-'));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

describe('readModelFolder', () => {
  it('reads the bundled digits model (timm hub layout)', async () => {
    const source = await readModelFolder(digitsVit, registry);
    expect(source.layout).toBe('timm-hub');
    expect(source.variant).toBe('vit_tiny_patch16_224');
    expect(source.weights).toBe(join(digitsVit, 'model.safetensors'));
    expect(source.pretrained).toMatchObject({ inputSize: [3, 32, 32], cropPct: 1, numClasses: 10 });
    const deit = await readModelFolder(`${root}models/digits-deit`, registry);
    expect(deit.architecture.id).toBe('deit');
    expect(deit.kwargs).toMatchObject({ distilled: true, embed_dim: 64, img_size: 32 });
  });

  it('reads a fixture case folder', async () => {
    const source = await readModelFolder(vitCase, registry, join(vitCase, 'model_legacy.pth'));
    expect(source.layout).toBe('case');
    expect(source.architecture.id).toBe('vit');
    expect(source.weights).toBe(join(vitCase, 'model_legacy.pth'));
    expect(source.pretrained).toMatchObject({ inputSize: [3, 32, 32], cropPct: 0.9, interpolation: 'bicubic' });
  });

  it('gives typed errors for missing folders, files and bad configs', async () => {
    await expect(readModelFolder(join(scratch, 'nothing'), registry)).rejects.toThrow(FileNotFoundError);
    await expect(readModelFolder(join(digitsVit, 'config.json'), registry)).rejects.toThrow(/is a file/);
    const bad = join(scratch, 'bad');
    await mkdir(bad);
    await expect(readModelFolder(bad, registry)).rejects.toThrow(/Model config not found/);
    await writeFile(join(bad, 'config.json'), '{"architecture": ');
    await expect(readModelFolder(bad, registry)).rejects.toThrow(InvalidConfigError);
  });
});

describe('loadWeights', () => {
  it('reads safetensors and the legacy torch.save format to the same tensors', async () => {
    const safetensors = await loadWeights(join(vitCase, 'model.safetensors'));
    const legacy = await loadWeights(join(vitCase, 'model_legacy.pth'));
    expect(Object.keys(legacy).sort()).toEqual(Object.keys(safetensors).sort());
    for (const [key, tensor] of Object.entries(safetensors)) expect(maxAbsDifference(legacy[key]!, tensor), key).toBe(0);
    await expect(loadWeights(join(scratch, 'missing.safetensors'))).rejects.toThrow(/Weights file not found/);
  });
});

describe('locateModel and loadModel', () => {
  it('runs a fixture case to its reference outputs, weights from a .pth', async () => {
    const io = parseSafetensors(await readFile(join(vitCase, 'io.safetensors'))).tensors;
    const model = await loadModel(vitCase, { registry, backend: nodeBackend, outputs: ['logits', 'pre_logits'], weights: join(vitCase, 'model_legacy.pth') });
    try {
      const outputs = await model.forward(io.pixel_values!);
      expect(maxAbsDifference(outputs.logits!, io.logits!)).toBeLessThanOrEqual(1e-4);
      expect(maxAbsDifference(outputs.pre_logits!, io.pre_logits!)).toBeLessThanOrEqual(1e-4);
      const embedded = await model.embed(io.pixel_values!);
      expect(maxAbsDifference(embedded, io.pre_logits!)).toBeLessThanOrEqual(1e-4);
    } finally {
      await model.dispose();
    }
  });

  it('needs a registry (the vitzoo package supplies its own): a typed error naming it', async () => {
    await expect(loadModel(digitsVit)).rejects.toSatisfy(
      (error: unknown) => InvalidArgumentError.isInstance(error) && error.argument === 'registry' && /'vitzoo'/.test(error.message),
    );
  });

  it('hands names that are not folders to resolveSource (the hub extension point)', async () => {
    const asked: string[] = [];
    const resolveSource = async (name: string) => {
      asked.push(name);
      return digitsVit;
    };
    expect(await locateModel('timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k', registry, { resolveSource })).toBe(digitsVit);
    expect(asked).toEqual(['timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k']);
    expect(await locateModel(digitsVit, registry, { resolveSource })).toBe(digitsVit); // folders never go to it
    expect(asked).toHaveLength(1);
  });

  it('without a resolver: registered names say how to get weights, unknown names and missing paths are typed errors', async () => {
    await expect(locateModel('vit_tiny_patch16_224', registry)).rejects.toSatisfy(
      (error: unknown) => InvalidArgumentError.isInstance(error) && /does not download.*resolveSource/.test((error as Error).message),
    );
    await expect(locateModel('vit_tiny_patch16_2244', registry)).rejects.toSatisfy(
      (error: unknown) => UnknownModelError.isInstance(error) && /Did you mean 'vit_tiny_patch16_224'/.test((error as Error).message),
    );
    await expect(locateModel('./models/nope', registry)).rejects.toThrow(FileNotFoundError);
    await expect(locateModel(join(digitsVit, 'config.json'), registry)).rejects.toThrow(/is a file/);
  });
});

describe('Model', () => {
  let images: Awaited<ReturnType<typeof loadImage>>[];
  beforeAll(async () => {
    const names = ['0021_1.png', '0024_4.png', '0028_8.png', '0034_6.png', '0035_5.png', '0037_9.png', '0057_2.png'];
    images = await Promise.all(names.map((name) => loadImage(`${root}fixtures/digits/test/${name}`)));
  });

  it('buildModel from a variant name + kwargs: pretrained config follows img_size and num_classes', async () => {
    const stateDict = await loadWeights(join(digitsVit, 'model.safetensors'));
    const model = await buildModel({
      registry,
      variant: 'vit_tiny_patch16_224',
      kwargs: { img_size: 32, patch_size: 4, embed_dim: 64, depth: 4, num_heads: 4, num_classes: 10 },
      pretrained: { cropPct: 1 },
      stateDict,
      backend: nodeBackend,
      batchSize: 3,
    });
    const reference = await loadModel(digitsVit, { registry, backend: nodeBackend });
    try {
      expect(model.pretrained).toMatchObject({ inputSize: [3, 32, 32], numClasses: 10, mean: [0.5, 0.5, 0.5] });
      expect(model.labels).toEqual(['0', '1', '2', '3', '4', '5', '6', '7', '8', '9']);
      expect(model.outputs).toEqual(['logits']);
      // batches of 3 (three runs) give what one run gives
      expect(await model.classify(images)).toEqual(await reference.classify(images));
      // a preprocessed tensor batch gives the same as the images
      expect(await model.classify(reference.transform.applyBatch(images))).toEqual(await reference.classify(images));
      await expect(model.embed(images)).rejects.toThrow(/without 'pre_logits'/);
      await expect(model.forward(reference.transform.applyBatch(images), { outputs: ['features'] })).rejects.toThrow(/'features' must be requested/);
    } finally {
      await model.dispose();
      await reference.dispose();
    }
    await expect(model.classify(images)).rejects.toThrow(/disposed/);
  });

  it('createModel from ONNX bytes without a pretrained config: tensors only, index labels, explicit names', async () => {
    const stateDict = await loadWeights(join(digitsVit, 'model.safetensors'));
    const source = await readModelFolder(digitsVit, registry);
    const graph = convertCheckpoint({ architecture: source.architecture, kwargs: source.kwargs, stateDict });
    const pixels = createTransform(source.pretrained).applyBatch(images);
    const bare = await createModel({ graph: graphBytes(graph), backend: nodeBackend });
    const named = await createModel({ graph, backend: nodeBackend, labelNames: ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'] });
    try {
      expect(bare.labels).toBeUndefined(); // unknown until the first run
      const [first] = await bare.classify(pixels, { topK: 1 });
      expect(first).toEqual([{ index: 1, label: '1', score: expect.any(Number) }]);
      expect(bare.labels).toHaveLength(10);
      await expect(bare.classify(images)).rejects.toThrow(/no pretrained config/);
      const results = await named.classify(pixels, { topK: 2, allow: ['one', 'seven'], deny: [7] });
      expect(results[0]!.map((p) => p.label)).toEqual(['one']);
      await expect(named.classify(pixels, { allow: ['ten'] })).rejects.toThrow(/class 'ten'/);
      await expect(bare.forward({ dtype: 'float32', shape: [1, 32, 32], data: new Float32Array(1024) } as Tensor)).rejects.toThrow(/\[batch, 3, height, width\]/);
    } finally {
      await bare.dispose();
      await named.dispose();
    }
    await expect(createModel({ graph, backend: nodeBackend, labelNames: ['a'] })).rejects.toThrow(/one name per class \(10\)/);
    await expect(buildModel({ registry, stateDict, backend: nodeBackend })).rejects.toThrow(/variant name/);
    await expect(buildModel({ registry, variant: 'vit_tiny_patch16_224', architecture: 'vit', stateDict, backend: nodeBackend })).rejects.toThrow(/not both/);
  });

  it('refuses unusable images with InvalidImageError', async () => {
    const model = await loadModel(digitsVit, { registry, backend: nodeBackend });
    try {
      await expect(model.classify({ data: new Uint8Array(0), width: 0, height: 0, channels: 3 })).rejects.toThrow(InvalidImageError);
      await expect(model.classify({ data: new Uint8Array(5), width: 2, height: 2, channels: 3 })).rejects.toThrow(InvalidImageError);
      await expect(model.classify([])).rejects.toThrow(/No images/);
    } finally {
      await model.dispose();
    }
  });
});
