import { describe, expect, test } from 'vitest';
import { createTransform } from '@vitzoo/preprocess';
import { pretrainedConfig } from '@vitzoo/core';
import { explainOutput, gridToImage, principalComponentMap } from './explain.js';

/** Independent check: eigenvectors of the channel covariance by cyclic Jacobi rotations. */
function jacobiTopEigenvector(matrix: Float64Array, n: number): Float64Array {
  const a = Float64Array.from(matrix);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += a[p * n + q]! ** 2;
    if (off < 1e-26) break;
    for (let p = 0; p < n; p++)
      for (let q = p + 1; q < n; q++) {
        if (Math.abs(a[p * n + q]!) < 1e-300) continue;
        const theta = (a[q * n + q]! - a[p * n + p]!) / (2 * a[p * n + q]!);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const s = t * c;
        for (let k = 0; k < n; k++) {
          const akp = a[k * n + p]!;
          const akq = a[k * n + q]!;
          a[k * n + p] = c * akp - s * akq;
          a[k * n + q] = s * akp + c * akq;
        }
        for (let k = 0; k < n; k++) {
          const apk = a[p * n + k]!;
          const aqk = a[q * n + k]!;
          a[p * n + k] = c * apk - s * aqk;
          a[q * n + k] = s * apk + c * aqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p]!;
          const vkq = v[k * n + q]!;
          v[k * n + p] = c * vkp - s * vkq;
          v[k * n + q] = s * vkp + c * vkq;
        }
      }
  }
  let best = 0;
  for (let i = 1; i < n; i++) if (a[i * n + i]! > a[best * n + best]!) best = i;
  return Float64Array.from({ length: n }, (_, k) => v[k * n + best]!);
}

describe('principal-component heat map', () => {
  test('equals the projection on the top eigenvector of the channel covariance (sign by feature norm, min-max)', () => {
    const [channels, height, width] = [6, 3, 4];
    const positions = height * width;
    const features = Float64Array.from({ length: channels * positions }, (_, i) => Math.sin(i * 1.7) * (1 + (i % 5)) + ((i * 13) % 7) / 3);
    const means = Array.from({ length: channels }, (_, c) => features.slice(c * positions, (c + 1) * positions).reduce((s, v) => s + v, 0) / positions);
    const covariance = new Float64Array(channels * channels);
    for (let i = 0; i < channels; i++)
      for (let j = 0; j < channels; j++) {
        let sum = 0;
        for (let p = 0; p < positions; p++) sum += (features[i * positions + p]! - means[i]!) * (features[j * positions + p]! - means[j]!);
        covariance[i * channels + j] = sum;
      }
    const direction = jacobiTopEigenvector(covariance, channels);
    let scores = Array.from({ length: positions }, (_, p) => direction.reduce((s, d, c) => s + d * (features[c * positions + p]! - means[c]!), 0));
    const norms = Array.from({ length: positions }, (_, p) => Math.sqrt(Array.from({ length: channels }, (_, c) => features[c * positions + p]! ** 2).reduce((s, v) => s + v, 0)));
    if (scores.reduce((s, v, p) => s + v * norms[p]!, 0) < 0) scores = scores.map((v) => -v);
    const [low, high] = [Math.min(...scores), Math.max(...scores)];
    const expected = scores.map((v) => (v - low) / (high - low));
    const actual = principalComponentMap(features, channels, height, width);
    for (let p = 0; p < positions; p++) expect(actual[p]).toBeCloseTo(expected[p]!, 9);
    // A map without variance is flat, not NaN.
    expect(Array.from(principalComponentMap(new Float64Array(channels * positions).fill(2), channels, height, width))).toEqual(new Array(positions).fill(0));
  });
});

describe('grid to image coordinates', () => {
  test('samples the grid bilinearly at each pixel centre through resize and crop; cropped-away pixels are 0', () => {
    const grid = { width: 2, height: 2, data: Float32Array.of(0, 1, 1, 0) };
    // 4x4 model input, no crop (crop_pct 1), a 4x4 image: pixel x maps to grid x = (x + 0.5) / 4 * 2 - 0.5.
    const identity = createTransform(pretrainedConfig({ size: 4, cropPct: 1, interpolation: 'bilinear' }));
    const square = gridToImage(grid, identity, { width: 4, height: 4 });
    // Row 0: grid y clamps to 0 → values along x: clamp(-0.25)=0 → 0; 0.25 → 0.25; 0.75 → 0.75; 1.25 → 1.
    expect(Array.from(square.subarray(0, 4))).toEqual([0, 0.25, 0.75, 1]);
    // Row 1 (grid y 0.25): (1-0.25)·row0 + 0.25·row1(= 1 - row0 along x).
    expect(Array.from(square.subarray(4, 8)).map((v) => Number(v.toFixed(6)))).toEqual([0.25, 0.375, 0.625, 0.75]);
    // An 8x4 image: shortest side 4 → resized 8x4, centre crop 4x4 from x = 2: columns 0, 1, 6, 7 are outside.
    const wide = gridToImage(grid, identity, { width: 8, height: 4 });
    for (let y = 0; y < 4; y++) {
      expect([wide[y * 8]!, wide[y * 8 + 1]!, wide[y * 8 + 6]!, wide[y * 8 + 7]!]).toEqual([0, 0, 0, 0]);
      expect(Array.from(wide.subarray(y * 8 + 2, y * 8 + 6))).toEqual(Array.from(square.subarray(y * 4, y * 4 + 4)));
    }
  });

  test('explain needs rollout or an intermediate among the outputs and says how to get it', () => {
    expect(explainOutput(['logits', 'rollout', 'intermediates.3'], 'auto')).toEqual({ method: 'rollout', output: 'rollout' });
    expect(explainOutput(['logits', 'intermediates.2', 'intermediates.10'], 'auto')).toEqual({ method: 'pca', output: 'intermediates.10' });
    expect(explainOutput(['logits', 'rollout', 'intermediates.1'], 'pca')).toEqual({ method: 'pca', output: 'intermediates.1' });
    expect(() => explainOutput(['logits'], 'auto')).toThrow(/outputs: \['logits', 'rollout'\].*\['logits', 'intermediates.-1'\]/);
    expect(() => explainOutput(['logits', 'intermediates.1'], 'rollout')).toThrow(/needs the model built with 'rollout'/);
    expect(() => explainOutput(['logits'], 'saliency' as never)).toThrow(/Unknown explain method/);
  });
});
