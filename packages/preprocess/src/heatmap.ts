import { InvalidArgumentError } from '@vitzoo/core';
import { toRgb, type RawImage } from './raw-image.js';

/** Values in [0, 1] on a grid of `width × height` (row-major). */
export interface ValueMap {
  width: number;
  height: number;
  data: ArrayLike<number>;
}

export type Colormap = 'inferno' | 'gray';

/**
 * matplotlib's `inferno` at 9 evenly spaced points (0, 1/8, …, 1), interpolated linearly: dark
 * purple for 0 through red and orange to pale yellow for 1 (perceptually ordered, readable in grey).
 */
const INFERNO: readonly (readonly [number, number, number])[] = [
  [0, 0, 4],
  [31, 12, 72],
  [85, 15, 109],
  [136, 34, 106],
  [186, 54, 85],
  [227, 89, 51],
  [249, 140, 10],
  [249, 201, 50],
  [252, 255, 164],
];

/** The RGB colour of `value` (clamped to [0, 1]) in a colormap. */
export function colorize(value: number, colormap: Colormap = 'inferno'): [number, number, number] {
  const v = Number.isNaN(value) ? 0 : Math.min(Math.max(value, 0), 1);
  if (colormap === 'gray') {
    const level = Math.round(v * 255);
    return [level, level, level];
  }
  const position = v * (INFERNO.length - 1);
  const low = Math.min(Math.floor(position), INFERNO.length - 2);
  const t = position - low;
  const [a, b] = [INFERNO[low]!, INFERNO[low + 1]!];
  return [Math.round(a[0] + (b[0] - a[0]) * t), Math.round(a[1] + (b[1] - a[1]) * t), Math.round(a[2] + (b[2] - a[2]) * t)];
}

/**
 * The image (as RGB) with a colour-mapped heat map blended over it: each pixel is
 * `(1 - opacity) · image + opacity · colour(heat)`, rounded. The heat map must have the image's
 * width and height (heat maps from `Model.explain` do).
 */
export function overlayHeatmap(image: RawImage, heat: ValueMap, options: { opacity?: number; colormap?: Colormap } = {}): RawImage {
  const opacity = options.opacity ?? 0.5;
  if (!(opacity >= 0 && opacity <= 1)) throw new InvalidArgumentError('opacity', `opacity must be between 0 and 1, got ${opacity}.`);
  if (heat.width !== image.width || heat.height !== image.height) {
    throw new InvalidArgumentError('heat', `The heat map is ${heat.width}×${heat.height}; the image is ${image.width}×${image.height}.`);
  }
  // 16-bit images are shown by their high byte (what a viewer shows), not PIL's clamp.
  const rgb = toRgb(image, { sixteenBit: 'msb8' }).data;
  const out = new Uint8Array(image.width * image.height * 3);
  for (let p = 0; p < image.width * image.height; p++) {
    const colour = colorize(heat.data[p]!, options.colormap);
    for (let c = 0; c < 3; c++) out[p * 3 + c] = Math.round((1 - opacity) * rgb[p * 3 + c]! + opacity * colour[c]!);
  }
  return { data: out, width: image.width, height: image.height, channels: 3 };
}
