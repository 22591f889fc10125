/**
 * Test support: timm 1.0's SwinTransformer forward pass transcribed loop by loop in float64 (one
 * image at a time): roll, pad, window partition, attention with the relative-position bias and the
 * shift mask (timm's get_attn_mask, Python slices), crop, roll back, patch merging written as the
 * original Microsoft strided slices x0..x3. Shares no code with the graph builder or windows.ts;
 * the building blocks are @vitzoo/conformance/reference's.
 */
import type { StateDict, Tensor } from '@vitzoo/core';
import {
  add,
  array64,
  at,
  columns,
  conv2d,
  fromTensor,
  imageToTokens,
  layerNorm,
  linear,
  meanRows,
  mlp,
  multiHeadAttention,
  stack,
  tokensToImage,
  weightReader,
  type Array64,
  type WeightReader,
} from '@vitzoo/conformance/reference';
import { referenceRecorder, type ReferenceOutputs } from '@vitzoo/conformance/sweep';
import type { SwinConfig } from './config.js';

const EPS = 1e-5;

export function referenceSwin(config: SwinConfig, weights: StateDict, pixels: Tensor): ReferenceOutputs {
  const w = weightReader(weights);
  const input = fromTensor(pixels);
  const { record, outputs } = referenceRecorder();

  for (let b = 0; b < input.shape[0]!; b++) {
    // PatchEmbed: Conv2d(kernel = stride = patch), NHWC, LayerNorm.
    const grid = conv2d(at(input, b), w.read('patch_embed.proj.weight'), w.read('patch_embed.proj.bias'), {
      outChannels: config.embedDim,
      kernel: config.patchSize,
      stride: config.patchSize,
    });
    let height = grid.shape[1]!;
    let width = grid.shape[2]!;
    let x = layerNorm(imageToTokens(grid), w.read('patch_embed.norm.weight'), w.read('patch_embed.norm.bias'), EPS);

    for (const stage of config.stages) {
      const prefix = `layers.${stage.index}`;
      if (stage.downsample) [x, height, width] = patchMerging(x, height, width, `${prefix}.downsample`, stage.dim, w);
      stage.blocks.forEach((block, index) => {
        const p = `${prefix}.blocks.${index}`;
        const { output, probabilities } = windowAttention(layerNorm(x, w.read(`${p}.norm1.weight`), w.read(`${p}.norm1.bias`), EPS), height, width, {
          prefix: `${p}.attn`,
          heads: stage.numHeads,
          headDim: stage.headDim,
          window: block.window,
          shift: block.shift,
          w,
        });
        record(`attention.${p}.attn`, probabilities);
        x = add(x, output);
        x = add(x, mlp(layerNorm(x, w.read(`${p}.norm2.weight`), w.read(`${p}.norm2.bias`), EPS), w, `${p}.mlp`, stage.mlpHidden));
      });
      record(`intermediates.${stage.index}`, tokensToImage(x, height, width));
    }

    const channels = config.numFeatures;
    const normed = layerNorm(x, w.read('norm.weight'), w.read('norm.bias'), EPS);
    const features = { shape: [height, width, channels], data: normed.data };
    record('features', features);
    const pooled = config.globalPool === 'avg' ? meanRows(normed) : features;
    record('pre_logits', pooled);
    record('logits', config.numClasses > 0 ? linear(pooled, w.read('head.fc.weight'), w.read('head.fc.bias'), config.numClasses) : pooled);
  }
  return outputs();
}

/**
 * The original Microsoft PatchMerging: pad odd sizes, cat(x[0::2, 0::2], x[1::2, 0::2],
 * x[0::2, 1::2], x[1::2, 1::2]) over channels, LayerNorm(4C), Linear(4C → 2C) without bias.
 */
function patchMerging(x: Array64, height: number, width: number, prefix: string, outChannels: number, w: WeightReader): [Array64, number, number] {
  const channels = x.shape[1]!;
  const outHeight = Math.ceil(height / 2);
  const outWidth = Math.ceil(width / 2);
  const merged = array64([outHeight * outWidth, 4 * channels]);
  const offsets = [
    [0, 0],
    [1, 0],
    [0, 1],
    [1, 1],
  ] as const;
  for (let y = 0; y < outHeight; y++)
    for (let xx = 0; xx < outWidth; xx++)
      offsets.forEach(([dy, dx], part) => {
        const [sy, sx] = [2 * y + dy, 2 * xx + dx];
        if (sy < height && sx < width) merged.data.set(x.data.subarray((sy * width + sx) * channels, (sy * width + sx + 1) * channels), (y * outWidth + xx) * 4 * channels + part * channels);
      });
  const normed = layerNorm(merged, w.read(`${prefix}.norm.weight`), w.read(`${prefix}.norm.bias`), EPS);
  return [linear(normed, w.read(`${prefix}.reduction.weight`), undefined, outChannels), outHeight, outWidth];
}

