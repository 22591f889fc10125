import {
  createTensor,
  float32ToFloat16,
  InvalidArgumentError,
  InvalidImageError,
  type Interpolation,
  type Tensor,
} from '@vitzoo/core';
import { centerCropOffset, keepRatioSize, shortestEdgeSize, type CropRounding, type Size } from './geometry.js';
import { DEFAULT_MAX_PIXELS, toEightBit, validateRawImage, type RawImage, type SixteenBitMode } from './raw-image.js';
import { INTERPOLATIONS, resamplePixels, type Region } from './resample.js';

/** Resize rules, each reproducing its library on the pixel level (PIL resampling). */
export type ResizeStep =
  /** torchvision `Resize(size: int)`, Hugging Face `{shortest_edge}`: shorter side -> `size`. */
  | { mode: 'shortest-edge'; size: number; interpolation: Interpolation }
  /** PIL `resize((width, height))`: aspect ratio not kept. */
  | { mode: 'exact'; width: number; height: number; interpolation: Interpolation }
  /** timm `ResizeKeepRatio((height, width), longest)`: see `keepRatioSize`. */
  | { mode: 'keep-ratio'; width: number; height: number; longest: number; interpolation: Interpolation };

/** A centred crop to `width` x `height`; an image smaller than that is padded with `fill`. */
export interface CropStep {
  width: number;
  height: number;
  rounding: CropRounding;
  /** 8-bit RGB padding colour (default black). timm's `crop_mode='border'` uses round(255 * mean). */
  fill?: readonly [number, number, number];
}

/**
 * Scaling of the 8-bit values: `'divide'` is torchvision `ToTensor` (float32 `u8 / 255`);
 * `'multiply'` is Hugging Face `rescale` (`float32(float64(u8) * factor)`). Omit it to keep 0..255.
 */
export type RescaleStep = { mode: 'divide'; divisor: number } | { mode: 'multiply'; factor: number };

export interface NormalizeStep {
  mean: readonly [number, number, number];
  std: readonly [number, number, number];
}

/** An explicit preprocessing pipeline: resize, center crop (or pad), rescale, normalize, in that order. */
export interface TransformSteps {
  resize?: ResizeStep;
  crop?: CropStep;
  rescale?: RescaleStep;
  normalize?: NormalizeStep;
}

export type OutputDataType = 'float32' | 'float16';

export interface TransformOptions<D extends OutputDataType = 'float32'> {
  /** Output element type (default float32). `'float16'` gives IEEE half bits in a Uint16Array. */
  dtype?: D;
  /** How 16-bit grayscale input becomes 8-bit (default `'clamp'`, Pillow 9.4's behaviour). */
  sixteenBit?: SixteenBitMode;
  /** Largest accepted input (and uncropped output) in pixels; default PIL's MAX_IMAGE_PIXELS. */
  maxPixels?: number;
}

/** Where an image of a given size goes: its resized size and the crop window in resized coordinates. */
export interface TransformGeometry {
  resized: Size;
  /** Crop window in the resized image; may reach outside it (padded). */
  crop: Region;
}

/**
 * A preprocessing transform: 8-bit image in, `[3, H, W]` (or batched `[N, 3, H, W]`) NCHW tensor out,
 * channel order R, G, B.
 */
export class ImageTransform<D extends OutputDataType = 'float32'> {
  readonly steps: Readonly<TransformSteps>;
  readonly dtype: D;
  readonly sixteenBit: SixteenBitMode;
  readonly maxPixels: number;
  /** Output height and width when every image gives the same size (a crop or an exact resize). */
  readonly outputSize: Size | undefined;
  /** Per channel: 256-entry table of the output value of each 8-bit input value. */
  private readonly tables: readonly [Float32Array, Float32Array, Float32Array];
  private readonly halfTables: readonly [Uint16Array, Uint16Array, Uint16Array] | undefined;

