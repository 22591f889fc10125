import type { Architecture, PretrainedConfig } from './architecture.js';
import { InvalidArgumentError, UnsupportedError } from './errors.js';

/** An image size: one side for a square, or `[height, width]`. */
export type ImageSize = number | readonly [number, number];

const MAX_SIDE = 16384;

function side(value: unknown): number | undefined {
  const number = typeof value === 'string' && /^\s*\d+\s*$/.test(value) ? Number(value) : value;
  return typeof number === 'number' && Number.isSafeInteger(number) && number >= 1 && number <= MAX_SIDE ? number : undefined;
}

/**
 * Checks an `imageSize` option: a positive integer (a square), `[height, width]`, or the CLI's
 * spelling `'384'` / `'384x288'` (height × width). Returns `[height, width]`.
 */
export function resolveImageSize(value: unknown, name = 'imageSize'): [number, number] {
  const parts = typeof value === 'string' ? value.toLowerCase().split('x') : Array.isArray(value) ? value : [value];
  const sides = parts.map(side);
  if ((sides.length === 1 || sides.length === 2) && (!Array.isArray(value) || sides.length === 2) && sides.every((s) => s !== undefined)) {
    return sides.length === 1 ? [sides[0]!, sides[0]!] : [sides[0]!, sides[1]!];
  }
  throw new InvalidArgumentError(
    name,
    `${name} must be a side in pixels (e.g. 384) or height and width (384x288, or [384, 288]), each from 1 to ${MAX_SIDE}; got ${JSON.stringify(value)}.`,
  );
}

/** Architectures that can run a checkpoint at another image size (those with `withImageSize`). */
export function resizableArchitectures(architectures: readonly Architecture[]): string[] {
  return architectures.filter((architecture) => typeof architecture.withImageSize === 'function').map((architecture) => architecture.id);
}

/**
 * A model's kwargs and pretrained config at another image size, as timm does it: the
 * architecture's `withImageSize` says the kwargs (e.g. `img_size`; the checkpoint is adapted when it
 * is loaded, e.g. ViT's position embeddings resampled), and the pretrained config's input size (and
 * so its crop) follows; the resize keeps the config's crop_pct. An architecture without
 * `withImageSize` is an `UnsupportedError` naming those that have it (`resizable`).
 */
export function modelAtImageSize(
  architecture: Architecture,
  kwargs: Readonly<Record<string, unknown>>,
  pretrained: PretrainedConfig | undefined,
  imageSize: unknown,
  resizable: readonly string[] = [],
): { kwargs: Record<string, unknown>; pretrained: PretrainedConfig | undefined } {
  const size = resolveImageSize(imageSize);
  if (typeof architecture.withImageSize !== 'function') {
    const others = resizable.length > 0 ? ` Architectures that can: ${resizable.join(', ')}.` : '';
    throw new UnsupportedError(
      `${architecture.id} models run only at the image size they were built for (its reference cannot adapt a checkpoint to another size), so imageSize ${size.join('x')} cannot be built; leave imageSize (--image-size) out.${others}`,
    );
  }
  const resized = architecture.withImageSize(kwargs, size);
  return { kwargs: resized, pretrained: pretrained ? { ...pretrained, inputSize: [pretrained.inputSize[0], size[0], size[1]] } : undefined };
}
