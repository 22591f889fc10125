/**
 * Test support: a direct, loop-based float64 transcription of timm 1.0's SwinTransformer forward
 * (roll, pad, partition, attention, crop, roll back, patch merging written as the original
 * Microsoft strided slices x0..x3), used to check the ONNX graph on configs the fixture does not
 * cover (padding, odd merges, non-square windows, always_partition). It shares no code with the
 * graph builder or windows.ts.
 */
import type { StateDict, Tensor } from '@vitzoo/core';
import type { SwinConfig } from './config.js';

type Map4 = { data: Float64Array; batch: number; height: number; width: number; channels: number };

const values = (tensor: Tensor) => Float64Array.from(tensor.data as Float32Array);

function erf(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  if (a < 2.5) {
    let term = a;
    let sum = a;
    for (let n = 1; n < 80; n++) {
      term *= (-a * a) / n;
      sum += term / (2 * n + 1);
    }
    return (sign * 2 * sum) / Math.sqrt(Math.PI);
  }
  // erfc continued fraction, evaluated bottom-up.
  let fraction = 0;
  for (let k = 60; k >= 1; k--) fraction = k / 2 / (a + fraction);
  const erfc = Math.exp(-a * a) / Math.sqrt(Math.PI) / (a + fraction);
  return sign * (1 - erfc);
}

const gelu = (x: number) => 0.5 * x * (1 + erf(x / Math.SQRT2));

function layerNorm(row: Float64Array, weight: Float64Array, bias: Float64Array, eps: number): Float64Array {
  const n = row.length;
  let mean = 0;
  for (const v of row) mean += v;
  mean /= n;
  let variance = 0;
  for (const v of row) variance += (v - mean) ** 2;
  variance /= n;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = ((row[i]! - mean) / Math.sqrt(variance + eps)) * weight[i]! + bias[i]!;
  return out;
}

function linear(row: Float64Array, weight: Float64Array, bias: Float64Array | undefined, outFeatures: number): Float64Array {
  const inFeatures = row.length;
  const out = new Float64Array(outFeatures);
  for (let o = 0; o < outFeatures; o++) {
    let sum = bias ? bias[o]! : 0;
    for (let i = 0; i < inFeatures; i++) sum += weight[o * inFeatures + i]! * row[i]!;
    out[o] = sum;
  }
  return out;
}

export interface ReferenceOutputs {
  /** [B, h, w, C] */
  features: Float64Array;
  /** [B, C] */
  preLogits: Float64Array;
  /** [B, num_classes] */
  logits: Float64Array;
}

