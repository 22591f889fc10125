import { InvalidConfigError, type Interpolation } from '@vitzoo/core';
import { ImageTransform, type OutputDataType, type ResizeStep, type TransformOptions, type TransformSteps } from './transform.js';

/** PIL's resampling filter numbers, as Hugging Face `resample` stores them. */
export const PIL_RESAMPLE: Readonly<Record<number, Interpolation>> = {
  0: 'nearest',
  1: 'lanczos',
  2: 'bilinear',
  3: 'bicubic',
  4: 'box',
  5: 'hamming',
};

/** Hugging Face's IMAGENET_STANDARD_MEAN / STD (ViTImageProcessor's defaults). */
export const IMAGENET_STANDARD_MEAN = [0.5, 0.5, 0.5] as const;
export const IMAGENET_STANDARD_STD = [0.5, 0.5, 0.5] as const;

type SizeField = number | { height?: number; width?: number; shortest_edge?: number; longest_edge?: number };

/**
 * The fields of a Hugging Face `preprocessor_config.json` this reads (snake_case, as stored).
 * Other fields (`image_processor_type`, `do_convert_rgb`, ...) are ignored; fields that change the
 * geometry in ways not implemented here (`crop_pct`, `longest_edge`, `do_pad`) are refused.
 */
export interface HuggingFaceProcessorConfig {
  do_resize?: boolean;
  /** `{height, width}` (exact resize), `{shortest_edge}` or one number (a square, ViT's reading). */
  size?: SizeField;
  /** PIL filter number: 0 nearest, 1 lanczos, 2 bilinear (default), 3 bicubic, 4 box, 5 hamming. */
  resample?: number;
  /** Default: true when `crop_size` is given. */
  do_center_crop?: boolean;
  crop_size?: SizeField;
  do_rescale?: boolean;
  /** Default 1/255. */
  rescale_factor?: number;
  do_normalize?: boolean;
  /** Default 0.5 each (ViTImageProcessor). */
  image_mean?: number | readonly number[];
  image_std?: number | readonly number[];
  [other: string]: unknown;
}

const CONTEXT = 'Hugging Face preprocessor config';

function positive(name: string, value: unknown): number {
  if (!Number.isSafeInteger(value) || (value as number) < 1) {
    throw new InvalidConfigError(name, value, 'a positive integer', CONTEXT);
  }
  return value as number;
}

function boolean(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined || value === null) return fallback;
  if (typeof value !== 'boolean') throw new InvalidConfigError(name, value, 'true or false', CONTEXT);
  return value;
}

function perChannel(name: string, value: unknown, fallback: readonly number[], nonZero: boolean): [number, number, number] {
  const raw = value ?? fallback;
  const list = typeof raw === 'number' ? [raw, raw, raw] : raw;
  if (!Array.isArray(list) || list.length !== 3 || !list.every((x) => Number.isFinite(x) && (!nonZero || x !== 0))) {
    throw new InvalidConfigError(name, value, `one number or three${nonZero ? ' non-zero' : ''} numbers`, CONTEXT);
  }
  return [list[0], list[1], list[2]];
}

/**
 * The steps of a Hugging Face PIL-based ("slow") image processor: resize (PIL, `reducing_gap=None`),
 * center crop (offsets `(size - crop) // 2`, zero padding when the image is smaller), rescale
 * (float64 multiply, cast to float32), normalize (float32).
 */
export function huggingFaceTransformSteps(config: HuggingFaceProcessorConfig): TransformSteps {
  if (typeof config !== 'object' || config === null) {
    throw new InvalidConfigError('config', config, 'the object of a preprocessor_config.json', CONTEXT);
  }
  for (const field of ['crop_pct', 'do_pad'] as const) {
    if (config[field] !== undefined && config[field] !== null && config[field] !== false) {
      throw new InvalidConfigError(field, config[field], 'absent (this processor option is not supported)', CONTEXT);
    }
  }
  const steps: TransformSteps = {};
  if (boolean('do_resize', config.do_resize, true)) {
    const resample = config.resample ?? 2;
    const interpolation = PIL_RESAMPLE[resample as number];
    if (interpolation === undefined) {
      throw new InvalidConfigError('resample', config.resample, 'a PIL filter number 0..5', CONTEXT);
    }
    steps.resize = resizeStep(config.size ?? { height: 224, width: 224 }, interpolation);
  }
  if (boolean('do_center_crop', config.do_center_crop, config.crop_size !== undefined)) {
    const crop = squareOrSize('crop_size', config.crop_size ?? { height: 224, width: 224 });
    steps.crop = { ...crop, rounding: 'floor' };
  }
  if (boolean('do_rescale', config.do_rescale, true)) {
    const factor = config.rescale_factor ?? 1 / 255;
    if (!(typeof factor === 'number' && Number.isFinite(factor) && factor !== 0)) {
      throw new InvalidConfigError('rescale_factor', config.rescale_factor, 'a finite non-zero number', CONTEXT);
    }
    steps.rescale = { mode: 'multiply', factor };
  }
  if (boolean('do_normalize', config.do_normalize, true)) {
    steps.normalize = {
      mean: perChannel('image_mean', config.image_mean, IMAGENET_STANDARD_MEAN, false),
      std: perChannel('image_std', config.image_std, IMAGENET_STANDARD_STD, true),
    };
  }
  return steps;
}

function squareOrSize(name: string, value: SizeField): { height: number; width: number } {
  if (typeof value === 'number') return { height: positive(name, value), width: value };
  if (typeof value === 'object' && value !== null && value.height !== undefined && value.width !== undefined) {
    return { height: positive(`${name}.height`, value.height), width: positive(`${name}.width`, value.width) };
  }
  throw new InvalidConfigError(name, value, '{ "height": h, "width": w } or one integer', CONTEXT);
}

function resizeStep(size: SizeField, interpolation: Interpolation): ResizeStep {
  if (typeof size === 'object' && size !== null && size.longest_edge !== undefined) {
    throw new InvalidConfigError('size.longest_edge', size.longest_edge, 'absent (longest_edge resizing is not supported)', CONTEXT);
  }
  if (typeof size === 'object' && size !== null && size.shortest_edge !== undefined) {
    return { mode: 'shortest-edge', size: positive('size.shortest_edge', size.shortest_edge), interpolation };
  }
  return { mode: 'exact', ...squareOrSize('size', size), interpolation };
}

/**
 * A Hugging Face image processor (PIL-based, e.g. `ViTImageProcessor`, `DeiTImageProcessor`,
 * `BeitImageProcessor`) from its `preprocessor_config.json` object. Matches transformers' slow
 * processors bit for bit (up to float rounding); the "fast" torchvision-tensor processors resize
 * differently and do not.
 */
export function createHuggingFaceTransform<D extends OutputDataType = 'float32'>(
  config: HuggingFaceProcessorConfig,
  options: TransformOptions<D> = {},
): ImageTransform<D> {
  return new ImageTransform(huggingFaceTransformSteps(config), options);
}
