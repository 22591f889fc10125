/**
 * Test support: the authors' `CSWinTransformer` (microsoft/CSWin-Transformer models/cswin.py)
 * transcribed loop by loop in float64, one image and one stripe window at a time, for the
 * configuration sweep. It re-derives the stripe geometry from the constructor's arguments (not from
 * the parsed stages the graph uses) and shares no code with the graph builder; the building blocks
 * are @vitzoo/conformance/reference's.
 */
import type { StateDict, Tensor } from '@vitzoo/core';
import {
  add,
  array64,
  at,
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
} from '@vitzoo/conformance/reference';
import { referenceRecorder, type ReferenceOutputs } from '@vitzoo/conformance/sweep';
import type { CswinConfig } from './config.js';

const eps = 1e-5;

/** Columns [start, start + width) of the rows at `positions` of a [N, C] array. */
function gather(x: Array64, positions: readonly number[], start: number, width: number): Array64 {
  const channels = x.shape[1]!;
  const out = array64([positions.length, width]);
  positions.forEach((p, row) => {
    for (let c = 0; c < width; c++) out.data[row * width + c] = x.data[p * channels + start + c]!;
  });
  return out;
}

export function referenceCswin(config: CswinConfig, weights: StateDict, pixels: Tensor): ReferenceOutputs {
  const w = weightReader(weights);
  const input = fromTensor(pixels);
  const batch = input.shape[0]!;
  const { record, outputs } = referenceRecorder();

  for (let b = 0; b < batch; b++) {
    // stage1_conv_embed: Conv2d(k7, s4, p2) → 'b c h w -> b (h w) c' → LayerNorm.
    const stem = conv2d(at(input, b), w.read('stage1_conv_embed.0.weight'), w.read('stage1_conv_embed.0.bias'), {
      outChannels: config.embedDim,
      kernel: [7, 7],
      stride: [4, 4],
      padding: [2, 2],
    });
    let side = stem.shape[1]!;
    let x = layerNorm(imageToTokens(stem), w.read('stage1_conv_embed.2.weight'), w.read('stage1_conv_embed.2.bias'), eps);
    let dim = config.embedDim;

    for (let stage = 0; stage < 4; stage++) {
      if (stage > 0) {
        // Merge_Block: Conv2d(dim → 2·dim, k3, s2, p1) on the token image, then LayerNorm.
        const p = `merge${stage}`;
        const merged = conv2d(tokensToImage(x, side, side), w.read(`${p}.conv.weight`), w.read(`${p}.conv.bias`), {
          outChannels: 2 * dim,
          kernel: [3, 3],
          stride: [2, 2],
          padding: [1, 1],
        });
        dim *= 2;
        side = merged.shape[1]!;
        x = layerNorm(imageToTokens(merged), w.read(`${p}.norm.weight`), w.read(`${p}.norm.bias`), eps);
      }
      // CSWinBlock(reso = img_size // 4·2^stage, split_size = split_size[stage] (stage 4: [-1])).
      const reso = Math.floor(config.imgSize / (4 * 2 ** stage));
      const splitSize = stage === 3 ? config.splitSize[config.splitSize.length - 1]! : config.splitSize[stage]!;
      const numHeads = config.numHeads[stage]!;
      const lastStage = stage === 3 || reso === splitSize;
      for (let i = 0; i < config.depth[stage]!; i++) {
        const p = `stage${stage + 1}.${i}`;
        if (side * side !== reso * reso) throw new Error(`reference: flatten img_size error (${side}² tokens, reso ${reso})`);
        const qkv = linear(layerNorm(x, w.read(`${p}.norm1.weight`), w.read(`${p}.norm1.bias`), eps), w.read(`${p}.qkv.weight`), w.optional(`${p}.qkv.bias`), 3 * dim);
        const attended = array64([side * side, dim]);
        // LePEAttention(dim // 2, idx 0 | 1, num_heads // 2) × 2, or one (idx -1) on all channels.
        const branches = lastStage
          ? [{ start: 0, width: dim, heads: numHeads, hSp: reso, wSp: reso }]
          : [
              { start: 0, width: Math.floor(dim / 2), heads: Math.floor(numHeads / 2), hSp: reso, wSp: splitSize },
              { start: Math.floor(dim / 2), width: Math.floor(dim / 2), heads: Math.floor(numHeads / 2), hSp: splitSize, wSp: reso },
            ];
        branches.forEach((branch, j) => {
          const headDim = Math.floor(branch.width / branch.heads);
          const scale = config.qkScale || headDim ** -0.5;
          const probabilities: Array64[] = [];
          for (let wy = 0; wy < side / branch.hSp; wy++) {
            for (let wx = 0; wx < side / branch.wSp; wx++) {
              const positions: number[] = [];
              for (let r = 0; r < branch.hSp; r++) for (let c = 0; c < branch.wSp; c++) positions.push((wy * branch.hSp + r) * side + wx * branch.wSp + c);
              const q = gather(qkv, positions, branch.start, branch.width);
              const k = gather(qkv, positions, dim + branch.start, branch.width);
              const v = gather(qkv, positions, 2 * dim + branch.start, branch.width);
              const result = multiHeadAttention(q, k, v, branch.heads, scale);
              probabilities.push(result.probabilities);
              // LePE: get_v (depthwise 3×3, padding 1) on this window's v image alone.
              const lepe = imageToTokens(
                conv2d(tokensToImage(v, branch.hSp, branch.wSp), w.read(`${p}.attns.${j}.get_v.weight`), w.read(`${p}.attns.${j}.get_v.bias`), {
                  outChannels: branch.width,
                  kernel: [3, 3],
                  padding: [1, 1],
                  groups: branch.width,
                }),
              );
              const out = add(result.output, lepe);
              positions.forEach((position, row) => {
                for (let c = 0; c < branch.width; c++) attended.data[position * dim + branch.start + c] = out.data[row * branch.width + c]!;
              });
            }
          }
          record(`attention.${p}.attns.${j}`, stack(probabilities));
        });
        x = add(x, linear(attended, w.read(`${p}.proj.weight`), w.read(`${p}.proj.bias`), dim));
        x = add(x, mlp(layerNorm(x, w.read(`${p}.norm2.weight`), w.read(`${p}.norm2.bias`), eps), w, `${p}.mlp`, Math.floor(dim * config.mlpRatio)));
      }
      record(`intermediates.${stage}`, tokensToImage(x, side, side));
    }

    // forward_features: norm, mean over tokens; head.
    const features = meanRows(layerNorm(x, w.read('norm.weight'), w.read('norm.bias'), eps));
    record('features', features);
    record('pre_logits', features);
    record('logits', config.numClasses > 0 ? linear(features, w.read('head.weight'), w.read('head.bias'), config.numClasses) : features);
  }
  return outputs();
}
