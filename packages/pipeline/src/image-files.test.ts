import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidImageError } from '@vitzoo/core';
import { loadImage } from '@vitzoo/preprocess/node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readImageFile, readImageFileBatches } from './image-files.js';

const images = fileURLToPath(new URL('../../../fixtures/images/', import.meta.url));
let scratch: string;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'vitzoo-image-files-'));
  for (const name of ['chelsea.png', 'coffee.png', 'rocket.jpg', 'astronaut.png']) copyFileSync(join(images, name), join(scratch, name));
  writeFileSync(join(scratch, 'broken.png'), 'not an image');
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

async function collect(paths: string[], options: Parameters<typeof readImageFileBatches>[1]) {
  const batches = [];
  for await (const batch of readImageFileBatches(paths, { cwd: scratch, ...options })) batches.push(batch);
  return batches;
}

// Decoded sizes: chelsea 451x300 = 135300, coffee 600x400 = 240000, astronaut 512x512 = 262144 pixels.
describe('readImageFileBatches', () => {
  it('decodes the files in order, failed ones named with their typed error and the others going on', async () => {
    const names = ['chelsea.png', 'broken.png', 'coffee.png', 'missing.png', 'astronaut.png'];
    const [batch] = await collect(names, {});
    expect(batch!.files.map((file) => [file.path, file.image ? `${file.image.width}x${file.image.height}` : undefined, file.error?.code])).toEqual([
      ['chelsea.png', '451x300', undefined],
      ['broken.png', undefined, 'invalid-image'],
      ['coffee.png', '600x400', undefined],
      ['missing.png', undefined, 'file-not-found'],
      ['astronaut.png', '512x512', undefined],
    ]);
    const direct = await loadImage(join(scratch, 'coffee.png'));
    expect(Buffer.from(batch!.files[2]!.image!.data).equals(Buffer.from(direct.data))).toBe(true);
    expect(batch!.decodedPixels).toBe(135_300 + 240_000 + 262_144);
  });

  it('closes a batch before it would pass the pixel budget or the batch size; an image larger than the budget is alone', async () => {
    const paths = ['chelsea.png', 'coffee.png', 'astronaut.png', 'chelsea.png'];
    const tight = await collect(paths, { pixelBudget: 400_000 });
    expect(tight.map((batch) => batch.files.map((file) => file.path))).toEqual([['chelsea.png', 'coffee.png'], ['astronaut.png', 'chelsea.png']]);
    expect(tight.map((batch) => batch.decodedPixels)).toEqual([375_300, 397_444]);
    const tiny = await collect(paths, { pixelBudget: 1000 });
    expect(tiny.map((batch) => batch.files.length)).toEqual([1, 1, 1, 1]);
    const counted = await collect(paths, { batchSize: 3 });
    expect(counted.map((batch) => batch.files.length)).toEqual([3, 1]);
    await expect(collect(paths, { pixelBudget: 0 })).rejects.toThrow(/pixelBudget must be a positive integer/);
  });

  it('check fails one file, named', async () => {
    const [batch] = await collect(['chelsea.png', 'coffee.png'], {
      check: (image, path) => {
        if (image.width > 500) throw new InvalidImageError(path, 'too wide for this test');
      },
    });
    expect(batch!.files.map((file) => file.error?.message)).toEqual([undefined, 'Invalid image coffee.png: too wide for this test.']);
  });

  it('readImageFile names the path as given and refuses what is not a regular file', async () => {
    const image = await readImageFile('chelsea.png', { cwd: scratch });
    expect([image.width, image.height]).toEqual([451, 300]);
    const device = await readImageFile('/dev/zero').catch((error: unknown) => error);
    expect(InvalidImageError.isInstance(device)).toBe(true);
    expect((device as Error).message).toBe('Invalid image /dev/zero: it is a character device, not an image file.');
  });
});
