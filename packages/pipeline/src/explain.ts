/**
 * Heat maps of what a model looked at, in the image's own coordinates (platform-free).
 *
 * Methods:
 * - `rollout` (class-token models: ViT, DeiT incl. distilled, with registers): the graph's `rollout`
 *   output — Abnar & Zuidema's attention rollout with mean head fusion, the class token's row over
 *   the patch tokens, divided by its maximum.
 * - `pca` (every architecture with intermediates, e.g. Swin, CSWin, FDViT, ViT with global average
 *   pooling): the first principal component of the last intermediate feature map — per image, the
 *   [C, h, w] map's positions are centred per channel and projected on the direction of largest
 *   variance; the sign is chosen so that the map correlates positively with each position's feature
 *   norm (strongly activated positions come out high); min-max scaled to [0, 1].
 *
 * The grid is then placed on the image: each image pixel's centre is mapped through the model's
 * preprocessing (resize, centre crop) to the model input, and the grid is sampled there bilinearly
 * (cell centres at the grid's own pixel centres, clamped at the edges). Pixels the crop cut away
 * get 0.
 */
import { InvalidArgumentError, type Architecture, type Tensor } from '@vitzoo/core';
import type { ImageTransform, RawImage } from '@vitzoo/preprocess';
import type { Prediction } from './predictions.js';

export type ExplainMethod = 'auto' | 'rollout' | 'pca';
export const EXPLAIN_METHODS: readonly ExplainMethod[] = ['auto', 'rollout', 'pca'];

/** A map of values in [0, 1]. */
export interface HeatGrid {
  width: number;
  height: number;
  /** Row-major, `height * width` values. */
  data: Float32Array;
}

export interface Heatmap extends HeatGrid {
  /** The method used ('auto' resolved). */
  method: Exclude<ExplainMethod, 'auto'>;
  /** The map on the model's token grid, before it was placed on the image. */
  grid: HeatGrid;
  /** The image's predictions when `Model.explain` was asked to classify too (`classify` option). */
  predictions?: Prediction[];
}

/**
 * The first principal component of one feature map [channels, height, width] as a [height·width]
 * map in [0, 1] (see the module comment for the definition). Power iteration on the positions'
 * Gram matrix, in float64.
 */
export function principalComponentMap(features: ArrayLike<number>, channels: number, height: number, width: number): Float64Array {
  const positions = height * width;
  if (features.length !== channels * positions) throw new InvalidArgumentError('features', `Expected ${channels}×${height}×${width} values, got ${features.length}.`);
  // Centred values, position-major: x[p][c].
  const centred = new Float64Array(positions * channels);
  const norms = new Float64Array(positions);
  for (let c = 0; c < channels; c++) {
    let mean = 0;
    for (let p = 0; p < positions; p++) mean += features[c * positions + p]!;
    mean /= positions;
    for (let p = 0; p < positions; p++) {
      const value = features[c * positions + p]!;
      centred[p * channels + c] = value - mean;
      norms[p] = norms[p]! + value * value;
    }
  }
  // Gram matrix G = X Xᵀ over positions: its top eigenvector is the component's scores (up to scale).
  const gram = new Float64Array(positions * positions);
  for (let i = 0; i < positions; i++)
    for (let j = i; j < positions; j++) {
      let dot = 0;
      for (let c = 0; c < channels; c++) dot += centred[i * channels + c]! * centred[j * channels + c]!;
      gram[i * positions + j] = dot;
      gram[j * positions + i] = dot;
    }
  let vector = new Float64Array(positions).fill(1 / Math.sqrt(positions));
  for (let p = 0; p < positions; p++) vector[p] = vector[p]! + (1e-3 * ((p * 7919) % 97)) / 97; // not orthogonal to the answer by accident
  for (let iteration = 0; iteration < 500; iteration++) {
    const next = new Float64Array(positions);
    for (let i = 0; i < positions; i++) {
      let sum = 0;
      for (let j = 0; j < positions; j++) sum += gram[i * positions + j]! * vector[j]!;
      next[i] = sum;
    }
    const length = Math.hypot(...next);
    if (length === 0) return new Float64Array(positions); // no variance: a flat map
    let change = 0;
    for (let i = 0; i < positions; i++) {
      next[i] = next[i]! / length;
      change = Math.max(change, Math.abs(next[i]! - vector[i]!));
    }
    vector = next;
    if (change < 1e-13) break;
  }
  // Sign: positively correlated with the positions' feature norms.
  let correlation = 0;
  for (let p = 0; p < positions; p++) correlation += vector[p]! * Math.sqrt(norms[p]!);
  if (correlation < 0) for (let p = 0; p < positions; p++) vector[p] = -vector[p]!;
  return minMax(vector);
}

