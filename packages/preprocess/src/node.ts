/**
 * @vitzoo/preprocess/node: image decoding for Node with sharp (libvips), matching what
 * `PIL.Image.open(...)` + `ImageOps.exif_transpose` + `.convert('RGB')` feeds a timm or Hugging Face
 * pipeline: EXIF orientation applied, embedded ICC profiles ignored (values as stored), alpha kept
 * apart (never premultiplied), 16-bit samples kept for the transform's `sixteenBit` rule.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { DownloadError, FileNotFoundError, InvalidArgumentError, InvalidImageError, UnsupportedError, VitzooError, createTensor, describeFileType, positiveInteger, type Tensor } from '@vitzoo/core';
import type { Metadata, SharpOptions } from 'sharp';
import { DEFAULT_MAX_PIXELS, validateRawImage, type RawImage } from './raw-image.js';
import type { ImageTransform, OutputDataType } from './transform.js';

export * from './index.js';

/** A file path, an `http(s):` or `file:` URL (string or URL), or the encoded bytes. */
export type ImageSource = string | URL | Uint8Array | ArrayBuffer;

/** Largest image file (or download) read: 512 MiB; PIL's pixel limit in 16-bit RGBA is about 716 MB raw. */
export const DEFAULT_MAX_IMAGE_BYTES = 512 * 1024 ** 2;
/** How long fetching an image URL may take, start to end: 30 s. */
export const DEFAULT_IMAGE_TIMEOUT_MS = 30_000;

export interface LoadImageOptions {
  /** Largest accepted image in pixels (checked before decoding); default PIL's MAX_IMAGE_PIXELS. */
  maxPixels?: number;
  /** Largest image file or download in bytes (checked before and while reading); default 512 MiB. */
  maxBytes?: number;
  /** http(s) URLs: milliseconds the whole request may take; default 30 000. */
  timeoutMs?: number;
  /** Apply the EXIF Orientation tag (default true, as `ImageOps.exif_transpose`). */
  applyOrientation?: boolean;
  /** Used for http(s) URLs; default `globalThis.fetch`. */
  fetch?: typeof globalThis.fetch;
  signal?: AbortSignal;
}

type Sharp = typeof import('sharp').default;
let sharpModule: Promise<Sharp> | undefined;

/** The error when sharp (an optional peer dependency: browsers never need it) is not installed. */
export function sharpMissingError(cause: unknown): UnsupportedError {
  const reason = cause instanceof Error ? cause.message.split('\n')[0] : String(cause);
  return new UnsupportedError(
    `Decoding images in Node needs sharp, an optional peer dependency of @vitzoo/preprocess: install it with \`npm install sharp\` ` +
      `(or use the 'vitzoo' package, which depends on it). It could not be loaded: ${reason}`,
  );
}

/** sharp, imported on first use. */
function loadSharp(): Promise<Sharp> {
  sharpModule ??= import('sharp').then(
    (module) => module.default,
    (error: unknown) => {
      sharpModule = undefined;
      throw sharpMissingError(error);
    },
  );
  return sharpModule;
}

/** Formats decoded here (sharp names them; AVIF is `heif` with AV1 compression). */
const SUPPORTED_FORMATS = new Set(['jpeg', 'png', 'webp', 'gif', 'tiff', 'heif']);
const SUPPORTED_NAMES = 'JPEG, PNG, WebP, GIF, TIFF, AVIF/HEIF';

function isHttpUrl(source: string | URL): boolean {
  const text = String(source);
  return /^https?:\/\//i.test(text);
}

/** Describes a sharp / libvips failure in one short line. */
function decodeFailure(error: unknown, maxPixels: number): string {
  const message = error instanceof Error ? error.message : String(error);
  const lines = [...new Set(message.split('\n').map((line) => line.trim()).filter(Boolean))];
  const first = lines.join('; ').replace(/:\s*;/g, ':').replace(/:$/, '');
  if (/unsupported image format/i.test(first)) return `unrecognised or unsupported image format (supported: ${SUPPORTED_NAMES})`;
  if (/pixel limit/i.test(first)) return `it has more than the limit of ${maxPixels} pixels (raise maxPixels if the image is trusted)`;
  if (/premature end|truncat|unexpected end/i.test(first)) return `the data is truncated (${first})`;
  return `it is corrupt or cannot be decoded (${first})`;
}

function checkLimit(value: number, name: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !(value > 0) || value > max) throw new InvalidArgumentError(name, `${name} must be a positive number up to ${max}, got ${String(value)}.`);
  return value;
}

