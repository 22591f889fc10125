/**
 * Test support: the authors' `PoolingTransformer` (AMD-AIG-AIMA/AMD_FDViT fdvit.py, with the
 * `Block` / `Attention` of that repo's vision_transformer.py) transcribed loop by loop in float64,
 * one image at a time, for the configuration sweep. The flexible downsampling is transcribed as the
 * reference computes it (grid_sample on the constant linspace grid), not as the graph does it
 * (Resize); it shares no code with the graph builder, the building blocks are
 * @vitzoo/conformance/reference's.
 */
import type { StateDict, Tensor } from '@vitzoo/core';
import {
  add,
  array64,
  at,
  conv2d,
  fromTensor,
  gridSampleBilinear,
  imageToTokens,
  layerNorm,
  linear,
  linspace,
  meanRows,
  mlp,
  multiHeadAttention,
  tokensToImage,
  weightReader,
  type Array64,
} from '@vitzoo/conformance/reference';
import { referenceRecorder, type ReferenceOutputs } from '@vitzoo/conformance/sweep';
import type { FdvitConfig } from './config.js';

const blockEps = 1e-6;
const poolEps = 1e-5;

/** Columns [start, start + width) of a [N, C] array. */
function columns(x: Array64, start: number, width: number): Array64 {
  const [rows, channels] = x.shape as [number, number];
  const out = array64([rows, width]);
  for (let r = 0; r < rows; r++) for (let c = 0; c < width; c++) out.data[r * width + c] = x.data[r * channels + start + c]!;
  return out;
}

export function referenceFdvit(config: FdvitConfig, weights: StateDict, pixels: Tensor): ReferenceOutputs {
  const w = weightReader(weights);
  const input = fromTensor(pixels);
  const batch = input.shape[0]!;
  const { record, outputs } = referenceRecorder();
  const stageCount = config.depth.length;
  const width = (s: number) => config.baseDims[s]! * config.heads[s]!;

  for (let b = 0; b < batch; b++) {
    // patch_embed: Conv2d(kernel patch_size, stride, padding 0); + pos_embed [1, D, W0, W0].
    let image = add(
      conv2d(at(input, b), w.read('patch_embed.conv.weight'), w.read('patch_embed.conv.bias'), {
        outChannels: width(0),
        kernel: [config.patchSize, config.patchSize],
        stride: [config.stride, config.stride],
      }),
      fromTensor(weights.pos_embed!),
    );
    let x!: Array64;
    let side = 0;
    for (let s = 0; s < stageCount; s++) {
      const dim = width(s);
      const heads = config.heads[s]!;
      const headDim = config.baseDims[s]!;
      side = image.shape[1]!;
      x = imageToTokens(image);
      for (let i = 0; i < config.depth[s]!; i++) {
        const p = `transformers.${s}.blocks.${i}`;
        const qkv = linear(layerNorm(x, w.read(`${p}.norm1.weight`), w.read(`${p}.norm1.bias`), blockEps), w.read(`${p}.attn.qkv.weight`), w.read(`${p}.attn.qkv.bias`), 3 * dim);
        const v = columns(qkv, 2 * dim, dim);
        const attended = multiHeadAttention(columns(qkv, 0, dim), columns(qkv, dim, dim), v, heads, headDim ** -0.5);
        record(`attention.${p}.attn`, attended.probabilities);
        // LePE: get_v (depthwise 3×3, padding 1) on v laid out as [D, h, w].
        const lepe = imageToTokens(
          conv2d(tokensToImage(v, side, side), w.read(`${p}.attn.get_v.weight`), w.read(`${p}.attn.get_v.bias`), { outChannels: dim, kernel: [3, 3], padding: [1, 1], groups: dim }),
        );
        x = add(x, linear(add(attended.output, lepe), w.read(`${p}.attn.proj.weight`), w.read(`${p}.attn.proj.bias`), dim));
        x = add(x, mlp(layerNorm(x, w.read(`${p}.norm2.weight`), w.read(`${p}.norm2.bias`), blockEps), w, `${p}.mlp`, Math.floor(dim * config.mlpRatio)));
      }
      record(`intermediates.${s}`, tokensToImage(x, side, side));
      if (s + 1 < stageCount) {
        // pools.s: LayerNorm (eps 1e-5) → image → grid_sample(bilinear, zeros, align_corners) on
        // linspace(-1, 1, out_size[s+1]) in both axes → Conv2d(k3, p1).
        const normed = layerNorm(x, w.read(`pools.${s}.ln.weight`), w.read(`pools.${s}.ln.bias`), poolEps);
        const grid = linspace(-1, 1, config.outSize[s + 1]!);
        const sampled = gridSampleBilinear(tokensToImage(normed, side, side), grid, grid, true);
        image = conv2d(sampled, w.read(`pools.${s}.conv.weight`), w.read(`pools.${s}.conv.bias`), { outChannels: width(s + 1), kernel: [3, 3], padding: [1, 1] });
      }
    }

    // forward_features (eval): norm, mean over tokens; head.
    const features = meanRows(layerNorm(x, w.read('norm.weight'), w.read('norm.bias'), blockEps));
    record('features', features);
    record('pre_logits', features);
    record('logits', config.numClasses > 0 ? linear(features, w.read('head.weight'), w.read('head.bias'), config.numClasses) : features);
  }
  return outputs();
}
