/**
 * @vitzoo/preprocess/node: image decoding for Node with sharp (libvips), matching what
 * `PIL.Image.open(...)` + `ImageOps.exif_transpose` + `.convert('RGB')` feeds a timm or Hugging Face
 * pipeline: EXIF orientation applied, embedded ICC profiles ignored (values as stored), alpha kept
 * apart (never premultiplied), 16-bit samples kept for the transform's `sixteenBit` rule.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { DownloadError, FileNotFoundError, InvalidArgumentError, InvalidImageError, UnsupportedError, VitzooError, type Tensor } from '@vitzoo/core';
import type { SharpOptions } from 'sharp';
import { DEFAULT_MAX_PIXELS, validateRawImage, type RawImage } from './raw-image.js';
import type { ImageTransform, OutputDataType } from './transform.js';

export * from './index.js';

/** A file path, an `http(s):` or `file:` URL (string or URL), or the encoded bytes. */
export type ImageSource = string | URL | Uint8Array | ArrayBuffer;

export interface LoadImageOptions {
  /** Largest accepted image in pixels (checked before decoding); default PIL's MAX_IMAGE_PIXELS. */
  maxPixels?: number;
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

async function readSource(source: ImageSource, options: LoadImageOptions): Promise<{ bytes: Uint8Array; name: string }> {
  if (source instanceof Uint8Array) return { bytes: source, name: '<buffer>' };
  if (source instanceof ArrayBuffer) return { bytes: new Uint8Array(source), name: '<buffer>' };
  if (typeof source !== 'string' && !(source instanceof URL)) {
    throw new InvalidArgumentError('source', 'An image source must be a path, a URL, a Uint8Array/Buffer or an ArrayBuffer.');
  }
  if (isHttpUrl(source)) {
    const url = String(source);
    const fetchImplementation = options.fetch ?? globalThis.fetch;
    let response: Response;
    try {
      response = await fetchImplementation(url, options.signal ? { signal: options.signal } : {});
    } catch (error) {
      if (VitzooError.isInstance(error)) throw error;
      throw new DownloadError(url, error instanceof Error ? error.message : String(error), undefined, { cause: error });
    }
    if (!response.ok) throw new DownloadError(url, `HTTP ${response.status} ${response.statusText}`.trim(), response.status);
    return { bytes: new Uint8Array(await response.arrayBuffer()), name: url };
  }
  const path = source instanceof URL || /^file:/i.test(source) ? fileURLToPath(source) : source;
  try {
    return { bytes: new Uint8Array(await readFile(path)), name: path };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new FileNotFoundError(path, 'Image file');
    if (code === 'EISDIR') throw new InvalidImageError(path, 'it is a directory, not an image file');
    throw new InvalidImageError(path, `it cannot be read (${(error as Error).message})`, { cause: error });
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
    const metadata = await sharp(bytes, { ...sharpOptions, limitInputPixels: false }).metadata();
    if (!metadata.format || !SUPPORTED_FORMATS.has(metadata.format)) {
      throw new InvalidImageError(name, `unsupported image format '${metadata.format ?? 'unknown'}' (supported: ${SUPPORTED_NAMES})`);
    }
    const width = metadata.width ?? 0;
    const height = metadata.height ?? 0;
    if (width === 0 || height === 0) throw new InvalidImageError(name, `it is empty (${width}x${height} pixels)`);
    if (width * height > maxPixels) {
      throw new InvalidImageError(name, `it has ${width * height} pixels (${width}x${height}), more than the limit of ${maxPixels}`);
    }
    let pipeline = sharp(bytes, sharpOptions);
    if (options.applyOrientation ?? true) pipeline = pipeline.autoOrient();
    const sixteenBit = metadata.depth === 'ushort';
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

/** Reads and decodes an image from a path, URL or bytes (see {@link decodeImage}). */
export async function loadImage(source: ImageSource, options: LoadImageOptions = {}): Promise<RawImage> {
  const { bytes, name } = await readSource(source, options);
  return decodeImage(bytes, name, options);
}

/**
 * Loads every source and runs `transform` on them as one batch: `[N, 3, H, W]`. Sources are
 * decoded concurrently.
 */
export async function preprocessImages<D extends OutputDataType>(
  sources: ImageSource | readonly ImageSource[],
  transform: ImageTransform<D>,
  options: LoadImageOptions = {},
): Promise<Tensor<D>> {
  const list = Array.isArray(sources) ? (sources as readonly ImageSource[]) : [sources as ImageSource];
  const images = await Promise.all(list.map((source) => loadImage(source, { maxPixels: transform.maxPixels, ...options })));
  return transform.applyBatch(images);
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