/**
 * Reads an image file, bounded: only a regular file (a device such as /dev/zero, a FIFO or a
 * socket would read without end or block), of at most `maxBytes` (default 512 MiB, checked before
 * reading and while reading, so a file that grows is cut off). Errors name the file as `name`
 * (default `path`): a missing file is `FileNotFoundError`, anything else `InvalidImageError`.
 */
export async function readImageBytes(path: string, options: { maxBytes?: number; name?: string } = {}): Promise<Uint8Array> {
  const name = options.name ?? path;
  const maxBytes = checkLimit(options.maxBytes ?? DEFAULT_MAX_IMAGE_BYTES, 'maxBytes');
  let handle;
  try {
    // O_NONBLOCK: opening a FIFO without a writer would otherwise wait forever; it is refused below.
    handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FileNotFoundError(name, 'Image file');
    if (code === 'EISDIR') throw new InvalidImageError(name, 'it is a directory, not an image file');
    throw new InvalidImageError(name, `it cannot be read (${(error as Error).message})`, { cause: error });
  }
  try {
    const info = await handle.stat();
    if (info.isDirectory()) throw new InvalidImageError(name, 'it is a directory, not an image file');
    if (!info.isFile()) throw new InvalidImageError(name, `it is ${describeFileType(info)}, not an image file`);
    if (info.size > maxBytes) throw new InvalidImageError(name, `it is ${info.size} bytes, more than the limit of ${maxBytes} bytes for an image file (raise maxBytes if the file is trusted)`);
    // One byte more than allowed tells a file that grew since stat.
    const buffer = new Uint8Array(Math.min(info.size, maxBytes) + 1);
    let filled = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, filled, buffer.byteLength - filled, null);
      if (bytesRead === 0) break;
      filled += bytesRead;
      if (filled === buffer.byteLength) {
        if (filled > maxBytes) throw new InvalidImageError(name, `it grew past the limit of ${maxBytes} bytes while being read`);
        break;
      }
    }
    return buffer.subarray(0, filled);
  } catch (error) {
    if (VitzooError.isInstance(error)) throw error;
    throw new InvalidImageError(name, `it cannot be read (${(error as Error).message})`, { cause: error });
  } finally {
    await handle.close();
  }
}

/**
 * Fetches an image URL, bounded: the whole request within `timeoutMs` (default 30 s), the body at
 * most `maxBytes` (default 512 MiB; an announced larger Content-Length is refused before reading).
 */
async function fetchImage(url: string, options: LoadImageOptions): Promise<Uint8Array> {
  const maxBytes = checkLimit(options.maxBytes ?? DEFAULT_MAX_IMAGE_BYTES, 'maxBytes');
  const timeoutMs = checkLimit(options.timeoutMs ?? DEFAULT_IMAGE_TIMEOUT_MS, 'timeoutMs', 2 ** 31 - 1);
  const fetchImplementation = options.fetch ?? globalThis.fetch;
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);
  const outer = options.signal;
  const cancel = () => controller.abort(outer?.reason);
  outer?.addEventListener('abort', cancel, { once: true });
  const failed = (error: unknown) => {
    if (VitzooError.isInstance(error)) return error;
    if (timedOut) return new DownloadError(url, `not finished within ${timeoutMs} ms (timeout; raise it with the timeoutMs option)`, undefined, { cause: error });
    return new DownloadError(url, error instanceof Error ? error.message : String(error), undefined, { cause: error });
  };
  try {
    if (outer?.aborted) throw outer.reason ?? new Error('aborted');
    let response: Response;
    try {
      response = await fetchImplementation(url, { signal: controller.signal });
    } catch (error) {
      throw failed(error);
    }
    if (!response.ok) throw new DownloadError(url, `HTTP ${response.status} ${response.statusText}`.trim(), response.status);
    const announced = Number(response.headers.get('content-length'));
    if (announced > maxBytes) {
      controller.abort();
      throw new InvalidImageError(url, `the server announces ${announced} bytes, more than the limit of ${maxBytes} bytes for an image (raise maxBytes if the source is trusted)`);
    }
    const chunks: Uint8Array[] = [];
    let received = 0;
    try {
      if (response.body) {
        for await (const chunk of response.body as unknown as AsyncIterable<Uint8Array>) {
          received += chunk.byteLength;
          if (received > maxBytes) {
            controller.abort();
            throw new InvalidImageError(url, `the body passed the limit of ${maxBytes} bytes for an image; cut off there (raise maxBytes if the source is trusted)`);
          }
          chunks.push(chunk);
        }
      }
    } catch (error) {
      throw failed(error);
    }
    return Buffer.concat(chunks, received);
  } finally {
    clearTimeout(timer);
    outer?.removeEventListener('abort', cancel);
  }
}