function minMax(values: Float64Array): Float64Array {
  let low = Infinity;
  let high = -Infinity;
  for (const value of values) {
    low = Math.min(low, value);
    high = Math.max(high, value);
  }
  const range = high - low;
  return values.map((value) => (range > 0 ? (value - low) / range : 0));
}

/**
 * Places a grid that covers the model's input on an image of `size`, through the preprocessing's
 * geometry (see the module comment). Returns `size.height * size.width` values.
 */
export function gridToImage(grid: HeatGrid, transform: ImageTransform, size: { width: number; height: number }): Float32Array {
  const { resized, crop } = transform.geometry(size);
  const out = new Float32Array(size.width * size.height);
  const scaleX = resized.width / size.width;
  const scaleY = resized.height / size.height;
  const sample = (gx: number, gy: number) => {
    const x = Math.min(Math.max(gx, 0), grid.width - 1);
    const y = Math.min(Math.max(gy, 0), grid.height - 1);
    const x0 = Math.floor(x);
    const y0 = Math.floor(y);
    const x1 = Math.min(x0 + 1, grid.width - 1);
    const y1 = Math.min(y0 + 1, grid.height - 1);
    const fx = x - x0;
    const fy = y - y0;
    const at = (xx: number, yy: number) => grid.data[yy * grid.width + xx]!;
    return (at(x0, y0) * (1 - fx) + at(x1, y0) * fx) * (1 - fy) + (at(x0, y1) * (1 - fx) + at(x1, y1) * fx) * fy;
  };
  for (let y = 0; y < size.height; y++) {
    // The pixel centre in the resized image, then in the crop (the model input).
    const v = (y + 0.5) * scaleY - crop.top;
    for (let x = 0; x < size.width; x++) {
      const u = (x + 0.5) * scaleX - crop.left;
      if (u < 0 || v < 0 || u >= crop.width || v >= crop.height) continue;
      out[y * size.width + x] = sample((u / crop.width) * grid.width - 0.5, (v / crop.height) * grid.height - 0.5);
    }
  }
  return out;
}

/** The output a method reads, among a model's outputs. */
export function explainOutput(outputs: readonly string[], method: ExplainMethod): { method: Exclude<ExplainMethod, 'auto'>; output: string } {
  if (!EXPLAIN_METHODS.includes(method)) throw new InvalidArgumentError('method', `Unknown explain method ${JSON.stringify(method)}; choose from ${EXPLAIN_METHODS.join(', ')}.`);
  const intermediates = outputs
    .filter((name) => /^intermediates\.\d+$/.test(name))
    .sort((a, b) => Number(a.split('.')[1]) - Number(b.split('.')[1]));
  if ((method === 'auto' || method === 'rollout') && outputs.includes('rollout')) return { method: 'rollout', output: 'rollout' };
  if ((method === 'auto' || method === 'pca') && intermediates.length > 0) return { method: 'pca', output: intermediates[intermediates.length - 1]! };
  const needs = method === 'rollout' ? "'rollout'" : method === 'pca' ? "an intermediate (e.g. 'intermediates.-1', the last)" : "'rollout' or an intermediate";
  throw new InvalidArgumentError(
    'outputs',
    `Explaining with ${method === 'auto' ? 'a heat map' : `'${method}'`} needs the model built with ${needs}; it has ${outputs.join(', ')}. Load it with outputs: ['logits', 'rollout'] (class-token models) or ['logits', 'intermediates.-1'].`,
  );
}