  constructor(steps: TransformSteps, options: TransformOptions<D> = {}) {
    this.steps = validateSteps(steps);
    this.dtype = (options.dtype ?? 'float32') as D;
    if (this.dtype !== 'float32' && this.dtype !== 'float16') {
      throw new InvalidArgumentError('dtype', `dtype must be 'float32' or 'float16', got ${JSON.stringify(this.dtype)}.`);
    }
    this.sixteenBit = options.sixteenBit ?? 'clamp';
    if (this.sixteenBit !== 'clamp' && this.sixteenBit !== 'msb8') {
      throw new InvalidArgumentError('sixteenBit', `sixteenBit must be 'clamp' or 'msb8', got ${JSON.stringify(this.sixteenBit)}.`);
    }
    this.maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
    if (!(this.maxPixels > 0)) {
      throw new InvalidArgumentError('maxPixels', `maxPixels must be a positive number, got ${String(this.maxPixels)}.`);
    }
    const { crop, resize } = this.steps;
    this.outputSize = crop
      ? { width: crop.width, height: crop.height }
      : resize?.mode === 'exact'
        ? { width: resize.width, height: resize.height }
        : undefined;
    this.tables = [0, 1, 2].map((channel) => valueTable(this.steps, channel)) as unknown as [
      Float32Array,
      Float32Array,
      Float32Array,
    ];
    this.halfTables =
      this.dtype === 'float16'
        ? (this.tables.map((table) => Uint16Array.from(table, (value) => float32ToFloat16(value))) as unknown as [
            Uint16Array,
            Uint16Array,
            Uint16Array,
          ])
        : undefined;
  }

  /** The resized size and crop window this transform uses for an image of `size`. */
  geometry(size: Size, input = 'image'): TransformGeometry {
    const { resize, crop } = this.steps;
    let resized: Size = { width: size.width, height: size.height };
    if (resize) {
      if (resize.mode === 'shortest-edge') resized = shortestEdgeSize(size, resize.size);
      else if (resize.mode === 'exact') resized = { width: resize.width, height: resize.height };
      else resized = keepRatioSize(size, resize, resize.longest);
      if (!(resized.width >= 1 && resized.height >= 1)) {
        throw new InvalidImageError(
          input,
          `resizing ${size.width}x${size.height} gives ${resized.width}x${resized.height}; the image is too thin for this transform`,
        );
      }
    }
    const window: Region = crop
      ? {
          top: centerCropOffset(resized.height, crop.height, crop.rounding),
          left: centerCropOffset(resized.width, crop.width, crop.rounding),
          width: crop.width,
          height: crop.height,
        }
      : { top: 0, left: 0, width: resized.width, height: resized.height };
    if (window.width * window.height > this.maxPixels) {
      throw new InvalidImageError(
        input,
        `the transform would output ${window.width}x${window.height} pixels, more than the limit of ${this.maxPixels}`,
      );
    }
    return { resized, crop: window };
  }

  /** Preprocesses one image into a `[3, H, W]` tensor. */
  apply(image: RawImage): Tensor<D> {
    const { height, width } = this.geometry(this.checked(image, 'image'), 'image').crop;
    const data = this.allocate(3 * height * width);
    this.write(image, 'image', data, 0);
    return createTensor(this.dtype, [3, height, width], data as Tensor<D>['data']);
  }

