import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { FileNotFoundError, InvalidArgumentError, InvalidConfigError, InvalidImageError } from '@vitzoo/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readImageDataset, readImageFile } from './node.js';

const digits = fileURLToPath(new URL('../../../fixtures/digits/test/', import.meta.url));
let scratch: string;
let count = 0;
const folder = () => {
  const dir = join(scratch, `set-${count++}`);
  mkdirSync(dir);
  return dir;
};
const png = (name: string) => join(digits, name);

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'vitzoo-dataset-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('readImageDataset', () => {
  it('one sub-folder per class (ImageFolder): classes sorted, items class by class in file order, decoded on demand', async () => {
    const dir = folder();
    for (const [cls, files] of Object.entries({ dog: ['0024_4.png', '0021_1.png'], cat: ['0034_6.png'] })) {
      mkdirSync(join(dir, cls));
      for (const file of files) copyFileSync(png(file), join(dir, cls, file));
    }
    writeFileSync(join(dir, 'cat', 'notes.txt'), 'not an image');
    const dataset = await readImageDataset(dir);
    expect(dataset.layout).toBe('class-folders');
    expect(dataset.classNames).toEqual(['cat', 'dog']);
    expect(dataset.names).toEqual([join('cat', '0034_6.png'), join('dog', '0021_1.png'), join('dog', '0024_4.png')]);
    expect(dataset.labels).toEqual([0, 1, 1]);
    const image = await dataset.image(1);
    expect(image).toEqual(await readImageFile(png('0021_1.png')));
  });

  it('<id>_<label> file names: labels after the first underscore, numeric classes in numeric order', async () => {
    const dir = folder();
    for (const file of ['0034_6.png', '0021_1.png', '0024_4.png']) copyFileSync(png(file), join(dir, file));
    copyFileSync(png('0034_6.png'), join(dir, '0040_10.png'));
    const dataset = await readImageDataset(dir);
    expect(dataset.layout).toBe('file-names');
    expect(dataset.classNames).toEqual(['1', '4', '6', '10']);
    expect(dataset.names).toEqual(['0021_1.png', '0024_4.png', '0034_6.png', '0040_10.png']);
    expect(dataset.labels).toEqual([0, 1, 2, 3]);
  });

  it('a labels.json (names or indices, flat or under "labels") wins, and only the files it lists are used', async () => {
    const dir = folder();
    copyFileSync(png('0034_6.png'), join(dir, 'a.png'));
    mkdirSync(join(dir, 'sub'));
    copyFileSync(png('0021_1.png'), join(dir, 'sub', 'b.png'));
    copyFileSync(png('0024_4.png'), join(dir, 'unlisted.png'));
    writeFileSync(join(dir, 'labels.json'), JSON.stringify({ labels: { 'sub/b.png': 'seven', 'a.png': 'six' } }));
    const dataset = await readImageDataset(dir);
    expect(dataset.layout).toBe('labels.json');
    expect(dataset.names).toEqual(['a.png', join('sub', 'b.png')]);
    expect(dataset.classNames).toEqual(['seven', 'six']);
    expect(dataset.labels).toEqual([1, 0]);
    writeFileSync(join(dir, 'labels.json'), JSON.stringify({ 'a.png': 2, 'sub/b.png': 0 }));
    expect((await readImageDataset(dir)).classNames).toEqual(['0', '2']);
  });

  it('the digits fixtures read as the 360 test / 1,437 training images with labels from their names', async () => {
    const test = await readImageDataset(digits);
    const labels = JSON.parse(readFileSync(join(digits, '../labels.json'), 'utf8')).labels as Record<string, number>;
    expect(test.names.map((name, i) => labels[name] === Number(test.classNames[test.labels[i]!]))).not.toContain(false);
    expect(test.labels).toHaveLength(360);
  });

  it('refuses what it cannot read as a labelled set, naming the problem', async () => {
    await expect(readImageDataset(join(scratch, 'missing'))).rejects.toThrow(FileNotFoundError);
    await expect(readImageDataset(png('0034_6.png'))).rejects.toThrow(/is a file/);
    const empty = folder();
    await expect(readImageDataset(empty)).rejects.toThrow(/holds no images/);
    const unnamed = folder();
    copyFileSync(png('0034_6.png'), join(unnamed, 'photo.png'));
    await expect(readImageDataset(unnamed)).rejects.toThrow(/photo\.png is not named <id>_<label>/);
    const mixed = folder();
    mkdirSync(join(mixed, 'cat'));
    copyFileSync(png('0034_6.png'), join(mixed, 'cat', 'x.png'));
    copyFileSync(png('0034_6.png'), join(mixed, '0034_6.png'));
    await expect(readImageDataset(mixed)).rejects.toThrow(InvalidArgumentError);
    const escaping = folder();
    writeFileSync(join(escaping, 'labels.json'), JSON.stringify({ '../../etc/passwd': 'x' }));
    await expect(readImageDataset(escaping)).rejects.toThrow(InvalidConfigError);
    writeFileSync(join(escaping, 'labels.json'), JSON.stringify({ 'gone.png': 'x' }));
    await expect(readImageDataset(escaping)).rejects.toThrow(FileNotFoundError);
    writeFileSync(join(escaping, 'labels.json'), JSON.stringify({ 'gone.png': { nested: true } }));
    await expect(readImageDataset(escaping)).rejects.toThrow(InvalidConfigError);
    writeFileSync(join(escaping, 'labels.json'), '{ not json');
    await expect(readImageDataset(escaping)).rejects.toThrow(InvalidConfigError);
    const corrupt = folder();
    writeFileSync(join(corrupt, '0000_1.png'), 'not a png');
    const dataset = await readImageDataset(corrupt);
    await expect(dataset.image(0)).rejects.toThrow(InvalidImageError);
  });
});