/** The methods a model can explain with: 'rollout' when its architecture gives it for these kwargs (class-token models), 'pca' when it has intermediates. */
export function explainMethodsFor(model: { architecture: Architecture; kwargs: Readonly<Record<string, unknown>> }): Exclude<ExplainMethod, 'auto'>[] {
  const catalog = model.architecture.outputCatalog?.(model.architecture.parseConfig(model.kwargs));
  const methods: Exclude<ExplainMethod, 'auto'>[] = [];
  if (catalog?.rollout) methods.push('rollout');
  if ((catalog?.intermediates ?? 0) > 0) methods.push('pca');
  return methods;
}

/**
 * The graph outputs to build a model with so that `Model.explain` can use `method` (decided from the
 * architecture's output catalog before anything is built): `['logits', 'rollout']` for rollout
 * (what 'auto' picks when the architecture gives it), else `['logits', 'intermediates.-1']` for pca.
 * A method the architecture cannot do is an `InvalidArgumentError` naming the ones it can.
 */
export function explainOutputsFor(
  model: { architecture: Architecture; kwargs: Readonly<Record<string, unknown>> },
  method: ExplainMethod = 'auto',
): { method: Exclude<ExplainMethod, 'auto'>; outputs: string[] } {
  if (!EXPLAIN_METHODS.includes(method)) throw new InvalidArgumentError('method', `Unknown explain method ${JSON.stringify(method)}; choose from ${EXPLAIN_METHODS.join(', ')}.`);
  const methods = explainMethodsFor(model);
  const chosen = method === 'auto' ? methods[0] : methods.includes(method) ? method : undefined;
  if (chosen === undefined) {
    const can = methods.length === 0 ? 'it gives neither rollout nor intermediates, so it has no heat maps' : `it can do ${methods.join(' and ')}${methods.length === 1 ? '' : ' (auto picks rollout)'}`;
    throw new InvalidArgumentError(
      'method',
      `Architecture '${model.architecture.id}' cannot explain with ${method === 'auto' ? 'any method' : `'${method}'`}: ${can}.` +
        (method === 'rollout' && methods.includes('pca') ? " Rollout needs a class token (ViT, DeiT); use --method pca (or auto)." : ''),
    );
  }
  return { method: chosen, outputs: ['logits', chosen === 'rollout' ? 'rollout' : 'intermediates.-1'] };
}

/** The token-grid maps of a batch from the model's output (rollout [B, h, w] or an intermediate [B, C, h, w]). */
export function heatGrids(method: Exclude<ExplainMethod, 'auto'>, output: Tensor): HeatGrid[] {
  const values = output.data as Float32Array;
  if (method === 'rollout') {
    const [batch, height, width] = output.shape as [number, number, number];
    return Array.from({ length: batch }, (_, b) => ({ width, height, data: values.slice(b * height * width, (b + 1) * height * width) }));
  }
  const [batch, channels, height, width] = output.shape as [number, number, number, number];
  const size = channels * height * width;
  return Array.from({ length: batch }, (_, b) => ({ width, height, data: Float32Array.from(principalComponentMap(values.subarray(b * size, (b + 1) * size), channels, height, width)) }));
}

/** The heat map of each image, in its own coordinates (see `Model.explain`). */
export function placeHeatGrids(method: Exclude<ExplainMethod, 'auto'>, grids: readonly HeatGrid[], images: readonly RawImage[], transform: ImageTransform): Heatmap[] {
  return grids.map((grid, index) => {
    const image = images[index]!;
    return { method, width: image.width, height: image.height, data: gridToImage(grid, transform, image), grid };
  });
}
