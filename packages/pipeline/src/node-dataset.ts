/**
 * Labelled image folders on disk, in the usual layouts, as `LabelledImages` (decoded on demand).
 */
import { readFile, readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, normalize, sep } from 'node:path';
import { FileNotFoundError, InvalidArgumentError, InvalidConfigError } from '@vitzoo/core';
import { readImageFile } from './node.js';
import type { LabelledImages } from './train-head.js';

/** File name endings read as images. */
export const IMAGE_FILE_PATTERN = /\.(png|jpe?g|webp|gif|tiff?|avif|heic|heif)$/i;

export interface ImageDataset extends LabelledImages {
  /** The folder. */
  readonly dir: string;
  /** 'labels.json', 'class-folders' (one sub-folder per class) or 'file-names' (`<id>_<label>.png`). */
  readonly layout: 'labels.json' | 'class-folders' | 'file-names';
  /** Item paths relative to `dir`. */
  readonly names: readonly string[];
}

export interface ReadImageDatasetOptions {
  /** Refuse images with more pixels than this (default PIL's limit). */
  maxPixels?: number;
}

/** Class names in order: numerically when every label is an integer, else by code unit. */
function sortClassNames(names: Iterable<string>): string[] {
  const unique = [...new Set(names)];
  if (unique.every((name) => /^(0|[1-9]\d*)$/.test(name))) return unique.sort((a, b) => Number(a) - Number(b));
  return unique.sort();
}

function build(dir: string, layout: ImageDataset['layout'], items: { path: string; label: string }[], options: ReadImageDatasetOptions): ImageDataset {
  if (items.length === 0) throw new InvalidArgumentError('dataset', `The dataset folder ${dir} holds no labelled images.`);
  const classNames = sortClassNames(items.map((item) => item.label));
  const index = new Map(classNames.map((name, i) => [name, i]));
  return {
    dir,
    layout,
    classNames,
    names: items.map((item) => item.path),
    labels: items.map((item) => index.get(item.label)!),
    image: (i) => readImageFile(join(dir, items[i]!.path), options.maxPixels === undefined ? {} : { maxPixels: options.maxPixels }),
  };
}

async function fromLabelFile(dir: string, text: string, options: ReadImageDatasetOptions): Promise<ImageDataset> {
  const path = join(dir, 'labels.json');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new InvalidConfigError('labels.json', text.slice(0, 40), `valid JSON (${(error as Error).message})`, path);
  }
  const table = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed) && typeof (parsed as { labels?: unknown }).labels === 'object' ? (parsed as { labels: unknown }).labels : parsed;
  if (typeof table !== 'object' || table === null || Array.isArray(table)) {
    throw new InvalidConfigError('labels', table, '{ "<file>": <label>, … } (or under "labels")', path);
  }
  const items: { path: string; label: string }[] = [];
  for (const [file, label] of Object.entries(table as Record<string, unknown>)) {
    const inside = normalize(file);
    if (isAbsolute(file) || inside === '..' || inside.startsWith(`..${sep}`)) {
      throw new InvalidConfigError(`labels.${file}`, file, 'a file inside the dataset folder', path);
    }
    if (!(typeof label === 'string' && label !== '') && !(typeof label === 'number' && Number.isSafeInteger(label) && label >= 0)) {
      throw new InvalidConfigError(`labels.${file}`, label, 'a class name or a non-negative class index', path);
    }
    if (!(await stat(join(dir, inside)).catch(() => null))?.isFile()) throw new FileNotFoundError(join(dir, file), `Image listed in ${path}`);
    items.push({ path: inside, label: String(label) });
  }
  items.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
  return build(dir, 'labels.json', items, options);
}

/**
 * Reads a labelled image folder, in one of three layouts (looked for in this order):
 *
 * - `labels.json` in the folder: `{ "<file>": <label>, … }` or `{ "labels": { … } }` (labels are
 *   class names or class indices; files relative to the folder, inside it);
 * - one sub-folder per class (torchvision's ImageFolder): the sub-folder's name is the class;
 * - `<id>_<label>.<ext>` file names (e.g. `0042_7.png`): the label is what follows the first `_`.
 *
 * Items are in sorted path order; class names sorted (numerically when they are all integers),
 * class indices by that order. Images are decoded when `image(i)` is called.
 */
export async function readImageDataset(dir: string, options: ReadImageDatasetOptions = {}): Promise<ImageDataset> {
  const info = await stat(dir).catch(() => null);
  if (!info) throw new FileNotFoundError(dir, 'Dataset folder');
  if (!info.isDirectory()) throw new InvalidArgumentError('dataset', `${dir} is a file; give the folder of labelled images.`);
  const labelText = await readFile(join(dir, 'labels.json'), 'utf8').catch(() => undefined);
  if (labelText !== undefined) return fromLabelFile(dir, labelText, options);
  const entries = (await readdir(dir, { withFileTypes: true })).filter((entry) => !entry.name.startsWith('.'));
  const images = entries.filter((entry) => entry.isFile() && IMAGE_FILE_PATTERN.test(entry.name)).map((entry) => entry.name).sort();
  const classFolders: { path: string; label: string }[] = [];
  for (const folder of entries.filter((entry) => entry.isDirectory()).map((entry) => entry.name).sort()) {
    const files = (await readdir(join(dir, folder), { withFileTypes: true }))
      .filter((entry) => entry.isFile() && !entry.name.startsWith('.') && IMAGE_FILE_PATTERN.test(entry.name))
      .map((entry) => entry.name)
      .sort();
    for (const file of files) classFolders.push({ path: join(folder, file), label: folder });
  }
  if (classFolders.length > 0) {
    if (images.length > 0) {
      throw new InvalidArgumentError('dataset', `${dir} holds both class sub-folders and loose images (${images[0]}, …); keep one layout: a sub-folder per class, or <id>_<label> file names.`);
    }
    return build(dir, 'class-folders', classFolders, options);
  }
  const items = images.map((name) => {
    const match = /^[^_]+_(.+)\.[^.]+$/.exec(name);
    if (!match) {
      throw new InvalidArgumentError('dataset', `${join(dir, name)} is not named <id>_<label>.<ext>; label the images with a labels.json, a sub-folder per class, or such names.`);
    }
    return { path: name, label: match[1]! };
  });
  if (items.length === 0) {
    throw new InvalidArgumentError('dataset', `${dir} holds no images (.png, .jpg, .jpeg, .webp, .gif, .tif, .tiff, .avif, .heic, .heif) nor class sub-folders of them.`);
  }
  return build(dir, 'file-names', items, options);
}