  /**
   * Preprocesses images of any sizes into one `[N, 3, H, W]` tensor. Every image must come out at
   * the same size: true whenever the transform crops or resizes to an exact size.
   */
  applyBatch(images: readonly RawImage[]): Tensor<D> {
    if (!Array.isArray(images) || images.length === 0) {
      throw new InvalidArgumentError('images', 'applyBatch needs a non-empty array of images.');
    }
    const windows = images.map((image, index) => this.geometry(this.checked(image, `image #${index}`), `image #${index}`).crop);
    const { width, height } = windows[0]!;
    windows.forEach((window, index) => {
      if (window.width !== width || window.height !== height) {
        throw new InvalidArgumentError(
          'images',
          `Image #${index} gives a ${window.width}x${window.height} tensor but image #0 gives ${width}x${height}; ` +
            `a batch needs one size: add a center crop or an exact resize to the transform.`,
        );
      }
    });
    const plane = 3 * height * width;
    const data = this.allocate(images.length * plane);
    images.forEach((image, index) => this.write(image, `image #${index}`, data, index * plane));
    return createTensor(this.dtype, [images.length, 3, height, width], data as Tensor<D>['data']);
  }

  private checked(image: RawImage, input: string): Size {
    validateRawImage(image, input, this.maxPixels);
    return { width: image.width, height: image.height };
  }

  private allocate(length: number): Float32Array | Uint16Array {
    return this.dtype === 'float16' ? new Uint16Array(length) : new Float32Array(length);
  }

  /** Resizes only the part of the image the crop keeps, then writes the tensor values at `offset`. */
  private write(image: RawImage, input: string, out: Float32Array | Uint16Array, offset: number): void {
    const source = toEightBit(image, this.sixteenBit);
    const { resized, crop } = this.geometry(source, input);
    // The part of the crop window inside the resized image; the rest is padding.
    const top = Math.max(crop.top, 0);
    const left = Math.max(crop.left, 0);
    const region: Region = {
      top,
      left,
      height: Math.max(Math.min(crop.top + crop.height, resized.height) - top, 0),
      width: Math.max(Math.min(crop.left + crop.width, resized.width) - left, 0),
    };
    const interpolation = this.steps.resize?.interpolation ?? 'nearest';
    const pixels =
      region.width > 0 && region.height > 0
        ? resamplePixels(source, resized.width, resized.height, interpolation, region)
        : new Uint8ClampedArray(0);
    const channels = source.channels;
    const fill = this.steps.crop?.fill ?? [0, 0, 0];
    const planeSize = crop.width * crop.height;
    const rowOffset = region.top - crop.top;
    const columnOffset = region.left - crop.left;
    const tables = this.halfTables ?? this.tables;
    for (let channel = 0; channel < 3; channel++) {
      const table = tables[channel]!;
      const planeBase = offset + channel * planeSize;
      const sourceChannel = channels === 1 ? 0 : channel;
      const padding = table[fill[channel]!]!;
      for (let y = 0; y < crop.height; y++) {
        const rowBase = planeBase + y * crop.width;
        const regionRow = y - rowOffset;
        if (regionRow < 0 || regionRow >= region.height) {
          out.fill(padding, rowBase, rowBase + crop.width);
          continue;
        }
        if (columnOffset > 0) out.fill(padding, rowBase, rowBase + columnOffset);
        let i = regionRow * region.width * channels + sourceChannel;
        const begin = rowBase + columnOffset;
        const end = begin + region.width;
        for (let o = begin; o < end; o++) {
          out[o] = table[pixels[i]!]!;
          i += channels;
        }
        if (end < rowBase + crop.width) out.fill(padding, end, rowBase + crop.width);
      }
    }
  }
}

/** A transform from explicit steps (resize, crop, rescale, normalize). */
export function createStepsTransform<D extends OutputDataType = 'float32'>(
  steps: TransformSteps,
  options: TransformOptions<D> = {},
): ImageTransform<D> {
  return new ImageTransform(steps, options);
}

/** The output value of every 8-bit input value for one channel (rescale, then normalize, in float32). */
function valueTable(steps: TransformSteps, channel: number): Float32Array {
  const table = new Float32Array(256);
  const { rescale, normalize } = steps;
  const mean = normalize ? Math.fround(normalize.mean[channel]!) : 0;
  const std = normalize ? Math.fround(normalize.std[channel]!) : 1;
  for (let value = 0; value < 256; value++) {
    let x = value;
    // Float64 arithmetic rounded to float32 after each operation equals float32 arithmetic for
    // + - * / (float64 has more than twice float32's precision), so these are float32 results.
    if (rescale?.mode === 'divide') x = Math.fround(value / rescale.divisor);
    else if (rescale?.mode === 'multiply') x = Math.fround(value * rescale.factor);
    if (normalize) x = Math.fround(Math.fround(x - mean) / std);
    table[value] = x;
  }
  return table;
}

