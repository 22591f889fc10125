/**
 * Image files for a model, bounded in memory: read (regular files only, size-capped) and decoded
 * lazily, in batches of at most `batchSize` images and `pixelBudget` decoded pixels, so a batch of
 * large images never sits decoded all at once.
 */
import { resolve } from 'node:path';
import { VitzooError, positiveInteger } from '@vitzoo/core';
import { DEFAULT_MAX_PIXELS, decodeImage, readImageBytes, readImageHeader, type RawImage } from '@vitzoo/preprocess/node';

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

export interface ReadImageFileBatchesOptions extends ReadImageFileOptions {
  /** Most images per batch (default 32). */
  batchSize?: number;
  /**
   * Most decoded pixels per batch, summed over its images (sizes read from the headers before
   * anything is decoded); default `maxPixels` (PIL's limit, 89 478 485: about 268 MB as 8-bit RGB).
   * An image larger than the budget makes a batch of its own.
   */
  pixelBudget?: number;
  /** Checks a decoded image (e.g. that a transform can use it); a typed error it throws fails that file only. */
  check?: (image: RawImage, path: string) => void;
}

/** One file of a batch: its decoded pixels, or the typed error that kept it out. */
export interface ImageFileEntry {
  /** The path as given. */
  path: string;
  image?: RawImage;
  error?: VitzooError;
}

export interface ImageFileBatch {
  /** In the order given; failed files are in it with their error. */
  files: ImageFileEntry[];
  /** Decoded pixels held by this batch (at most the budget, or the one image larger than it). */
  decodedPixels: number;
}


/**
 * Reads image files in batches for `model.classify` / `embed`: each file's header is read first,
 * and a batch closes before the next image would take it past `batchSize` images or `pixelBudget`
 * decoded pixels; only then are its images decoded (concurrently). The caller drops a batch before
 * asking for the next, so at most one batch is decoded at a time, whatever the number of images.
 * A file that cannot be read or decoded (or fails `check`) is in its batch with its typed error;
 * the others go on. Errors that are not about one input (bugs) are thrown.
 */
export async function* readImageFileBatches(paths: readonly string[], options: ReadImageFileBatchesOptions = {}): AsyncGenerator<ImageFileBatch> {
  const batchSize = positiveInteger(options.batchSize ?? 32, 'batchSize');
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const budget = positiveInteger(options.pixelBudget ?? Math.floor(Math.min(maxPixels, Number.MAX_SAFE_INTEGER)), 'pixelBudget');
  const failed = (entry: ImageFileEntry, error: unknown) => {
    if (!VitzooError.isInstance(error)) throw error;
    entry.error = error;
  };
  let pending: { entry: ImageFileEntry; bytes?: Uint8Array }[] = [];
  let pixels = 0;
  const flush = async (): Promise<ImageFileBatch> => {
    await Promise.all(
      pending.map(async (item) => {
        if (!item.bytes) return;
        try {
          const image = await decodeImage(item.bytes, item.entry.path, { maxPixels });
          options.check?.(image, item.entry.path);
          item.entry.image = image;
        } catch (error) {
          failed(item.entry, error);
        }
      }),
    );
    const batch = { files: pending.map((item) => item.entry), decodedPixels: pixels };
    pending = [];
    pixels = 0;
    return batch;
  };
  for (const path of paths) {
    const entry: ImageFileEntry = { path };
    let bytes: Uint8Array | undefined;
    let size = 0;
    try {
      bytes = await readImageBytes(options.cwd === undefined ? path : resolve(options.cwd, path), { name: path, maxBytes: options.maxBytes });
      const { width, height } = await readImageHeader(bytes, path, { maxPixels });
      size = width * height;
    } catch (error) {
      failed(entry, error);
      bytes = undefined;
    }
    if (pending.length >= batchSize || (pixels > 0 && pixels + size > budget)) yield await flush();
    pending.push({ entry, ...(bytes ? { bytes } : {}) });
    pixels += size;
  }
  if (pending.length > 0) yield await flush();
}
