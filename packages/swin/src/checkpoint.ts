import { toFloat32, unwrapStateDict, type StateDict, type Tensor } from '@vitzoo/core';
import { relativeTableLength, type Pair, type SwinConfig } from './config.js';

/**
 * True for the original Microsoft Swin layout (and timm before 0.9): `head.weight` instead of
 * `head.fc.weight`, and each stage's patch merging stored at the END of the previous stage
 * (`layers.0.downsample` exists, which timm 1.0 never has).
 */
export function isMicrosoftLayout(stateDict: StateDict): boolean {
  if ('head.fc.weight' in stateDict) return false;
  return 'head.weight' in stateDict || Object.keys(stateDict).some((key) => key.startsWith('layers.0.downsample.'));
}

const BLOCK_TABLE = /^layers\.(\d+)\.blocks\.(\d+)\.attn\.relative_position_bias_table$/;

/**
 * timm's `checkpoint_filter_fn` for Swin, as a pure function:
 * - drops the non-persistent buffers `relative_position_index` and `attn_mask`;
 * - Microsoft layout: `layers.N.downsample` -> `layers.(N+1).downsample`, `head.` -> `head.fc.`
 *   (the original PatchMerging's channel order x0..x3 = (0,0),(1,0),(0,1),(1,1) is exactly timm
 *   1.0's reshape/permute order, so the weights need no permutation);
 * - resizes a `relative_position_bias_table` whose length does not fit the block's window with
 *   timm's `resize_rel_pos_bias_table` (geometric-progression source grid, linear interpolation).
 * Keys with a `module.` prefix (DataParallel) are unwrapped first.
 */
export function filterSwinCheckpoint(stateDict: StateDict, config: SwinConfig): StateDict {
  const source = unwrapStateDict(stateDict);
  const microsoft = isMicrosoftLayout(source);
  const out: StateDict = {};
  for (const [originalKey, tensor] of Object.entries(source)) {
    if (originalKey.includes('relative_position_index') || originalKey.includes('attn_mask')) continue;
    let key = originalKey;
    if (microsoft) {
      key = key.replace(/^layers\.(\d+)\.downsample\./, (_, stage: string) => `layers.${Number(stage) + 1}.downsample.`);
      if (key.startsWith('head.')) key = `head.fc.${key.slice('head.'.length)}`;
    }
    let value: Tensor = tensor;
    const match = BLOCK_TABLE.exec(key);
    if (match) {
      const block = config.stages[Number(match[1])]?.blocks[Number(match[2])];
      if (block && tensor.shape.length === 2 && tensor.shape[0] !== relativeTableLength(block.window)) {
        const resized = resizeRelativePositionBiasTable(tensor, block.window);
        if (resized) value = resized;
      }
    }
    out[key] = value;
  }
  return out;
}

/**
 * timm's `resize_rel_pos_bias_table` (layers/pos_embed_rel.py, adapted by timm from BEiT) for a flat
 * [(2s-1)^2, heads] table: the source offsets are spread on a geometric progression found by
 * bisection so the outermost source offset lands near the target's, then every target offset
 * -t..t is linearly interpolated (constant beyond the ends), as timm's `RegularGridInterpolator`
 * does in float32. Returns undefined when the source is not a square table (left to validation).
 */
export function resizeRelativePositionBiasTable(table: Tensor, window: Pair): Tensor<'float32'> | undefined {
  const [sourceLength, numHeads] = table.shape as [number, number];
  const sourceSide = Math.floor(Math.sqrt(sourceLength));
  if (sourceSide * sourceSide !== sourceLength || sourceSide < 1) return undefined;
  const targetSize: Pair = [2 * window[0] - 1, 2 * window[1] - 1];
  const values = toFloat32(table).data;
  const sourceY = geometricOffsets(sourceSide, targetSize[0]);
  const sourceX = geometricOffsets(sourceSide, targetSize[1]);
  const targetY = centeredOffsets(targetSize[0]);
  const targetX = centeredOffsets(targetSize[1]);
  const out = new Float32Array(targetSize[0] * targetSize[1] * numHeads);
  const f = Math.fround;
  for (let ty = 0; ty < targetY.length; ty++) {
    const [y0, y1, dy0, dy1] = bracket(sourceY, targetY[ty]!);
    for (let tx = 0; tx < targetX.length; tx++) {
      const [x0, x1, dx0, dx1] = bracket(sourceX, targetX[tx]!);
      // Corner order and float32 rounding as RegularGridInterpolator: (l,l), (l,r), (r,l), (r,r),
      // each weighted by the distances to the opposite corner.
      const denominator = f(f(dy0 + dy1) * f(dx0 + dx1));
      for (let head = 0; head < numHeads; head++) {
        const at = (y: number, x: number) => values[(y * sourceSide + x) * numHeads + head]!;
        let numerator = 0;
        numerator = f(numerator + f(at(y0, x0) * f(dy1 * dx1)));
        numerator = f(numerator + f(at(y0, x1) * f(dy1 * dx0)));
        numerator = f(numerator + f(at(y1, x0) * f(dy0 * dx1)));
        numerator = f(numerator + f(at(y1, x1) * f(dy0 * dx0)));
        out[(ty * targetX.length + tx) * numHeads + head] = f(numerator / denominator);
      }
    }
  }
  return { dtype: 'float32', shape: [out.length / numHeads, numHeads], data: out };
}

/** timm's `_calc(src, dst)`: source offsets on a geometric progression, as float32. */
function geometricOffsets(source: number, target: number): Float32Array {
  const half = Math.floor(source / 2);
  const progression = (ratio: number, count: number) => (1 - ratio ** count) / (1 - ratio);
  let left = 1.01;
  let right = 1.5;
  let ratio = 0;
  while (right - left > 1e-6) {
    ratio = (left + right) / 2;
    if (progression(ratio, half) > Math.floor(target / 2)) right = ratio;
    else left = ratio;
  }
  const distances: number[] = [];
  let current = 1;
  for (let i = 0; i < half; i++) {
    distances.push(current);
    current += ratio ** (i + 1);
  }
  return Float32Array.from([...distances.map((d) => -d).reverse(), 0, ...distances]);
}

/** torch.arange(-t, t + 0.1, 1.0) with t = size // 2. */
function centeredOffsets(size: number): Float32Array {
  const half = Math.floor(size / 2);
  return Float32Array.from({ length: 2 * half + 1 }, (_, i) => i - half);
}

/**
 * RegularGridInterpolator's neighbours along one axis: torch.bucketize (first index with
 * p[i] >= x), clamped, and the clipped float32 distances (both set to 1 when both are 0).
 */
function bracket(points: Float32Array, x: number): [number, number, number, number] {
  let right = points.findIndex((p) => p >= x);
  if (right === -1 || right >= points.length) right = points.length - 1;
  const left = Math.min(Math.max(right - 1, 0), points.length - 1);
  let distanceLeft = Math.max(Math.fround(x - points[left]!), 0);
  let distanceRight = Math.max(Math.fround(points[right]! - x), 0);
  if (distanceLeft === 0 && distanceRight === 0) distanceLeft = distanceRight = 1;
  return [left, right, distanceLeft, distanceRight];
}
