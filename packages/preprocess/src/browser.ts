/**
 * @vitzoo/preprocess/browser: pixels from browser image sources, then the same PIL-exact transforms.
 *
 * Pixels are read at their natural size (an OffscreenCanvas of exactly the image's size, so the
 * browser never scales them; all resizing is ours). Blobs and <img> elements go through
 * `createImageBitmap` with `colorSpaceConversion: 'none'` (values as stored, like PIL ignoring ICC),
 * `premultiplyAlpha: 'none'` and `imageOrientation: 'from-image'` (EXIF orientation applied).
 *
 * Limits of any canvas-based reading: canvases store premultiplied alpha, so RGB under alpha 0 is
 * lost (PIL keeps it); browsers' JPEG decoders are not bit-exact with libjpeg-turbo; 16-bit images
 * arrive as 8 bits (the high byte, i.e. `sixteenBit: 'msb8'`).
 */
import { InvalidImageError, UnsupportedError, VitzooError, type Tensor } from '@vitzoo/core';
import { DEFAULT_MAX_PIXELS, type RawImage } from './raw-image.js';
import type { ImageTransform, OutputDataType } from './transform.js';

export * from './index.js';

export type BrowserImageSource =
  | HTMLImageElement
  | ImageBitmap
  | ImageData
  | HTMLCanvasElement
  | OffscreenCanvas
  | VideoFrame
  | Blob;

export interface BrowserLoadOptions {
  /** Largest accepted image in pixels; default PIL's MAX_IMAGE_PIXELS. */
  maxPixels?: number;
}

const bitmapOptions: ImageBitmapOptions = {
  colorSpaceConversion: 'none',
  premultiplyAlpha: 'none',
  imageOrientation: 'from-image',
};

function describeSource(source: BrowserImageSource): string {
  if (typeof HTMLImageElement !== 'undefined' && source instanceof HTMLImageElement) return `<img ${source.currentSrc || source.src}>`;
  if (typeof Blob !== 'undefined' && source instanceof Blob) return `<Blob ${source.type || 'without type'}>`;
  return `<${(source as object).constructor?.name ?? 'image'}>`;
}

function checkSize(width: number, height: number, name: string, maxPixels: number): void {
  if (!(width > 0 && height > 0)) throw new InvalidImageError(name, `it is empty (${width}x${height} pixels)`);
  if (width * height > maxPixels) {
    throw new InvalidImageError(name, `it has ${width * height} pixels (${width}x${height}), more than the limit of ${maxPixels}`);
  }
}

/** Draws `source` 1:1 on an OffscreenCanvas of its own size and reads back RGBA. */
function readPixels(source: CanvasImageSource, width: number, height: number, name: string): RawImage {
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext('2d', { colorSpace: 'srgb', willReadFrequently: true });
  if (!context) throw new UnsupportedError('This browser has no OffscreenCanvas 2D context; cannot read image pixels.');
  context.drawImage(source, 0, 0);
  let pixels: ImageData;
  try {
    pixels = context.getImageData(0, 0, width, height, { colorSpace: 'srgb' });
  } catch (error) {
    // A cross-origin image without CORS taints the canvas.
    throw new InvalidImageError(name, `its pixels cannot be read (${(error as Error).message}); serve it with CORS headers`, { cause: error });
  }
  return fromImageData(pixels);
}

function fromImageData(pixels: ImageData): RawImage {
  const data = pixels.data;
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: pixels.width, height: pixels.height, channels: 4 };
}

async function fromBitmapSource(source: ImageBitmapSource, name: string, maxPixels: number): Promise<RawImage> {
  let bitmap: ImageBitmap;
  try {
    bitmap = await createImageBitmap(source, bitmapOptions);
  } catch (error) {
    throw new InvalidImageError(name, `the browser cannot decode it (${(error as Error).message})`, { cause: error });
  }
  try {
    checkSize(bitmap.width, bitmap.height, name, maxPixels);
    return readPixels(bitmap, bitmap.width, bitmap.height, name);
  } finally {
    bitmap.close();
  }
}

