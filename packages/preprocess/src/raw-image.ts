import { InvalidImageError } from '@vitzoo/core';

/**
 * Decoded pixels, interleaved and row-major: `data[(y * width + x) * channels + c]`.
 *
 * | channels | meaning (PIL mode) |
 * |---|---|
 * | 1 | grayscale (`L`) |
 * | 2 | grayscale + alpha (`LA`) |
 * | 3 | RGB |
 * | 4 | RGBA (alpha is dropped, never premultiplied or composited) |
 *
 * `data` is a `Uint8Array` (or `Uint8ClampedArray`) of 8-bit values, or a `Uint16Array` of
 * 16-bit values (e.g. a 16-bit PNG). How 16-bit samples become 8-bit is chosen by
 * {@link SixteenBitMode}: see {@link toEightBit}.
 */
export interface RawImage {
  data: Uint8Array | Uint8ClampedArray | Uint16Array;
  width: number;
  height: number;
  channels: 1 | 2 | 3 | 4;
}

/**
 * How 16-bit grayscale becomes 8-bit:
 * - `'clamp'` (default): what Pillow 9.4 does, hence what a timm / torchvision / Hugging Face
 *   pipeline feeds its model. Pillow opens a 16-bit grayscale PNG as 32-bit integer mode `I`, and
 *   `convert('RGB')` clamps each value to 0..255 (it does not rescale), so most pixels of a
 *   full-range image become 255.
 * - `'msb8'`: value >> 8 (the high byte), what most other decoders (libvips/sharp, browsers, pngjs)
 *   produce, and the visually sensible choice.
 *
 * 16-bit colour (RGB / RGBA) and 16-bit grayscale + alpha always keep the high byte: Pillow 9.4
 * unpacks those to 8 bits per channel that way.
 */
export type SixteenBitMode = 'clamp' | 'msb8';

/** PIL's `Image.MAX_IMAGE_PIXELS` (int(1024 * 1024 * 1024 // 4 // 3)). */
export const DEFAULT_MAX_PIXELS = 89_478_485;

/** An 8-bit image reduced to the two layouts the resampler works on: L (1 channel) or RGB (3). */
export interface EightBitImage {
  data: Uint8Array | Uint8ClampedArray;
  width: number;
  height: number;
  channels: 1 | 3;
}

/**
 * Checks that `image` is a well-formed {@link RawImage} no larger than `maxPixels`; throws
 * `InvalidImageError` naming `input` otherwise.
 */
export function validateRawImage(image: RawImage, input: string, maxPixels: number = DEFAULT_MAX_PIXELS): void {
  const fail = (reason: string): never => {
    throw new InvalidImageError(input, reason);
  };
  if (typeof image !== 'object' || image === null) fail('expected a RawImage { data, width, height, channels }');
  const { data, width, height, channels } = image;
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width < 0 || height < 0) {
    fail(`width and height must be non-negative integers, got ${String(width)}x${String(height)}`);
  }
  if (width === 0 || height === 0) fail(`it is empty (${width}x${height} pixels)`);
  if (channels !== 1 && channels !== 2 && channels !== 3 && channels !== 4) {
    fail(`channels must be 1, 2, 3 or 4, got ${String(channels)}`);
  }
  if (!(data instanceof Uint8Array || data instanceof Uint8ClampedArray || data instanceof Uint16Array)) {
    fail('data must be a Uint8Array, Uint8ClampedArray or Uint16Array');
  }
  if (width * height > maxPixels) {
    fail(
      `it has ${width * height} pixels (${width}x${height}), more than the limit of ${maxPixels} ` +
        `(raise the maxPixels option if the image is trusted)`,
    );
  }
  const expected = width * height * channels;
  if (data.length !== expected) {
    fail(`data holds ${data.length} values; ${width}x${height} with ${channels} channel(s) needs ${expected}`);
  }
}

/**
 * Converts a (validated) image the way PIL's `convert('RGB')` sees it, but keeps grayscale as one
 * channel: L -> L, LA -> L (alpha dropped), RGB -> RGB, RGBA -> RGB (alpha dropped, not
 * premultiplied). Resampling a grayscale image and then replicating it to RGB gives exactly PIL's
 * `convert('RGB')`-then-resize values, at a third of the cost.
 */
export function toEightBit(image: RawImage, sixteenBit: SixteenBitMode = 'clamp'): EightBitImage {
  const { data, width, height, channels } = image;
  const pixels = width * height;
  if (data instanceof Uint16Array) {
    const keep = channels === 2 ? 1 : channels === 4 ? 3 : channels;
    const out = new Uint8Array(pixels * keep);
    const clamp = sixteenBit === 'clamp' && channels === 1;
    for (let p = 0; p < pixels; p++) {
      for (let c = 0; c < keep; c++) {
        const value = data[p * channels + c]!;
        out[p * keep + c] = clamp ? (value > 255 ? 255 : value) : value >> 8;
      }
    }
    return { data: out, width, height, channels: keep as 1 | 3 };
  }
  if (channels === 1 || channels === 3) return { data, width, height, channels };
  const keep = channels === 2 ? 1 : 3;
  const out = new Uint8Array(pixels * keep);
  if (keep === 1) {
    for (let p = 0; p < pixels; p++) out[p] = data[p * 2]!;
  } else {
    for (let p = 0, i = 0, o = 0; p < pixels; p++, i += 4, o += 3) {
      out[o] = data[i]!;
      out[o + 1] = data[i + 1]!;
      out[o + 2] = data[i + 2]!;
    }
  }
  return { data: out, width, height, channels: keep };
}

/** PIL `convert('RGB')`: an interleaved RGB `RawImage` (3 channels, 8-bit). */
export function toRgb(image: RawImage, options: { sixteenBit?: SixteenBitMode; maxPixels?: number } = {}): RawImage {
  validateRawImage(image, 'RawImage', options.maxPixels);
  const eightBit = toEightBit(image, options.sixteenBit);
  if (eightBit.channels === 3) {
    // Always a fresh Uint8Array, never the caller's buffer.
    return { data: Uint8Array.from(eightBit.data), width: image.width, height: image.height, channels: 3 };
  }
  const pixels = image.width * image.height;
  const out = new Uint8Array(pixels * 3);
  for (let p = 0; p < pixels; p++) {
    const value = eightBit.data[p]!;
    out[p * 3] = value;
    out[p * 3 + 1] = value;
    out[p * 3 + 2] = value;
  }
  return { data: out, width: image.width, height: image.height, channels: 3 };
}
