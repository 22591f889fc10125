import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidImageError } from '@vitzoo/core';
import { createTransform, loadImage } from '@vitzoo/preprocess/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { preprocessImageFiles, readImageFile } from './image-files.js';

const images = fileURLToPath(new URL('../../../fixtures/images/', import.meta.url));
const transform = createTransform({ inputSize: [3, 64, 64], interpolation: 'bilinear', cropPct: 0.875 });
let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'vitzoo-image-files-'));
  for (const name of ['chelsea.png', 'coffee.png', 'rocket.jpg', 'astronaut.png']) copyFileSync(join(images, name), join(scratch, name));
  writeFileSync(join(scratch, 'broken.png'), 'not an image');
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function collect(paths: string[], options: Parameters<typeof preprocessImageFiles>[2]) {
  const batches = [];
  for await (const batch of preprocessImageFiles(paths, transform, { cwd: scratch, ...options })) batches.push(batch);
  return batches;
}

describe('preprocessImageFiles', () => {
  const names = ['chelsea.png', 'broken.png', 'coffee.png', 'missing.png', 'rocket.jpg', 'astronaut.png'];

  it('gives exactly the rows applyBatch gives, in order, with failed files named and left out', async () => {
    const [batch] = await collect(names, { batchSize: 6 });
    expect(batch!.files.map((file) => [file.path, file.row, file.error?.code])).toEqual([
      ['chelsea.png', 0, undefined],
      ['broken.png', undefined, 'invalid-image'],
      ['coffee.png', 1, undefined],
      ['missing.png', undefined, 'file-not-found'],
      ['rocket.jpg', 2, undefined],
      ['astronaut.png', 3, undefined],
    ]);
    expect(batch!.files[0]).toMatchObject({ width: 451, height: 300 });
    const good = ['chelsea.png', 'coffee.png', 'rocket.jpg', 'astronaut.png'];
    const expected = transform.applyBatch(await Promise.all(good.map((name) => loadImage(join(scratch, name)))));
    expect(batch!.pixels!.shape).toEqual([4, 3, 64, 64]);
    expect(Buffer.from((batch!.pixels!.data as Float32Array).buffer).equals(Buffer.from((expected.data as Float32Array).buffer))).toBe(true);
  });

  it('holds no more decoded pixels at once than the budget (one image when it is smaller than the next), in batches of batchSize', async () => {
    const paths = ['astronaut.png', 'chelsea.png', 'coffee.png', 'rocket.jpg']; // astronaut: 512x512 = 262144 pixels
    const tight = await collect(paths, { batchSize: 4, pixelBudget: 300_000, concurrency: 4 });
    expect(tight).toHaveLength(1);
    expect(tight[0]!.peakDecodedPixels).toBeLessThanOrEqual(300_000);
    expect(tight[0]!.peakDecodedPixels).toBeGreaterThanOrEqual(262_144);
    const loose = await collect(paths, { batchSize: 2, pixelBudget: 10_000_000, concurrency: 4 });
    expect(loose.map((batch) => batch.files.map((file) => file.path))).toEqual([paths.slice(0, 2), paths.slice(2)]);
    expect(loose[0]!.peakDecodedPixels).toBeLessThanOrEqual(262_144 + 135_300);
    const rows = [...tight[0]!.pixels!.data];
    expect([...loose[0]!.pixels!.data, ...loose[1]!.pixels!.data]).toEqual(rows);
    await expect(collect(paths, { pixelBudget: 0 })).rejects.toThrow(/pixelBudget must be a positive integer/);
  });

  it('readImageFile names the path as given and refuses what is not a regular file', async () => {
    const image = await readImageFile('chelsea.png', { cwd: scratch });
    expect([image.width, image.height]).toEqual([451, 300]);
    const device = await readImageFile('/dev/zero').catch((error: unknown) => error);
    expect(InvalidImageError.isInstance(device)).toBe(true);
    expect((device as Error).message).toBe('Invalid image /dev/zero: it is a character device, not an image file.');
  });
});
