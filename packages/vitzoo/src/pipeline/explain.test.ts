/**
 * Model.explain (@vitzoo/pipeline) on the bundled digits ViT, loaded by vitzoo's loadModel (every
 * architecture, the node backend): here because the pipeline package does not depend on the
 * architectures (see digits.test.ts).
 */
import { fileURLToPath } from 'node:url';
import { principalComponentMap } from '@vitzoo/pipeline';
import { readImageFile } from '@vitzoo/pipeline/node';
import { describe, expect, test } from 'vitest';
import { loadModel } from '../index.js';

describe('Model.explain on the digits ViT', () => {
  const models = fileURLToPath(new URL('../../../../models/', import.meta.url));
  const digit = fileURLToPath(new URL('../../../../fixtures/digits/test/0045_3.png', import.meta.url));

  test('rollout: the graph output placed on the 32x32 image (its own size, no crop)', async () => {
    const model = await loadModel(`${models}digits-vit`, { outputs: ['logits', 'rollout'] });
    const image = await readImageFile(digit);
    const [heatmap] = await model.explain(image);
    const { rollout } = await model.forward(model.transform.applyBatch([image]), { outputs: ['rollout'] });
    expect(heatmap!.method).toBe('rollout');
    expect([heatmap!.width, heatmap!.height, heatmap!.grid.width, heatmap!.grid.height]).toEqual([32, 32, 8, 8]);
    expect(Array.from(heatmap!.grid.data)).toEqual(Array.from(rollout!.data as Float32Array));
    // Pixel (x 22, y 14) sits at grid (22.5/4 - 0.5, 14.5/4 - 0.5) = (5.125, 3.125): bilinear between cells (5..6, 3..4).
    const r = rollout!.data as Float32Array;
    const expected = 0.875 * 0.875 * r[3 * 8 + 5]! + 0.125 * 0.875 * r[3 * 8 + 6]! + 0.875 * 0.125 * r[4 * 8 + 5]! + 0.125 * 0.125 * r[4 * 8 + 6]!;
    expect(heatmap!.data[14 * 32 + 22]).toBeCloseTo(expected, 6);
    expect(Math.max(...heatmap!.grid.data)).toBeCloseTo(1, 6);
    await model.dispose();
  });

  test('pca: from the last intermediate (intermediates.-1 is the last block)', async () => {
    const model = await loadModel(`${models}digits-vit`, { outputs: ['logits', 'intermediates.-1'] });
    expect(model.outputs).toEqual(['logits', 'intermediates.3']);
    const image = await readImageFile(digit);
    const [heatmap] = await model.explain([image]);
    const { 'intermediates.3': features } = await model.forward(model.transform.applyBatch([image]), { outputs: ['intermediates.3'] });
    expect(heatmap!.method).toBe('pca');
    const expected = principalComponentMap(features!.data as Float32Array, 64, 8, 8);
    for (let p = 0; p < 64; p++) expect(heatmap!.grid.data[p]).toBeCloseTo(expected[p]!, 6);
    await expect(model.explain([image], { method: 'rollout' })).rejects.toThrow(/needs the model built with 'rollout'/);
    await model.dispose();
  });
});

describe("loadModel's explain option: the outputs heat maps read, decided before building", () => {
  const root = fileURLToPath(new URL('../../../../', import.meta.url));
  const digit = `${root}fixtures/digits/test/0045_3.png`;

  test('auto: rollout for the class-token ViT, the last intermediate for Swin; added to the outputs asked for', async () => {
    const vitModel = await loadModel(`${root}models/digits-vit`, { explain: 'auto', outputs: ['logits', 'pre_logits'] });
    const plain = await loadModel(`${root}models/digits-vit`, { outputs: ['logits', 'rollout'] });
    try {
      expect(vitModel.outputs).toEqual(['logits', 'pre_logits', 'rollout']);
      const image = await readImageFile(digit);
      const [a] = await vitModel.explain(image);
      const [b] = await plain.explain(image);
      expect(a!.method).toBe('rollout');
      expect(Array.from(a!.data)).toEqual(Array.from(b!.data));
    } finally {
      await vitModel.dispose();
      await plain.dispose();
    }
    const swin = await loadModel(`${root}fixtures/models/swin_tiny`, { explain: 'auto' });
    try {
      expect(swin.outputs).toEqual(['logits', 'intermediates.1']);
      const [heatmap] = await swin.explain(await readImageFile(`${root}fixtures/images/chelsea.png`));
      expect(heatmap!.method).toBe('pca');
    } finally {
      await swin.dispose();
    }
  });

  test('a method the architecture lacks, or an unknown one, is refused before anything is built', async () => {
    await expect(loadModel(`${root}fixtures/models/swin_tiny`, { explain: 'rollout' })).rejects.toThrow(/Architecture 'swin' cannot explain with 'rollout': it can do pca/);
    await expect(loadModel(`${root}models/digits-vit`, { explain: 'saliency' as never })).rejects.toThrow(/Unknown explain method "saliency"/);
  });
});