function positiveInteger(value: unknown, name: string): void {
  if (!Number.isSafeInteger(value) || (value as number) < 1) {
    throw new InvalidArgumentError(name, `${name} must be a positive integer, got ${JSON.stringify(value)}.`);
  }
}

function triple(value: unknown, name: string, check: (x: number) => boolean, expected: string): void {
  if (!Array.isArray(value) || value.length !== 3 || !value.every((x) => typeof x === 'number' && check(x))) {
    throw new InvalidArgumentError(name, `${name} must be ${expected}, got ${JSON.stringify(value)}.`);
  }
}

export function checkInterpolation(value: unknown, name = 'interpolation'): Interpolation {
  if (!INTERPOLATIONS.includes(value as Interpolation)) {
    throw new InvalidArgumentError(name, `${name} must be one of ${INTERPOLATIONS.join(', ')}; got ${JSON.stringify(value)}.`);
  }
  return value as Interpolation;
}

function validateSteps(steps: TransformSteps): TransformSteps {
  if (typeof steps !== 'object' || steps === null) {
    throw new InvalidArgumentError('steps', 'Transform steps must be an object { resize?, crop?, rescale?, normalize? }.');
  }
  const { resize, crop, rescale, normalize } = steps;
  if (resize) {
    checkInterpolation(resize.interpolation, 'resize.interpolation');
    if (resize.mode === 'shortest-edge') positiveInteger(resize.size, 'resize.size');
    else if (resize.mode === 'exact' || resize.mode === 'keep-ratio') {
      positiveInteger(resize.width, 'resize.width');
      positiveInteger(resize.height, 'resize.height');
      if (resize.mode === 'keep-ratio' && !(resize.longest >= 0 && resize.longest <= 1)) {
        throw new InvalidArgumentError('resize.longest', `resize.longest must be in [0, 1], got ${String(resize.longest)}.`);
      }
    } else {
      throw new InvalidArgumentError(
        'resize.mode',
        `resize.mode must be 'shortest-edge', 'exact' or 'keep-ratio', got ${JSON.stringify((resize as { mode: unknown }).mode)}.`,
      );
    }
  }
  if (crop) {
    positiveInteger(crop.width, 'crop.width');
    positiveInteger(crop.height, 'crop.height');
    if (crop.rounding !== 'round-half-even' && crop.rounding !== 'floor') {
      throw new InvalidArgumentError('crop.rounding', `crop.rounding must be 'round-half-even' or 'floor', got ${JSON.stringify(crop.rounding)}.`);
    }
    if (crop.fill !== undefined) {
      triple(crop.fill, 'crop.fill', (x) => Number.isInteger(x) && x >= 0 && x <= 255, 'three integers in 0..255');
    }
  }
  if (rescale) {
    const factor = rescale.mode === 'divide' ? rescale.divisor : rescale.mode === 'multiply' ? rescale.factor : Number.NaN;
    if (!(Number.isFinite(factor) && factor !== 0)) {
      throw new InvalidArgumentError('rescale', `rescale must be { mode: 'divide', divisor } or { mode: 'multiply', factor } with a finite non-zero number, got ${JSON.stringify(rescale)}.`);
    }
  }
  if (normalize) {
    triple(normalize.mean, 'normalize.mean', Number.isFinite, 'three finite numbers');
    triple(normalize.std, 'normalize.std', (x) => Number.isFinite(x) && x !== 0, 'three finite non-zero numbers');
  }
  return { ...steps };
}