/**
 * timm's `SwinTransformerBlock._attn` on one image's normed tokens [H·W, C]: roll by -shift, pad
 * bottom/right with zeros, partition into windows (row-major windows, row-major tokens), window
 * attention, reverse, crop, roll back, proj. Returns the projected output and the probabilities
 * [windows, heads, N, N].
 */
function windowAttention(
  x: Array64,
  height: number,
  width: number,
  block: { prefix: string; heads: number; headDim: number; window: readonly [number, number]; shift: readonly [number, number]; w: WeightReader },
): { output: Array64; probabilities: Array64 } {
  const { prefix, heads, headDim, window, shift, w } = block;
  const channels = x.shape[1]!;
  const [wh, ww] = window;
  const [sh, sw] = shift;
  const paddedHeight = Math.ceil(height / wh) * wh;
  const paddedWidth = Math.ceil(width / ww) * ww;
  const attentionDim = heads * headDim;
  const area = wh * ww;
  const table = w.read(`${prefix}.relative_position_bias_table`);
  // get_attn_mask: regions [0, -w), [-w, -s), [-s, None) per axis, Python slices assigned in order.
  const region = (i: number, padded: number, size: number, s: number) => {
    const bounds = [
      [0, padded - size],
      [padded - size, padded - s],
      [s === 0 ? 0 : padded - s, padded],
    ];
    let last = 0;
    bounds.forEach(([begin, end], index) => {
      if (i >= begin! && i < end!) last = index;
    });
    return last;
  };
  const shifted = sh > 0 || sw > 0;

  // Rolled and padded map: position (y, x) holds token ((y + sh) % H, (x + sw) % W), zeros beyond H×W.
  const map = array64([paddedHeight * paddedWidth, channels]);
  for (let y = 0; y < height; y++)
    for (let xx = 0; xx < width; xx++) {
      const source = ((y + sh) % height) * width + ((xx + sw) % width);
      map.data.set(x.data.subarray(source * channels, (source + 1) * channels), (y * paddedWidth + xx) * channels);
    }

  const attended = array64([paddedHeight * paddedWidth, attentionDim]);
  const windows: Array64[] = [];
  for (let wy = 0; wy < paddedHeight / wh; wy++)
    for (let wx = 0; wx < paddedWidth / ww; wx++) {
      const positions: [number, number][] = [];
      for (let ty = 0; ty < wh; ty++) for (let tx = 0; tx < ww; tx++) positions.push([wy * wh + ty, wx * ww + tx]);
      const tokens = array64([area, channels]);
      positions.forEach(([py, px], i) => tokens.data.set(map.data.subarray((py * paddedWidth + px) * channels, (py * paddedWidth + px + 1) * channels), i * channels));
      const qkv = linear(tokens, w.read(`${prefix}.qkv.weight`), w.optional(`${prefix}.qkv.bias`), 3 * attentionDim);
      const bias = (h: number, i: number, j: number) => {
        const [yi, xi] = [Math.floor(i / ww), i % ww];
        const [yj, xj] = [Math.floor(j / ww), j % ww];
        const relative = table[((yi - yj + wh - 1) * (2 * ww - 1) + (xi - xj + ww - 1)) * heads + h]!;
        if (!shifted) return relative;
        const [pyi, pxi] = positions[i]!;
        const [pyj, pxj] = positions[j]!;
        const same = region(pyi, paddedHeight, wh, sh) === region(pyj, paddedHeight, wh, sh) && region(pxi, paddedWidth, ww, sw) === region(pxj, paddedWidth, ww, sw);
        return relative + (same ? 0 : -100);
      };
      const result = multiHeadAttention(
        columns(qkv, 0, attentionDim),
        columns(qkv, attentionDim, 2 * attentionDim),
        columns(qkv, 2 * attentionDim, 3 * attentionDim),
        heads,
        headDim ** -0.5,
        bias,
      );
      windows.push(result.probabilities);
      positions.forEach(([py, px], i) => attended.data.set(result.output.data.subarray(i * attentionDim, (i + 1) * attentionDim), (py * paddedWidth + px) * attentionDim));
    }

  // Crop, roll back by (+sh, +sw): token (y, x) comes from position ((y - sh) mod H, (x - sw) mod W).
  const restored = array64([height * width, attentionDim]);
  for (let y = 0; y < height; y++)
    for (let xx = 0; xx < width; xx++) {
      const sy = (((y - sh) % height) + height) % height;
      const sx = (((xx - sw) % width) + width) % width;
      restored.data.set(attended.data.subarray((sy * paddedWidth + sx) * attentionDim, (sy * paddedWidth + sx + 1) * attentionDim), (y * width + xx) * attentionDim);
    }
  return { output: linear(restored, w.read(`${prefix}.proj.weight`), w.read(`${prefix}.proj.bias`), channels), probabilities: stack(windows) };
}
