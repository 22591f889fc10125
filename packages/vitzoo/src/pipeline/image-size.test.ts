import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, InvalidConfigError, UnsupportedError, maxAbsDifference, parseSafetensors, type Tensor } from '@vitzoo/core';
import { nodeBackend } from '@vitzoo/runtime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildModel, loadModel, loadWeights } from '@vitzoo/pipeline/node';
import { createDefaultRegistry } from '../index.js';

/** `imageSize` through the one loader, with every architecture registered (as users get them). */
const root = fileURLToPath(new URL('../../../../', import.meta.url));
const registry = createDefaultRegistry();
const caseDir = (name: string) => join(root, 'fixtures', 'models', name);

let scratch: string;
beforeAll(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'vitzoo-image-size-'));
});
afterAll(() => rm(scratch, { recursive: true, force: true }));

async function caught(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

describe('imageSize: a checkpoint run at another image size', () => {
  /**
   * vit_tiny_at48 is timm running vit_tiny's 32-px checkpoint at img_size 48 (pos_embed resampled by
   * checkpoint_filter_fn). The same folder described at 32 px and loaded with imageSize 48 must give
   * timm's outputs.
   */
  it('ViT: the 32-px model folder at imageSize 48 gives timm’s outputs at 48 (vit_tiny_at48)', async () => {
    const folder = join(scratch, 'vit-at-32');
    await cp(caseDir('vit_tiny_at48'), folder, { recursive: true });
    const config = JSON.parse(await readFile(join(folder, 'config.json'), 'utf8')) as { kwargs: Record<string, unknown> };
    config.kwargs.img_size = 32;
    await writeFile(join(folder, 'config.json'), JSON.stringify(config));
    const io = parseSafetensors(await readFile(join(caseDir('vit_tiny_at48'), 'io.safetensors'))).tensors as Record<string, Tensor>;

    for (const imageSize of [48, [48, 48] as const, '48x48']) {
      const model = await loadModel(folder, { registry, backend: nodeBackend, imageSize: imageSize as never, outputs: ['logits', 'features'] });
      try {
        expect(model.pretrained?.inputSize).toEqual([3, 48, 48]);
        // A photo-sized image is resized and cropped to the new input size (crop_pct kept).
        expect(model.transform.applyBatch([{ data: new Uint8Array(80 * 60 * 3).fill(128), width: 80, height: 60, channels: 3 }]).shape).toEqual([1, 3, 48, 48]);
        const out = await model.forward(io.pixel_values!);
        expect(maxAbsDifference(out.logits!, io.logits!)).toBeLessThanOrEqual(1e-4);
        expect(maxAbsDifference(out.features!, io.features!)).toBeLessThanOrEqual(1e-4);
      } finally {
        await model.dispose();
      }
    }
    // Without imageSize the same folder is the 32-px model.
    const at32 = await loadModel(folder, { registry, backend: nodeBackend });
    try {
      expect(at32.pretrained?.inputSize).toEqual([3, 32, 32]);
    } finally {
      await at32.dispose();
    }
  });

  it('DeiT (distilled) and Swin and CSWin build at another size; the preprocessing follows; crop_pct is kept', async () => {
    const cases: [string, unknown, [number, number]][] = [
      ['deit_distilled', [48, 64], [48, 64]],
      ['swin_tiny', 48, [48, 48]],
      ['swin_tiny', 16, [16, 16]], // stage 1's grid (2) is below the window (4): windows shrink, bias tables resized
      ['cswin_tiny', 96, [96, 96]],
    ];
    for (const [name, imageSize, [height, width]] of cases) {
      const plain = await loadModel(caseDir(name), { registry, backend: nodeBackend });
      const model = await loadModel(caseDir(name), { registry, backend: nodeBackend, imageSize: imageSize as never });
      try {
        expect(model.pretrained?.inputSize, name).toEqual([3, height, width]);
        expect(model.pretrained?.cropPct, name).toBe(plain.pretrained?.cropPct);
        const pixels = { dtype: 'float32', shape: [1, 3, height, width], data: new Float32Array(3 * height * width).fill(0.25) } as Tensor;
        const out = await model.forward(pixels);
        expect(out.logits!.shape, name).toEqual([1, 10]);
        expect([...(out.logits!.data as Float32Array)].every(Number.isFinite), name).toBe(true);
      } finally {
        await plain.dispose();
        await model.dispose();
      }
    }
  });

  it('the imageSize graph equals the graph built with the kwargs at that size (one rule, cached under its own key)', async () => {
    const stateDict = await loadWeights(join(caseDir('swin_tiny'), 'model.safetensors'));
    const config = JSON.parse(await readFile(join(caseDir('swin_tiny'), 'config.json'), 'utf8')) as { kwargs: Record<string, unknown> };
    const pixels = { dtype: 'float32', shape: [1, 3, 48, 48], data: Float32Array.from({ length: 3 * 48 * 48 }, (_, i) => Math.sin(i)) } as Tensor;
    const viaOption = await buildModel({ registry, architecture: 'swin', kwargs: config.kwargs, stateDict, imageSize: 48, backend: nodeBackend });
    const viaKwargs = await buildModel({ registry, architecture: 'swin', kwargs: { ...config.kwargs, img_size: 48 }, stateDict, backend: nodeBackend });
    try {
      expect(maxAbsDifference((await viaOption.forward(pixels)).logits!, (await viaKwargs.forward(pixels)).logits!)).toBe(0);
    } finally {
      await viaOption.dispose();
      await viaKwargs.dispose();
    }
  });

  it('architectures that cannot change size, sizes an architecture cannot take, and bad values are typed errors', async () => {
    for (const name of ['cait_tiny', 'fdvit_tiny']) {
      const error = await caught(loadModel(caseDir(name), { registry, backend: nodeBackend, imageSize: 64 }));
      expect(UnsupportedError.isInstance(error), name).toBe(true);
      expect((error as Error).message).toMatch(/imageSize 64x64 cannot be built/);
      expect((error as Error).message).toContain('Architectures that can: cswin, deit, swin, vit');
    }
    const square = await caught(loadModel(caseDir('cswin_tiny'), { registry, backend: nodeBackend, imageSize: [64, 96] }));
    expect(InvalidArgumentError.isInstance(square)).toBe(true);
    expect((square as Error).message).toMatch(/CSWin takes square images.*64x96/);
    // 44 is not a multiple of ViT's patch (8): the architecture's own rule, naming img_size.
    const patch = await caught(loadModel(caseDir('vit_tiny'), { registry, backend: nodeBackend, imageSize: 44 }));
    expect(InvalidConfigError.isInstance(patch)).toBe(true);
    expect((patch as Error).message).toMatch(/img_size.*multiple of patch_size/);
    // A graph that runs as it is cannot be rebuilt at another size (nor with heat-map outputs).
    const asIs = await caught(loadModel(caseDir('vit_tiny'), { registry, backend: nodeBackend, weights: 'reference.onnx', imageSize: 48 }));
    expect(UnsupportedError.isInstance(asIs)).toBe(true);
    expect((asIs as Error).message).toMatch(/names an ONNX graph: it runs as it is, so imageSize cannot be changed; load the checkpoint instead/);
    const explainAsIs = await caught(loadModel(caseDir('vit_tiny'), { registry, backend: nodeBackend, weights: 'reference.onnx', explain: 'auto' }));
    expect((explainAsIs as Error).message).toMatch(/names an ONNX graph run as it is, which gives only its logits; heat maps \(explain\) need the checkpoint/);
    for (const bad of [0, -32, 1.5, 'big', '32x', [32], [32, 32, 3], 100_000, Number.NaN]) {
      const error = await caught(loadModel(caseDir('vit_tiny'), { registry, backend: nodeBackend, imageSize: bad as never }));
      expect(InvalidArgumentError.isInstance(error), JSON.stringify(bad)).toBe(true);
      expect((error as Error).message).toMatch(/imageSize must be a side in pixels/);
    }
  });
});