/** RGBA from a VideoFrame: `copyTo` when its pixels are already RGB(A)-like, else via a canvas. */
async function fromVideoFrame(frame: VideoFrame, name: string, maxPixels: number): Promise<RawImage> {
  const rect = frame.visibleRect;
  const width = rect?.width ?? frame.displayWidth;
  const height = rect?.height ?? frame.displayHeight;
  checkSize(width, height, name, maxPixels);
  const format = frame.format;
  if (format === 'RGBA' || format === 'RGBX' || format === 'BGRA' || format === 'BGRX') {
    const data = new Uint8Array(width * height * 4);
    await frame.copyTo(data, { layout: [{ offset: 0, stride: width * 4 }] });
    if (format === 'BGRA' || format === 'BGRX') {
      for (let i = 0; i < data.length; i += 4) {
        const blue = data[i]!;
        data[i] = data[i + 2]!;
        data[i + 2] = blue;
      }
    }
    // RGBX/BGRX: the fourth byte is padding, not alpha; keep only RGB.
    if (format === 'RGBX' || format === 'BGRX') {
      const rgb = new Uint8Array(width * height * 3);
      for (let p = 0; p < width * height; p++) rgb.set(data.subarray(p * 4, p * 4 + 3), p * 3);
      return { data: rgb, width, height, channels: 3 };
    }
    return { data, width, height, channels: 4 };
  }
  // YUV and other formats: let the browser convert while drawing at natural size.
  return readPixels(frame, width, height, name);
}

/** Reads the pixels of a browser image source (see the module notes for what is and is not exact). */
export async function loadImage(source: BrowserImageSource, options: BrowserLoadOptions = {}): Promise<RawImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  const name = describeSource(source);
  try {
    if (typeof ImageData !== 'undefined' && source instanceof ImageData) {
      checkSize(source.width, source.height, name, maxPixels);
      return fromImageData(source);
    }
    if (typeof VideoFrame !== 'undefined' && source instanceof VideoFrame) return await fromVideoFrame(source, name, maxPixels);
    if (typeof HTMLImageElement !== 'undefined' && source instanceof HTMLImageElement) {
      if (!source.complete || source.naturalWidth === 0) await source.decode();
      checkSize(source.naturalWidth, source.naturalHeight, name, maxPixels);
      return await fromBitmapSource(source, name, maxPixels);
    }
    if (typeof Blob !== 'undefined' && source instanceof Blob) {
      if (source.size === 0) throw new InvalidImageError(name, 'it is empty (0 bytes)');
      return await fromBitmapSource(source, name, maxPixels);
    }
    if (
      (typeof ImageBitmap !== 'undefined' && source instanceof ImageBitmap) ||
      (typeof HTMLCanvasElement !== 'undefined' && source instanceof HTMLCanvasElement) ||
      (typeof OffscreenCanvas !== 'undefined' && source instanceof OffscreenCanvas)
    ) {
      checkSize(source.width, source.height, name, maxPixels);
      return readPixels(source, source.width, source.height, name);
    }
  } catch (error) {
    if (VitzooError.isInstance(error)) throw error;
    throw new InvalidImageError(name, `it cannot be read (${(error as Error).message})`, { cause: error });
  }
  throw new InvalidImageError(
    name,
    'unsupported source; pass an HTMLImageElement, ImageBitmap, ImageData, HTMLCanvasElement, OffscreenCanvas, VideoFrame or Blob',
  );
}

/** Loads every source and runs `transform` on them as one `[N, 3, H, W]` batch. */
export async function preprocessImages<D extends OutputDataType>(
  sources: BrowserImageSource | readonly BrowserImageSource[],
  transform: ImageTransform<D>,
): Promise<Tensor<D>> {
  const list = Array.isArray(sources) ? (sources as readonly BrowserImageSource[]) : [sources as BrowserImageSource];
  const images = await Promise.all(list.map((source) => loadImage(source, { maxPixels: transform.maxPixels })));
  return transform.applyBatch(images);
}