async function readSource(source: ImageSource, options: LoadImageOptions): Promise<{ bytes: Uint8Array; name: string }> {
  if (source instanceof Uint8Array) return { bytes: source, name: '<buffer>' };
  if (source instanceof ArrayBuffer) return { bytes: new Uint8Array(source), name: '<buffer>' };
  if (typeof source !== 'string' && !(source instanceof URL)) {
    throw new InvalidArgumentError('source', 'An image source must be a path, a URL, a Uint8Array/Buffer or an ArrayBuffer.');
  }
  if (isHttpUrl(source)) {
    const url = String(source);
    return { bytes: await fetchImage(url, options), name: url };
  }
  const path = source instanceof URL || /^file:/i.test(source) ? fileURLToPath(source) : source;
  return { bytes: await readImageBytes(path, { maxBytes: options.maxBytes }), name: path };
}

/** sharp's metadata of an image's header, checked: a supported format, not empty, within `maxPixels`. */
async function headerMetadata(bytes: Uint8Array, name: string, maxPixels: number): Promise<Metadata> {
  const sharp = await loadSharp();
  const metadata = await sharp(bytes, { ignoreIcc: true, failOn: 'warning', limitInputPixels: false }).metadata();
  if (!metadata.format || !SUPPORTED_FORMATS.has(metadata.format)) {
    throw new InvalidImageError(name, `unsupported image format '${metadata.format ?? 'unknown'}' (supported: ${SUPPORTED_NAMES})`);
  }
  const width = metadata.width ?? 0;
  const height = metadata.height ?? 0;
  if (width === 0 || height === 0) throw new InvalidImageError(name, `it is empty (${width}x${height} pixels)`);
  if (width * height > maxPixels) {
    throw new InvalidImageError(name, `it has ${width * height} pixels (${width}x${height}), more than the limit of ${maxPixels}`);
  }
  return metadata;
}

/**
 * The size of an encoded image from its header alone (nothing decoded), checked as `decodeImage`
 * checks it: a supported format, not empty, at most `maxPixels` pixels. Lets a caller budget memory
 * before decoding (a decoded image takes width x height x channels bytes).
 */
export async function readImageHeader(bytes: Uint8Array, name = '<buffer>', options: Pick<LoadImageOptions, 'maxPixels'> = {}): Promise<{ width: number; height: number; format: string }> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!(maxPixels > 0)) throw new InvalidArgumentError('maxPixels', `maxPixels must be a positive number, got ${String(maxPixels)}.`);
  if (bytes.byteLength === 0) throw new InvalidImageError(name, 'it is empty (0 bytes)');
  try {
    const metadata = await headerMetadata(bytes, name, maxPixels);
    return { width: metadata.width!, height: metadata.height!, format: metadata.format! };
  } catch (error) {
    if (VitzooError.isInstance(error)) throw error;
    throw new InvalidImageError(name, decodeFailure(error, maxPixels), { cause: error });
  }
}

/**
 * Decodes encoded image bytes. `name` is used in error messages. Returns 8-bit pixels (1 channel
 * for grayscale, 3 for RGB, 4 for RGBA and grayscale + alpha), or 16-bit `Uint16Array` pixels for
 * 16-bit images (grayscale keeps one channel, so the transform's `sixteenBit` rule applies).
 */