export function referenceSwinForward(config: SwinConfig, weights: StateDict, pixels: Tensor): ReferenceOutputs {
  const w = (key: string) => values(weights[key]!);
  const maybe = (key: string) => (weights[key] ? values(weights[key]!) : undefined);
  const eps = 1e-5;
  const [batch, inChans, imageHeight, imageWidth] = pixels.shape as [number, number, number, number];
  const input = values(pixels);
  const [patchHeight, patchWidth] = config.patchSize;
  const gridHeight = Math.floor(imageHeight / patchHeight);
  const gridWidth = Math.floor(imageWidth / patchWidth);
  const embed = config.embedDim;

  // Patch embedding (conv) + norm, NHWC.
  const convWeight = w('patch_embed.proj.weight');
  const convBias = w('patch_embed.proj.bias');
  let x: Map4 = { data: new Float64Array(batch * gridHeight * gridWidth * embed), batch, height: gridHeight, width: gridWidth, channels: embed };
  for (let b = 0; b < batch; b++)
    for (let y = 0; y < gridHeight; y++)
      for (let xx = 0; xx < gridWidth; xx++) {
        const row = new Float64Array(embed);
        for (let o = 0; o < embed; o++) {
          let sum = convBias[o]!;
          for (let c = 0; c < inChans; c++)
            for (let ky = 0; ky < patchHeight; ky++)
              for (let kx = 0; kx < patchWidth; kx++)
                sum +=
                  convWeight[((o * inChans + c) * patchHeight + ky) * patchWidth + kx]! *
                  input[((b * inChans + c) * imageHeight + y * patchHeight + ky) * imageWidth + xx * patchWidth + kx]!;
          row[o] = sum;
        }
        x.data.set(layerNorm(row, w('patch_embed.norm.weight'), w('patch_embed.norm.bias'), eps), ((b * gridHeight + y) * gridWidth + xx) * embed);
      }

  const token = (map: Map4, b: number, y: number, xx: number) =>
    map.data.subarray(((b * map.height + y) * map.width + xx) * map.channels, ((b * map.height + y) * map.width + xx + 1) * map.channels);

  for (const stage of config.stages) {
    const prefix = `layers.${stage.index}`;
    if (stage.downsample) {
      // Original Microsoft PatchMerging: pad odd, cat(x[0::2,0::2], x[1::2,0::2], x[0::2,1::2], x[1::2,1::2]).
      const C = x.channels;
      const outHeight = Math.ceil(x.height / 2);
      const outWidth = Math.ceil(x.width / 2);
      const merged: Map4 = { data: new Float64Array(batch * outHeight * outWidth * stage.dim), batch, height: outHeight, width: outWidth, channels: stage.dim };
      for (let b = 0; b < batch; b++)
        for (let y = 0; y < outHeight; y++)
          for (let xx = 0; xx < outWidth; xx++) {
            const cat = new Float64Array(4 * C);
            const offsets = [
              [0, 0],
              [1, 0],
              [0, 1],
              [1, 1],
            ] as const;
            offsets.forEach(([dy, dx], k) => {
              const sy = 2 * y + dy;
              const sx = 2 * xx + dx;
              if (sy < x.height && sx < x.width) cat.set(token(x, b, sy, sx), k * C);
            });
            const normed = layerNorm(cat, w(`${prefix}.downsample.norm.weight`), w(`${prefix}.downsample.norm.bias`), eps);
            merged.data.set(linear(normed, w(`${prefix}.downsample.reduction.weight`), undefined, stage.dim), ((b * outHeight + y) * outWidth + xx) * stage.dim);
          }
      x = merged;
    }
    stage.blocks.forEach((block, blockIndex) => {
      x = referenceBlock(x, `${prefix}.blocks.${blockIndex}`, stage.numHeads, stage.headDim, stage.mlpHidden, block.window, block.shift, w, maybe, eps);
    });
  }

  const C = x.channels;
  const features = new Float64Array(x.data.length);
  const preLogits = new Float64Array(batch * C);
  const tokens = x.height * x.width;
  for (let t = 0; t < batch * tokens; t++) {
    const normed = layerNorm(x.data.subarray(t * C, (t + 1) * C), w('norm.weight'), w('norm.bias'), eps);
    features.set(normed, t * C);
    const b = Math.floor(t / tokens);
    for (let c = 0; c < C; c++) preLogits[b * C + c]! += normed[c]! / tokens;
  }
  const logits = new Float64Array(batch * config.numClasses);
  for (let b = 0; b < batch; b++) {
    logits.set(linear(preLogits.subarray(b * C, (b + 1) * C), w('head.fc.weight'), w('head.fc.bias'), config.numClasses), b * config.numClasses);
  }
  return { features, preLogits, logits };
}

