import { InvalidArgumentError, type Interpolation } from '@vitzoo/core';
import { DEFAULT_MAX_PIXELS, toEightBit, validateRawImage, type RawImage, type SixteenBitMode } from './raw-image.js';
import { resamplePixels } from './resample.js';
import { checkInterpolation } from './transform.js';

/**
 * PIL `Image.resize((width, height), filter)` on the image as `convert('RGB')` (or `'L'`) sees it:
 * RGB and RGBA give RGB, grayscale and grayscale + alpha give 1-channel grayscale (alpha dropped,
 * never resampled or premultiplied). Values equal Pillow 9.4's bit for bit.
 */
export function resize(
  image: RawImage,
  size: { width: number; height: number },
  interpolation: Interpolation = 'bicubic',
  options: { sixteenBit?: SixteenBitMode; maxPixels?: number } = {},
): RawImage {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  validateRawImage(image, 'image', maxPixels);
  checkInterpolation(interpolation);
  const { width, height } = size;
  if (!Number.isSafeInteger(width) || !Number.isSafeInteger(height) || width < 1 || height < 1 || width * height > maxPixels) {
    throw new InvalidArgumentError(
      'size',
      `Resize target must be positive integers of at most ${maxPixels} pixels, got ${String(width)}x${String(height)}.`,
    );
  }
  const source = toEightBit(image, options.sixteenBit);
  const pixels = resamplePixels(source, width, height, interpolation);
  return { data: new Uint8Array(pixels.buffer, pixels.byteOffset, pixels.length), width, height, channels: source.channels };
}
