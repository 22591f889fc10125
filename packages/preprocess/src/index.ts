/**
 * @vitzoo/preprocess: platform-free image preprocessing on typed arrays (no Node or DOM APIs).
 * PIL-exact resampling, timm and Hugging Face eval transforms, NCHW float32 / float16 tensors.
 * Decoders live in `@vitzoo/preprocess/node` (sharp) and `@vitzoo/preprocess/browser`.
 */
export {
  DEFAULT_MAX_PIXELS,
  toEightBit,
  toRgb,
  validateRawImage,
  type EightBitImage,
  type RawImage,
  type SixteenBitMode,
} from './raw-image.js';
export { INTERPOLATIONS, PRECISION_BITS, axisCoefficients, axisWeights, resamplePixels, type AxisCoefficients, type AxisWeights, type PixelBuffer, type Region } from './resample.js';
export { resize } from './resize.js';
export { centerCropOffset, keepRatioSize, roundHalfEven, shortestEdgeSize, type CropRounding, type Size } from './geometry.js';
export {
  ImageTransform,
  createStepsTransform,
  type CropStep,
  type NormalizeStep,
  type OutputDataType,
  type RescaleStep,
  type ResizeStep,
  type TransformGeometry,
  type TransformOptions,
  type TransformSteps,
} from './transform.js';
export {
  DEFAULT_CROP_PCT,
  IMAGENET_DEFAULT_MEAN,
  IMAGENET_DEFAULT_STD,
  createTransform,
  timmTransformSteps,
  type TimmDataConfig,
} from './timm.js';
export {
  IMAGENET_STANDARD_MEAN,
  IMAGENET_STANDARD_STD,
  PIL_RESAMPLE,
  createHuggingFaceTransform,
  huggingFaceTransformSteps,
  type HuggingFaceProcessorConfig,
} from './hugging-face.js';

export { colorize, overlayHeatmap, type Colormap, type ValueMap } from './heatmap.js';