function referenceBlock(
  x: Map4,
  prefix: string,
  heads: number,
  headDim: number,
  mlpHidden: number,
  window: readonly [number, number],
  shift: readonly [number, number],
  w: (key: string) => Float64Array,
  maybe: (key: string) => Float64Array | undefined,
  eps: number,
): Map4 {
  const { batch, height: H, width: W, channels: C } = x;
  const [wh, ww] = window;
  const [sh, sw] = shift;
  const Hp = Math.ceil(H / wh) * wh;
  const Wp = Math.ceil(W / ww) * ww;
  const attnDim = heads * headDim;
  const N = wh * ww;
  const table = w(`${prefix}.attn.relative_position_bias_table`);
  const region = (i: number, padded: number, size: number, s: number) => (s === 0 ? 0 : i < padded - size ? 0 : i < padded - s ? 1 : 2);
  const out = new Float64Array(x.data.length);
  for (let b = 0; b < batch; b++) {
    // norm1, roll by (-sh, -sw), pad bottom/right with zeros.
    const shifted: Float64Array[] = [];
    for (let y = 0; y < Hp; y++)
      for (let xx = 0; xx < Wp; xx++) {
        if (y >= H || xx >= W) {
          shifted.push(new Float64Array(C));
          continue;
        }
        const sy = (y + sh) % H;
        const sx = (xx + sw) % W;
        const row = x.data.subarray(((b * H + sy) * W + sx) * C, ((b * H + sy) * W + sx + 1) * C);
        shifted.push(layerNorm(row, w(`${prefix}.norm1.weight`), w(`${prefix}.norm1.bias`), eps));
      }
    const attended: Float64Array[] = shifted.map(() => new Float64Array(attnDim));
    for (let wy = 0; wy < Hp / wh; wy++)
      for (let wx = 0; wx < Wp / ww; wx++) {
        const positions: [number, number][] = [];
        for (let ty = 0; ty < wh; ty++) for (let tx = 0; tx < ww; tx++) positions.push([wy * wh + ty, wx * ww + tx]);
        const qkv = positions.map(([py, px]) => linear(shifted[py * Wp + px]!, w(`${prefix}.attn.qkv.weight`), maybe(`${prefix}.attn.qkv.bias`), 3 * attnDim));
        for (let h = 0; h < heads; h++)
          for (let i = 0; i < N; i++) {
            const scores = new Float64Array(N);
            for (let j = 0; j < N; j++) {
              let dot = 0;
              for (let d = 0; d < headDim; d++) dot += qkv[i]![h * headDim + d]! * qkv[j]![attnDim + h * headDim + d]!;
              const [yi, xi] = [Math.floor(i / ww), i % ww];
              const [yj, xj] = [Math.floor(j / ww), j % ww];
              const bias = table[((yi - yj + wh - 1) * (2 * ww - 1) + (xi - xj + ww - 1)) * heads + h]!;
              const [pyi, pxi] = positions[i]!;
              const [pyj, pxj] = positions[j]!;
              const sameRegion =
                region(pyi, Hp, wh, sh) === region(pyj, Hp, wh, sh) && region(pxi, Wp, ww, sw) === region(pxj, Wp, ww, sw);
              scores[j] = dot * headDim ** -0.5 + bias + (sh > 0 || sw > 0 ? (sameRegion ? 0 : -100) : 0);
            }
            const max = Math.max(...scores);
            let total = 0;
            for (let j = 0; j < N; j++) total += (scores[j] = Math.exp(scores[j]! - max));
            const [py, px] = positions[i]!;
            for (let j = 0; j < N; j++)
              for (let d = 0; d < headDim; d++) attended[py * Wp + px]![h * headDim + d]! += (scores[j]! / total) * qkv[j]![2 * attnDim + h * headDim + d]!;
          }
      }
    // crop, roll back by (+sh, +sw), proj, residual, MLP.
    for (let y = 0; y < H; y++)
      for (let xx = 0; xx < W; xx++) {
        const sy = (((y - sh) % H) + H) % H;
        const sx = (((xx - sw) % W) + W) % W;
        const projected = linear(attended[sy * Wp + sx]!, w(`${prefix}.attn.proj.weight`), w(`${prefix}.attn.proj.bias`), C);
        const at = ((b * H + y) * W + xx) * C;
        const residual = new Float64Array(C);
        for (let c = 0; c < C; c++) residual[c] = x.data[at + c]! + projected[c]!;
        const hidden = linear(layerNorm(residual, w(`${prefix}.norm2.weight`), w(`${prefix}.norm2.bias`), eps), w(`${prefix}.mlp.fc1.weight`), w(`${prefix}.mlp.fc1.bias`), mlpHidden).map(gelu);
        const mlp = linear(hidden, w(`${prefix}.mlp.fc2.weight`), w(`${prefix}.mlp.fc2.bias`), C);
        for (let c = 0; c < C; c++) out[at + c] = residual[c]! + mlp[c]!;
      }
  }
  return { ...x, data: out };
}
