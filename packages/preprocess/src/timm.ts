import { InvalidConfigError, type CropMode, type Interpolation, type PretrainedConfig } from '@vitzoo/core';
import { roundHalfEven } from './geometry.js';
import { INTERPOLATIONS } from './resample.js';
import { ImageTransform, type OutputDataType, type TransformOptions, type TransformSteps } from './transform.js';

export const IMAGENET_DEFAULT_MEAN = [0.485, 0.456, 0.406] as const;
export const IMAGENET_DEFAULT_STD = [0.229, 0.224, 0.225] as const;
/** timm's DEFAULT_CROP_PCT. */
export const DEFAULT_CROP_PCT = 0.875;

/**
 * The data config timm's eval transform is built from: a model's `PretrainedConfig` satisfies it
 * as is; as explicit options every field is optional (timm's `create_transform` defaults).
 */
export interface TimmDataConfig {
  /** `[channels, height, width]`, `[height, width]` or one side (default 224). */
  inputSize?: readonly [number, number, number] | readonly [number, number] | number;
  /** Default 'bilinear' (timm's `create_transform` default; pretrained configs name their own). */
  interpolation?: Interpolation;
  /** Default 0.875. */
  cropPct?: number;
  /** Default 'center'. */
  cropMode?: CropMode;
  /** Default ImageNet mean / std. */
  mean?: readonly [number, number, number];
  std?: readonly [number, number, number];
}

const CONTEXT = 'timm data config';

function targetSize(inputSize: TimmDataConfig['inputSize']): { height: number; width: number } {
  const value = inputSize ?? 224;
  const sides = typeof value === 'number' ? [value, value] : value.length === 3 ? value.slice(1) : value.slice();
  const channels = Array.isArray(value) && value.length === 3 ? value[0] : 3;
  if (sides.length !== 2 || !sides.every((side) => Number.isSafeInteger(side) && side > 0) || channels !== 3) {
    throw new InvalidConfigError('inputSize', inputSize, '[3, height, width] with positive integer sides', CONTEXT);
  }
  return { height: sides[0]!, width: sides[1]! };
}

function threeNumbers(name: string, value: unknown, nonZero: boolean): readonly [number, number, number] {
  if (!Array.isArray(value) || value.length !== 3 || !value.every((x) => Number.isFinite(x) && (!nonZero || x !== 0))) {
    throw new InvalidConfigError(name, value, nonZero ? 'three finite non-zero numbers' : 'three finite numbers', CONTEXT);
  }
  return value as unknown as readonly [number, number, number];
}

/**
 * The steps of timm's `transforms_imagenet_eval` (timm 1.0, torchvision 0.14 on PIL images):
 *
 * - scale size = floor(side / crop_pct) per side;
 * - `'center'`: a square target resizes the shortest side to the scale size (torchvision
 *   `Resize(int)`), then center-crops (ties of the offset rounded to even). A non-square target
 *   uses `ResizeKeepRatio(scale size)` instead, which timm builds WITHOUT passing the
 *   interpolation, so it is always bilinear (reproduced as is);
 * - `'squash'`: resize to exactly the scale size (aspect ratio not kept), then center-crop;
 * - `'border'`: resize so the longest side fits the scale size (`ResizeKeepRatio(longest=1)`), then
 *   center-crop or pad with the colour round(255 * mean);
 * - ToTensor (float32 u8 / 255) and Normalize(mean, std) in float32.
 */
export function timmTransformSteps(config: TimmDataConfig): TransformSteps {
  if (typeof config !== 'object' || config === null) {
    throw new InvalidConfigError('config', config, 'an object (a PretrainedConfig or timm data options)', CONTEXT);
  }
  const target = targetSize(config.inputSize);
  const interpolation = config.interpolation ?? 'bilinear';
  if (!INTERPOLATIONS.includes(interpolation)) {
    throw new InvalidConfigError('interpolation', interpolation, `one of ${INTERPOLATIONS.join(', ')}`, CONTEXT);
  }
  // timm: `crop_pct = crop_pct or DEFAULT_CROP_PCT` (0 and null mean the default too).
  const cropPct = config.cropPct || DEFAULT_CROP_PCT;
  if (!(typeof cropPct === 'number' && Number.isFinite(cropPct) && cropPct > 0)) {
    throw new InvalidConfigError('cropPct', config.cropPct, 'a positive number (e.g. 0.875, 0.9, 1.0)', CONTEXT);
  }
  const cropMode = config.cropMode ?? 'center';
  const mean = threeNumbers('mean', config.mean ?? IMAGENET_DEFAULT_MEAN, false);
  const std = threeNumbers('std', config.std ?? IMAGENET_DEFAULT_STD, true);
  const scale = { height: Math.floor(target.height / cropPct), width: Math.floor(target.width / cropPct) };
  if (scale.height < 1 || scale.width < 1) {
    throw new InvalidConfigError('cropPct', cropPct, 'a value that keeps the resize size at least 1 pixel', CONTEXT);
  }
  const tail = {
    rescale: { mode: 'divide', divisor: 255 },
    normalize: { mean: [mean[0], mean[1], mean[2]], std: [std[0], std[1], std[2]] },
  } as const;
  switch (cropMode) {
    case 'center':
      return {
        resize:
          scale.height === scale.width
            ? { mode: 'shortest-edge', size: scale.height, interpolation }
            : { mode: 'keep-ratio', ...scale, longest: 0, interpolation: 'bilinear' },
        crop: { ...target, rounding: 'round-half-even' },
        ...tail,
      };
    case 'squash':
      return {
        resize: { mode: 'exact', ...scale, interpolation },
        crop: { ...target, rounding: 'round-half-even' },
        ...tail,
      };
    case 'border':
      return {
        resize: { mode: 'keep-ratio', ...scale, longest: 1, interpolation },
        crop: {
          ...target,
          rounding: 'round-half-even',
          fill: [roundHalfEven(255 * mean[0]), roundHalfEven(255 * mean[1]), roundHalfEven(255 * mean[2])].map((value) =>
            Math.min(255, Math.max(0, value)),
          ) as unknown as [number, number, number],
        },
        ...tail,
      };
    default:
      throw new InvalidConfigError('cropMode', cropMode, "'center', 'squash' or 'border'", CONTEXT);
  }
}

/**
 * timm's eval transform for a model: pass its `PretrainedConfig` (inputSize, interpolation,
 * cropPct, cropMode, mean, std), or explicit options with timm's defaults. The result reproduces
 * `timm.data.create_transform(**resolve_data_config(model=...))` on a PIL RGB image bit for bit.
 */
export function createTransform<D extends OutputDataType = 'float32'>(
  config: TimmDataConfig | PretrainedConfig,
  options: TransformOptions<D> = {},
): ImageTransform<D> {
  return new ImageTransform(timmTransformSteps(config), options);
}
