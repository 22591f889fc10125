/** Size arithmetic of torchvision 0.14, timm and Hugging Face, reproduced rule for rule. */
import { roundHalfEven } from '@vitzoo/core';

export interface Size {
  width: number;
  height: number;
}

/** Python 3 `round(x)` (ties to even), as torchvision's and PIL's size arithmetic use it. */
export { roundHalfEven };

/**
 * torchvision `Resize(size: int)` / Hugging Face `{shortest_edge}`: the shorter side becomes
 * `size`, the other `int(size * long / short)` (float division, truncated).
 */
export function shortestEdgeSize(image: Size, size: number): Size {
  const { width, height } = image;
  if (width <= height) return { width: size, height: Math.trunc((size * height) / width) };
  return { width: Math.trunc((size * width) / height), height: size };
}

/**
 * timm `ResizeKeepRatio(target, longest)` (no random scaling): ratio = max(h/th, w/tw) * longest +
 * min(h/th, w/tw) * (1 - longest), new size = round(side / ratio) with ties to even.
 * `longest = 1` fits the longest side inside the target, `longest = 0` covers it with the shortest.
 */
export function keepRatioSize(image: Size, target: Size, longest: number): Size {
  const ratioHeight = image.height / target.height;
  const ratioWidth = image.width / target.width;
  const ratio = Math.max(ratioHeight, ratioWidth) * longest + Math.min(ratioHeight, ratioWidth) * (1 - longest);
  return { width: roundHalfEven(image.width / ratio), height: roundHalfEven(image.height / ratio) };
}

/**
 * How a crop offset is rounded: `'round-half-even'` is torchvision's `CenterCrop` and timm's
 * `CenterCropOrPad` (`int(round((size - crop) / 2))`); `'floor'` is Hugging Face's `center_crop`
 * (`(size - crop) // 2`).
 */
export type CropRounding = 'round-half-even' | 'floor';

/**
 * Start of a centred crop of length `crop` in an axis of length `size`, in that axis' coordinates.
 * Negative when the crop is longer than the axis: the axis is then padded by
 * `floor((crop - size) / 2)` before and the rest after (torchvision's and timm's padding).
 */
export function centerCropOffset(size: number, crop: number, rounding: CropRounding): number {
  if (crop > size) return -Math.floor((crop - size) / 2);
  return rounding === 'floor' ? Math.floor((size - crop) / 2) : roundHalfEven((size - crop) / 2);
}
