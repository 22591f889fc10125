/**
 * Test support: timm's `Cait` forward pass transcribed loop by loop in float64 (one image at a
 * time): talking-heads attention written out head by head, class attention, LayerScale. Shares no
 * code with the graph builder; the building blocks are @vitzoo/conformance/reference's.
 */
import type { StateDict, Tensor } from '@vitzoo/core';
import {
  add,
  array64,
  at,
  columns,
  concatRows,
  conv2d,
  fromTensor,
  imageToTokens,
  layerNorm,
  linear,
  meanRows,
  mlp,
  multiHeadAttention,
  rows,
  scaleChannels,
  softmaxRow,
  tokensToImage,
  weightReader,
  type Array64,
  type WeightReader,
} from '@vitzoo/conformance/reference';
import { referenceRecorder, type ReferenceOutputs } from '@vitzoo/conformance/sweep';
import type { CaitConfig } from './config.js';

const EPS = 1e-6;

export function referenceCait(config: CaitConfig, weights: StateDict, pixels: Tensor): ReferenceOutputs {
  const w = weightReader(weights);
  const input = fromTensor(pixels);
  const dim = config.embedDim;
  const tokens = config.numPatches;
  const { record, outputs } = referenceRecorder();

  for (let b = 0; b < input.shape[0]!; b++) {
    const grid = conv2d(at(input, b), w.read('patch_embed.proj.weight'), w.read('patch_embed.proj.bias'), { outChannels: dim, kernel: config.patchSize, stride: config.patchSize });
    const [gridHeight, gridWidth] = [grid.shape[1]!, grid.shape[2]!];
    let x = add(imageToTokens(grid), array64([tokens, dim], w.read('pos_embed')));

    for (let i = 0; i < config.depth; i++) {
      const p = `blocks.${i}`;
      const attended = talkingHeadAttention(layerNorm(x, w.read(`${p}.norm1.weight`), w.read(`${p}.norm1.bias`), EPS), `${p}.attn`, config, w);
      record(`attention.${p}.attn`, attended.probabilities);
      x = add(x, scaleChannels(attended.output, w.read(`${p}.gamma_1`)));
      x = add(x, scaleChannels(mlp(layerNorm(x, w.read(`${p}.norm2.weight`), w.read(`${p}.norm2.bias`), EPS), w, `${p}.mlp`, config.mlpHidden), w.read(`${p}.gamma_2`)));
      record(`intermediates.${i}`, tokensToImage(x, gridHeight, gridWidth));
    }

    // Class attention: u = cat(cls, x); cls += gamma_1 · ClassAttn(norm1(u)); cls += gamma_2 · mlp(norm2(cls)).
    let cls = array64([1, dim], w.read('cls_token'));
    for (let i = 0; i < config.depthTokenOnly; i++) {
      const p = `blocks_token_only.${i}`;
      const u = layerNorm(concatRows([cls, x]), w.read(`${p}.norm1.weight`), w.read(`${p}.norm1.bias`), EPS);
      const projection = (name: string, value: Array64) => linear(value, w.read(`${p}.attn.${name}.weight`), w.optional(`${p}.attn.${name}.bias`), dim);
      const attended = multiHeadAttention(projection('q', rows(u, 0, 1)), projection('k', u), projection('v', u), config.numHeads, config.headDim ** -0.5);
      record(`attention.${p}.attn`, attended.probabilities);
      cls = add(cls, scaleChannels(linear(attended.output, w.read(`${p}.attn.proj.weight`), w.read(`${p}.attn.proj.bias`), dim), w.read(`${p}.gamma_1`)));
      cls = add(cls, scaleChannels(mlp(layerNorm(cls, w.read(`${p}.norm2.weight`), w.read(`${p}.norm2.bias`), EPS), w, `${p}.mlp`, config.mlpHiddenTokenOnly), w.read(`${p}.gamma_2`)));
    }

    const features = layerNorm(concatRows([cls, x]), w.read('norm.weight'), w.read('norm.bias'), EPS);
    record('features', features);
    const pooled = config.globalPool === 'token' ? array64([dim], features.data.slice(0, dim)) : config.globalPool === 'avg' ? meanRows(rows(features, 1, tokens + 1)) : features;
    record('pre_logits', pooled);
    record('logits', config.numClasses > 0 ? linear(pooled, w.read('head.weight'), w.read('head.bias'), config.numClasses) : pooled);
  }
  return outputs();
}

/**
 * timm's `TalkingHeadAttn` on one image's tokens [N, C]: logits[h] = (q_h · scale) k_hᵀ; proj_l mixes
 * the heads (logits'[o] = Σ_h W_l[o, h] logits[h] + b_l[o]); softmax over keys; proj_w mixes the
 * heads again (the probabilities returned, [heads, N, N]); out_o = P'[o] v_o; proj.
 */
function talkingHeadAttention(x: Array64, prefix: string, config: CaitConfig, w: WeightReader): { output: Array64; probabilities: Array64 } {
  const { embedDim: dim, numHeads: heads, headDim } = config;
  const count = x.shape[0]!;
  const qkv = linear(x, w.read(`${prefix}.qkv.weight`), w.optional(`${prefix}.qkv.bias`), 3 * dim);
  const [q, k, v] = [columns(qkv, 0, dim), columns(qkv, dim, 2 * dim), columns(qkv, 2 * dim, 3 * dim)];
  const scale = headDim ** -0.5;
  const logits = array64([heads, count, count]);
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < count; i++)
      for (let j = 0; j < count; j++) {
        let dot = 0;
        for (let d = 0; d < headDim; d++) dot += q.data[i * dim + h * headDim + d]! * scale * k.data[j * dim + h * headDim + d]!;
        logits.data[(h * count + i) * count + j] = dot;
      }
  const mix = (values: Array64, name: string) => {
    const weight = w.read(`${prefix}.${name}.weight`);
    const bias = w.read(`${prefix}.${name}.bias`);
    const out = array64([heads, count, count]);
    for (let o = 0; o < heads; o++)
      for (let e = 0; e < count * count; e++) {
        let sum = bias[o]!;
        for (let h = 0; h < heads; h++) sum += weight[o * heads + h]! * values.data[h * count * count + e]!;
        out.data[o * count * count + e] = sum;
      }
    return out;
  };
  const probabilities = mix(logits, 'proj_l');
  for (let row = 0; row < heads * count; row++) softmaxRow(probabilities.data.subarray(row * count, (row + 1) * count));
  const mixed = mix(probabilities, 'proj_w');
  const out = array64([count, dim]);
  for (let h = 0; h < heads; h++)
    for (let i = 0; i < count; i++)
      for (let d = 0; d < headDim; d++) {
        let sum = 0;
        for (let j = 0; j < count; j++) sum += mixed.data[(h * count + i) * count + j]! * v.data[j * dim + h * headDim + d]!;
        out.data[i * dim + h * headDim + d] = sum;
      }
  return { output: linear(out, w.read(`${prefix}.proj.weight`), w.read(`${prefix}.proj.bias`), dim), probabilities: mixed };
}