export async function decodeImage(bytes: Uint8Array, name = '<buffer>', options: LoadImageOptions = {}): Promise<RawImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!(maxPixels > 0)) throw new InvalidArgumentError('maxPixels', `maxPixels must be a positive number, got ${String(maxPixels)}.`);
  if (bytes.byteLength === 0) throw new InvalidImageError(name, 'it is empty (0 bytes)');
  const sharp = await loadSharp();
  const sharpOptions: SharpOptions = {
    ignoreIcc: true,
    limitInputPixels: Number.isFinite(maxPixels) ? Math.floor(maxPixels) : false,
    failOn: 'warning',
  };
  try {
    // The header alone (no pixels decoded): checked here so the limit error can give the size.
    const metadata = await headerMetadata(bytes, name, maxPixels);
    let pipeline = sharp(bytes, sharpOptions);
    if (options.applyOrientation ?? true) pipeline = pipeline.autoOrient();
    const sixteenBit = metadata.depth === 'ushort';
    if (metadata.space === 'cmyk' && !sixteenBit && metadata.channels === 4) {
      // CMYK as Pillow converts it; libvips would colour-manage it with a CMYK profile instead (up to
      // 29 levels off). Kept in CMYK through the pipeline, libvips gives exactly Pillow's CMYK values
      // (both read CMYK JPEGs as inverted, Adobe's convention, with or without the APP14 marker).
      const { data, info } = await pipeline.pipelineColourspace('cmyk').toColourspace('cmyk').raw().toBuffer({ resolveWithObject: true });
      return { data: cmykToRgb(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)), width: info.width, height: info.height, channels: 3 };
    }
    if (sixteenBit) {
      // Keep the 16-bit samples: grey16 stays one channel (PIL mode I), colour stays rgb16.
      pipeline = pipeline.toColourspace(metadata.space === 'grey16' || metadata.space === 'b-w' ? 'grey16' : 'rgb16');
    } else if (metadata.space === 'b-w' && !metadata.hasAlpha) {
      // Grayscale stays one channel (PIL mode L): a third of the memory and of the resampling work.
      pipeline = pipeline.toColourspace('b-w');
    }
    const { data, info } = await pipeline.raw({ depth: sixteenBit ? 'ushort' : 'uchar' }).toBuffer({ resolveWithObject: true });
    if (info.premultiplied) throw new InvalidImageError(name, 'the decoder returned premultiplied alpha');
    const channels = info.channels as RawImage['channels'];
    if (sixteenBit) {
      const aligned = data.byteOffset % 2 === 0 ? data : Buffer.from(data);
      const values = new Uint16Array(aligned.buffer, aligned.byteOffset, aligned.byteLength / 2);
      return { data: values, width: info.width, height: info.height, channels };
    }
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels };
  } catch (error) {
    if (VitzooError.isInstance(error)) throw error;
    throw new InvalidImageError(name, decodeFailure(error, maxPixels), { cause: error });
  }
}

/**
 * Pillow's CMYK → RGB (`Image.convert('RGB')`, Convert.c `cmyk2rgb`): with nk = 255 - K,
 * R = nk - MULDIV255(C, nk), G and B likewise from M and Y; no colour management. `cmyk` is
 * interleaved C, M, Y, K bytes; returns interleaved R, G, B.
 */
export function cmykToRgb(cmyk: Uint8Array): Uint8Array {
  const pixels = cmyk.length >> 2;
  const rgb = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    const nk = 255 - cmyk[p * 4 + 3]!;
    for (let c = 0; c < 3; c++) {
      const product = cmyk[p * 4 + c]! * nk + 128; // MULDIV255: a * b / 255, rounded as Pillow does
      rgb[p * 3 + c] = nk - (((product >> 8) + product) >> 8);
    }
  }
  return rgb;
}

/** Reads and decodes an image from a path, URL or bytes (see {@link decodeImage}). */
export async function loadImage(source: ImageSource, options: LoadImageOptions = {}): Promise<RawImage> {
  const { bytes, name } = await readSource(source, options);
  return decodeImage(bytes, name, options);
}

export interface PreprocessEachOptions extends LoadImageOptions {
  /**
   * Most decoded pixels held at once, summed over the images being decoded and preprocessed;
   * default the transform's `maxPixels` (PIL's limit, 89 478 485: about 268 MB as 8-bit RGB). An
   * image larger than the budget is decoded alone.
   */
  pixelBudget?: number;
  /** Images read and decoded at the same time, within the budget (default: the number of CPUs, at most 4). */
  concurrency?: number;
  /** Names for errors, one per source (default: the path or URL, `<buffer>` for bytes). */
  names?: readonly string[];
}

