/**
 * Image files for a model, bounded in memory: read (regular files only, size-capped), decoded and
 * preprocessed one at a time or a few at once within a pixel budget, and released as soon as their
 * rows of the batch tensor are ready, so a batch of large images never holds them all decoded.
 */
import { resolve } from 'node:path';
import { InvalidArgumentError, type Tensor, type VitzooError } from '@vitzoo/core';
import { decodeImage, preprocessEach, readImageBytes, stackImageTensors, type ImageTransform, type PreprocessEachOptions, type RawImage } from '@vitzoo/preprocess/node';

export interface ReadImageFileOptions {
  /** Base for relative paths (errors name the path as given). Default: the process's. */
  cwd?: string;
  /** Largest image in pixels (checked from the header, before decoding); default PIL's limit. */
  maxPixels?: number;
  /** Largest image file in bytes; default 512 MiB (@vitzoo/preprocess/node `DEFAULT_MAX_IMAGE_BYTES`). */
  maxBytes?: number;
}

/**
 * Reads and decodes an image file (sharp, see @vitzoo/preprocess/node `decodeImage`), resolving
 * `path` against `cwd` but naming it in errors as given: a missing file is `FileNotFoundError`; a
 * folder, a device or pipe, a file over `maxBytes`, an unreadable file, or data that is corrupt,
 * truncated, empty, of an unsupported format or over `maxPixels` pixels (default PIL's limit) is
 * `InvalidImageError`.
 */
export async function readImageFile(path: string, options: ReadImageFileOptions = {}): Promise<RawImage> {
  const bytes = await readImageBytes(options.cwd === undefined ? path : resolve(options.cwd, path), { name: path, maxBytes: options.maxBytes });
  return decodeImage(bytes, path, options.maxPixels === undefined ? {} : { maxPixels: options.maxPixels });
}

export interface PreprocessImageFilesOptions extends ReadImageFileOptions, Pick<PreprocessEachOptions, 'pixelBudget' | 'concurrency'> {
  /** Images per batch (default 32). */
  batchSize?: number;
}

/** One file of a batch: its row in `pixels`, or the typed error that kept it out. */
export interface ImageFileEntry {
  /** The path as given. */
  path: string;
  /** Its row in the batch tensor; undefined when it failed. */
  row?: number;
  /** Decoded size. */
  width?: number;
  height?: number;
  error?: VitzooError;
}

export interface ImageFileBatch {
  files: ImageFileEntry[];
  /** `[rows, 3, H, W]` for the files that succeeded, in order; undefined when none did. */
  pixels: Tensor | undefined;
  /** The most decoded pixels that were held at once while this batch was prepared. */
  peakDecodedPixels: number;
}

/**
 * Reads, decodes and preprocesses image files for a model, in batches of `batchSize`, bounded in
 * memory by @vitzoo/preprocess/node `preprocessEach`: each image is decoded only when the pixel
 * budget allows (default `maxPixels`), turned into its rows and released at once, so a batch of 32
 * huge images holds at most the budget decoded, not 32 images. A file that cannot be read or
 * decoded (or that the transform cannot use) is reported in its batch with its typed error; the
 * others go on. Errors that are not about one input (bugs) are thrown.
 */
export async function* preprocessImageFiles(
  paths: readonly string[],
  transform: ImageTransform,
  options: PreprocessImageFilesOptions = {},
): AsyncGenerator<ImageFileBatch> {
  const batchSize = options.batchSize ?? 32;
  if (!Number.isSafeInteger(batchSize) || batchSize < 1) throw new InvalidArgumentError('batchSize', `batchSize must be a positive integer, got ${String(batchSize)}.`);
  for (let start = 0; start < paths.length; start += batchSize) {
    const chunk = paths.slice(start, start + batchSize);
    const { images, peakDecodedPixels } = await preprocessEach(
      chunk.map((path) => (options.cwd === undefined ? path : resolve(options.cwd, path))),
      transform,
      { names: chunk, maxPixels: options.maxPixels, maxBytes: options.maxBytes, pixelBudget: options.pixelBudget, concurrency: options.concurrency },
    );
    const files: ImageFileEntry[] = chunk.map((path, index) => {
      const { width, height, error } = images[index]!;
      return { path, ...(width === undefined ? {} : { width, height }), ...(error ? { error } : {}) };
    });
    const rows = images.flatMap((image, index) => (image.tensor ? [{ tensor: image.tensor, index }] : []));
    rows.forEach(({ index }, row) => (files[index]!.row = row));
    const pixels = rows.length > 0 ? stackImageTensors(rows.map(({ tensor }) => tensor), rows.map(({ index }) => chunk[index]!)) : undefined;
    yield { files, pixels, peakDecodedPixels };
  }
}
