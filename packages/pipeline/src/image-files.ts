/**
 * Image files for a model, bounded in memory: read (regular files only, size-capped), decoded and
 * preprocessed one at a time or a few at once within a pixel budget, and released as soon as their
 * rows of the batch tensor are written, so a batch of large images never holds them all decoded.
 */
import { availableParallelism } from 'node:os';
import { resolve } from 'node:path';
import { InvalidArgumentError, VitzooError, createTensor, type Tensor } from '@vitzoo/core';
import { DEFAULT_MAX_PIXELS, decodeImage, readImageBytes, readImageHeader, type ImageTransform, type RawImage } from '@vitzoo/preprocess/node';

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

export interface PreprocessImageFilesOptions extends ReadImageFileOptions {
  /** Images per batch (default 32). */
  batchSize?: number;
  /**
   * Most decoded pixels held at once (summed over the images being decoded and preprocessed);
   * default `maxPixels` (PIL's limit, 89 478 485: about 268 MB as 8-bit RGB). An image larger than
   * the budget is decoded alone.
   */
  pixelBudget?: number;
  /** Images decoded at the same time, within the budget (default: the number of CPUs, at most 4). */
  concurrency?: number;
}

/** One file of a batch: its rows in `pixels`, or the typed error that kept it out. */
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

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new InvalidArgumentError(name, `${name} must be a positive integer, got ${String(value)}.`);
  return value;
}

/** Admits work by pixel count: at most `budget` pixels in flight, but always one item when nothing else is. */
class PixelBudget {
  private used = 0;
  peak = 0;
  private readonly waiting: { pixels: number; admit: () => void }[] = [];
  constructor(private readonly budget: number) {}

  async acquire(pixels: number): Promise<void> {
    if (this.used === 0 || this.used + pixels <= this.budget) return this.take(pixels);
    await new Promise<void>((admit) => this.waiting.push({ pixels, admit }));
  }

  release(pixels: number): void {
    this.used -= pixels;
    while (this.waiting.length > 0 && (this.used === 0 || this.used + this.waiting[0]!.pixels <= this.budget)) {
      const next = this.waiting.shift()!;
      this.take(next.pixels);
      next.admit();
    }
  }

  private take(pixels: number): void {
    this.used += pixels;
    this.peak = Math.max(this.peak, this.used);
  }
}

/**
 * Reads, decodes and preprocesses image files for a model, in batches of `batchSize`. Each image
 * is decoded only when the pixel budget allows (its size read from the header first), turned into
 * its `[3, H, W]` rows by `transform` and released at once: a batch of 32 huge images holds at most
 * `pixelBudget` decoded pixels, not 32 images. A file that cannot be read or decoded (or that the
 * transform cannot use) is reported in its batch with its typed error; the others go on. Errors
 * that are not about one input (bugs) are thrown.
 */
export async function* preprocessImageFiles(
  paths: readonly string[],
  transform: ImageTransform,
  options: PreprocessImageFilesOptions = {},
): AsyncGenerator<ImageFileBatch> {
  const batchSize = positiveInteger(options.batchSize ?? 32, 'batchSize');
  const maxPixels = options.maxPixels ?? transform.maxPixels ?? DEFAULT_MAX_PIXELS;
  const budget = new PixelBudget(positiveInteger(options.pixelBudget ?? maxPixels, 'pixelBudget'));
  const concurrency = positiveInteger(options.concurrency ?? Math.min(4, availableParallelism()), 'concurrency');
  for (let start = 0; start < paths.length; start += batchSize) {
    const chunk = paths.slice(start, start + batchSize);
    const rows: (Tensor | undefined)[] = new Array(chunk.length);
    const files: ImageFileEntry[] = chunk.map((path) => ({ path }));
    let next = 0;
    const worker = async () => {
      for (let index = next++; index < chunk.length; index = next++) {
        const entry = files[index]!;
        try {
          const bytes = await readImageBytes(options.cwd === undefined ? entry.path : resolve(options.cwd, entry.path), { name: entry.path, maxBytes: options.maxBytes });
          const { width, height } = await readImageHeader(bytes, entry.path, { maxPixels });
          await budget.acquire(width * height);
          try {
            const image = await decodeImage(bytes, entry.path, { maxPixels });
            entry.width = image.width;
            entry.height = image.height;
            transform.geometry(image, entry.path); // an image the transform cannot use fails here, named
            rows[index] = transform.apply(image);
          } finally {
            budget.release(width * height);
          }
        } catch (error) {
          if (!VitzooError.isInstance(error)) throw error;
          entry.error = error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, chunk.length) }, worker));
    yield { files, pixels: stack(rows, files), peakDecodedPixels: budget.peak };
    budget.peak = 0;
  }
}

/** The rows of the files that succeeded as one `[N, 3, H, W]` tensor (numbering `files[i].row`). */
function stack(rows: readonly (Tensor | undefined)[], files: ImageFileEntry[]): Tensor | undefined {
  const present = rows.filter((row): row is Tensor => row !== undefined);
  if (present.length === 0) return undefined;
  const [channels, height, width] = present[0]!.shape as [number, number, number];
  const plane = channels * height * width;
  const data = present[0]!.dtype === 'float16' ? new Uint16Array(present.length * plane) : new Float32Array(present.length * plane);
  let row = 0;
  rows.forEach((tensor, index) => {
    if (!tensor) return;
    if (tensor.shape[1] !== height || tensor.shape[2] !== width) {
      throw new InvalidArgumentError(
        'images',
        `${files[index]!.path} gives a ${tensor.shape[2]}x${tensor.shape[1]} tensor but the batch's first image gives ${width}x${height}; ` +
          'a batch needs one size: the transform must crop or resize to an exact size.',
      );
    }
    data.set(tensor.data as Float32Array | Uint16Array, row * plane);
    files[index]!.row = row++;
  });
  return createTensor(present[0]!.dtype, [present.length, channels, height, width], data as Tensor['data']);
}