/** One source, preprocessed: its `[3, H, W]` tensor and decoded size, or the typed error that stopped it. */
export interface PreprocessedImage<D extends OutputDataType = 'float32'> {
  tensor?: Tensor<D>;
  width?: number;
  height?: number;
  error?: VitzooError;
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
 * Reads, decodes and preprocesses each source on its own, bounded in memory: an image is decoded
 * only when the pixel budget allows (its size read from the header first), turned into its
 * `[3, H, W]` tensor and released at once, so many large images never sit decoded together. A
 * source that cannot be read, decoded or transformed gets its typed error; the others go on.
 * `peakDecodedPixels`: the most decoded pixels held at once.
 */
export async function preprocessEach<D extends OutputDataType>(
  sources: readonly ImageSource[],
  transform: ImageTransform<D>,
  options: PreprocessEachOptions = {},
): Promise<{ images: PreprocessedImage<D>[]; peakDecodedPixels: number }> {
  const maxPixels = options.maxPixels ?? transform.maxPixels;
  const budget = new PixelBudget(positiveInteger(options.pixelBudget ?? maxPixels, 'pixelBudget'));
  const concurrency = positiveInteger(options.concurrency ?? Math.min(4, availableParallelism()), 'concurrency');
  const images: PreprocessedImage<D>[] = sources.map(() => ({}));
  let next = 0;
  const worker = async () => {
    for (let index = next++; index < sources.length; index = next++) {
      const entry = images[index]!;
      try {
        const source = sources[index]!;
        const named = options.names?.[index];
        const read = named !== undefined && typeof source === 'string' && !isHttpUrl(source) && !/^file:/i.test(source)
          ? { bytes: await readImageBytes(source, { name: named, maxBytes: options.maxBytes }), name: named }
          : await readSource(source, options);
        const name = named ?? read.name;
        const { width, height } = await readImageHeader(read.bytes, name, { maxPixels });
        await budget.acquire(width * height);
        try {
          const image = await decodeImage(read.bytes, name, { ...options, maxPixels });
          entry.width = image.width;
          entry.height = image.height;
          transform.geometry(image, name); // an image the transform cannot use fails here, named
          entry.tensor = transform.apply(image);
        } finally {
          budget.release(width * height);
        }
      } catch (error) {
        if (!VitzooError.isInstance(error)) throw error;
        entry.error = error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, sources.length) }, worker));
  return { images, peakDecodedPixels: budget.peak };
}

/**
 * `[3, H, W]` tensors of one size as one `[N, 3, H, W]` batch. `names` (one per tensor) name a
 * tensor of another size in the error.
 */
export function stackImageTensors<D extends OutputDataType>(tensors: readonly Tensor<D>[], names?: readonly string[]): Tensor<D> {
  if (tensors.length === 0) throw new InvalidArgumentError('images', 'No images to stack into a batch.');
  const [channels, height, width] = tensors[0]!.shape as [number, number, number];
  const plane = channels * height * width;
  const data = tensors[0]!.dtype === 'float16' ? new Uint16Array(tensors.length * plane) : new Float32Array(tensors.length * plane);
  tensors.forEach((tensor, index) => {
    if (tensor.shape[1] !== height || tensor.shape[2] !== width) {
      throw new InvalidArgumentError(
        'images',
        `${names?.[index] ?? `Image #${index}`} gives a ${tensor.shape[2]}x${tensor.shape[1]} tensor but ${names?.[0] ?? 'image #0'} gives ${width}x${height}; ` +
          'a batch needs one size: add a center crop or an exact resize to the transform.',
      );
    }
    data.set(tensor.data as Float32Array & Uint16Array, index * plane);
  });
  return createTensor(tensors[0]!.dtype, [tensors.length, channels, height, width], data as Tensor<D>['data']);
}

/**
 * Loads every source and runs `transform` on them as one batch: `[N, 3, H, W]`. Sources are
 * decoded a few at a time within a pixel budget (see `preprocessEach`); the first source that
 * fails throws its typed error.
 */
export async function preprocessImages<D extends OutputDataType>(
  sources: ImageSource | readonly ImageSource[],
  transform: ImageTransform<D>,
  options: PreprocessEachOptions = {},
): Promise<Tensor<D>> {
  const list = Array.isArray(sources) ? (sources as readonly ImageSource[]) : [sources as ImageSource];
  if (list.length === 0) throw new InvalidArgumentError('images', 'preprocessImages needs at least one image.');
  const { images } = await preprocessEach(list, transform, options);
  const failed = images.find((image) => image.error !== undefined);
  if (failed) throw failed.error!;
  return stackImageTensors(images.map((image) => image.tensor!));
}

/** Encodes 8-bit pixels (1–4 channels) as a PNG file's bytes (sharp). */
export async function encodePng(image: RawImage): Promise<Uint8Array> {
  validateRawImage(image, 'image to encode');
  if (image.data instanceof Uint16Array) throw new InvalidImageError('image to encode', 'encodePng takes 8-bit pixels; convert 16-bit images first (toRgb)');
  const sharp = await loadSharp();
  const buffer = await sharp(Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength), {
    raw: { width: image.width, height: image.height, channels: image.channels },
  })
    .png()
    .toBuffer();
  return new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
}
