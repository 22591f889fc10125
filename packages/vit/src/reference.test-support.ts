/**
 * Test support: timm's VisionTransformer / VisionTransformerDistilled forward pass transcribed
 * loop by loop in float64 (one image at a time), for the configuration sweeps. Shares no code with
 * the graph builder; the building blocks are @vitzoo/conformance/reference's.
 */
import type { StateDict, Tensor } from '@vitzoo/core';
import {
  add,
  array64,
  at,
  concatRows,
  conv2d,
  fromTensor,
  gelu,
  imageToTokens,
  layerNorm,
  linear,
  map,
  multiHeadAttention,
  resampleGridBicubicAntialias,
  rows,
  scaleChannels,
  stack,
  tokensToImage,
  weightReader,
  type Array64,
} from '@vitzoo/conformance/reference';
import type { ReferenceOutputs } from '@vitzoo/conformance/sweep';
import type { VisionTransformerConfig } from './config.js';

export function referenceVisionTransformer(config: VisionTransformerConfig, weights: StateDict, pixels: Tensor): ReferenceOutputs {
  const w = weightReader(weights);
  const input = fromTensor(pixels);
  const batch = input.shape[0]!;
  const dim = config.embedDim;
  const eps = config.layerNormEps;
  const [ph, pw] = config.patchSize;
  const prefix = config.numPrefixTokens;
  const perImage: Record<string, Array64[]> = {};
  const record = (name: string, value: Array64) => (perImage[name] ??= []).push(value);

  for (let b = 0; b < batch; b++) {
    // PatchEmbed: Conv2d(kernel = stride = patch), flatten row-major.
    const grid = conv2d(at(input, b), w.read('patch_embed.proj.weight'), w.optional('patch_embed.proj.bias'), {
      outChannels: dim,
      kernel: [ph, pw],
      stride: [ph, pw],
    });
    const [gh, gw] = [grid.shape[1]!, grid.shape[2]!];
    let patches = imageToTokens(grid);

    // _pos_embed (resample_abs_pos_embed to the input's grid when dynamic_img_size).
    let position: Array64 | undefined;
    if (config.posEmbed === 'learn') {
      const table = fromTensor(weights.pos_embed!);
      const flat = { shape: [table.shape[1]!, dim], data: table.data };
      const embedPrefix = config.noEmbedClass ? 0 : prefix;
      const [oh, ow] = config.gridSize;
      position =
        oh === gh && ow === gw
          ? flat
          : concatRows([rows(flat, 0, embedPrefix), resampleGridBicubicAntialias(rows(flat, embedPrefix, embedPrefix + oh * ow), [oh, ow], [gh, gw])]);
    }
    const prefixTokens: Array64[] = [];
    if (config.classToken) prefixTokens.push(array64([1, dim], w.read('cls_token')));
    if (config.distilled) prefixTokens.push(array64([1, dim], w.read('dist_token')));
    if (config.regTokens > 0) prefixTokens.push(array64([config.regTokens, dim], w.read('reg_token')));
    let x: Array64;
    if (config.noEmbedClass) {
      if (position) patches = add(patches, position);
      x = concatRows([...prefixTokens, patches]);
    } else {
      x = concatRows([...prefixTokens, patches]);
      if (position) x = add(x, position);
    }
    if (config.preNorm) x = layerNorm(x, w.read('norm_pre.weight'), w.read('norm_pre.bias'), eps);

    const tokens = x.shape[0]!;
    let rollout: Array64 | undefined;
    for (let i = 0; i < config.depth; i++) {
      const p = `blocks.${i}`;
      const normed = layerNorm(x, w.read(`${p}.norm1.weight`), w.read(`${p}.norm1.bias`), eps);
      const qkv = linear(normed, w.read(`${p}.attn.qkv.weight`), w.optional(`${p}.attn.qkv.bias`), 3 * dim);
      const part = (index: number) => {
        const out = array64([tokens, dim]);
        for (let t = 0; t < tokens; t++) for (let c = 0; c < dim; c++) out.data[t * dim + c] = qkv.data[t * 3 * dim + index * dim + c]!;
        return out;
      };
      let [q, k] = [part(0), part(1)];
      const v = part(2);
      if (config.qkNorm) {
        const perHead = (value: Array64, name: string) => {
          const heads = { shape: [tokens * config.numHeads, config.headDim], data: value.data };
          const normedHeads = layerNorm(heads, w.read(`${p}.attn.${name}.weight`), w.read(`${p}.attn.${name}.bias`), eps);
          return { shape: [tokens, dim], data: normedHeads.data };
        };
        q = perHead(q, 'q_norm');
        k = perHead(k, 'k_norm');
      }
      const attended = multiHeadAttention(q, k, v, config.numHeads, config.headDim ** -0.5);
      record(`attention.${p}.attn`, attended.probabilities);
      let branch = linear(attended.output, w.read(`${p}.attn.proj.weight`), w.optional(`${p}.attn.proj.bias`), dim);
      if (w.has(`${p}.ls1.gamma`)) branch = scaleChannels(branch, w.read(`${p}.ls1.gamma`));
      x = add(x, branch);
      const hidden = map(linear(layerNorm(x, w.read(`${p}.norm2.weight`), w.read(`${p}.norm2.bias`), eps), w.read(`${p}.mlp.fc1.weight`), w.read(`${p}.mlp.fc1.bias`), config.mlpHidden), gelu);
      let mlp = linear(hidden, w.read(`${p}.mlp.fc2.weight`), w.read(`${p}.mlp.fc2.bias`), dim);
      if (w.has(`${p}.ls2.gamma`)) mlp = scaleChannels(mlp, w.read(`${p}.ls2.gamma`));
      x = add(x, mlp);
      record(`intermediates.${i}`, tokensToImage(rows(x, prefix, tokens), gh, gw));

      // Rollout (mean head fusion): a = (mean_h(P) + I) / 2, rows normalised; R = a · R.
      const a = array64([tokens, tokens]);
      for (let r = 0; r < tokens; r++) {
        let total = 0;
        for (let c = 0; c < tokens; c++) {
          let mean = 0;
          for (let h = 0; h < config.numHeads; h++) mean += attended.probabilities.data[(h * tokens + r) * tokens + c]!;
          const value = (mean / config.numHeads + (r === c ? 1 : 0)) / 2;
          a.data[r * tokens + c] = value;
          total += value;
        }
        for (let c = 0; c < tokens; c++) a.data[r * tokens + c] = a.data[r * tokens + c]! / total;
      }
      if (!rollout) rollout = a;
      else {
        const next = array64([tokens, tokens]);
        for (let r = 0; r < tokens; r++)
          for (let c = 0; c < tokens; c++) {
            let sum = 0;
            for (let m = 0; m < tokens; m++) sum += a.data[r * tokens + m]! * rollout.data[m * tokens + c]!;
            next.data[r * tokens + c] = sum;
          }
        rollout = next;
      }
    }
    if (config.classToken && rollout) {
      const row = rollout.data.slice(prefix, tokens);
      const max = Math.max(...row);
      record('rollout', array64([gh, gw], row.map((value) => value / max)));
    }

    const features = config.finalNorm && !config.fcNorm ? layerNorm(x, w.read('norm.weight'), w.read('norm.bias'), eps) : x;
    record('features', features);
    let pooled: Array64;
    if (config.distilled) {
      pooled = array64([dim], features.data.slice(0, dim).map((value, c) => (value + features.data[dim + c]!) / 2));
    } else {
      const patchRows = rows(features, prefix, tokens);
      const mean = () => array64([dim], Array.from({ length: dim }, (_, c) => patchRows.data.filter((_, i) => i % dim === c).reduce((s, v) => s + v, 0) / (tokens - prefix)));
      const max = () => array64([dim], Array.from({ length: dim }, (_, c) => Math.max(...patchRows.data.filter((_, i) => i % dim === c))));
      switch (config.globalPool) {
        case 'token':
          pooled = array64([dim], features.data.slice(0, dim));
          break;
        case 'avg':
          pooled = mean();
          break;
        case 'max':
          pooled = max();
          break;
        case 'avgmax':
          pooled = map(add(mean(), max()), (value) => value / 2);
          break;
        case '':
          pooled = features;
          break;
      }
      if (config.fcNorm) pooled = layerNorm(pooled, w.read('fc_norm.weight'), w.read('fc_norm.bias'), eps);
    }
    record('pre_logits', pooled);
    if (config.numClasses > 0) {
      const head = (name: string, value: Array64) => linear(value.shape.length === 1 ? array64([1, dim], value.data) : value, w.read(`${name}.weight`), w.read(`${name}.bias`), config.numClasses);
      const logits = config.distilled
        ? map(add(head('head', array64([dim], features.data.slice(0, dim))), head('head_dist', array64([dim], features.data.slice(dim, 2 * dim)))), (value) => value / 2)
        : head('head', pooled);
      record('logits', { shape: config.globalPool === '' && !config.distilled ? logits.shape : [config.numClasses], data: logits.data });
    } else {
      record('logits', pooled);
    }
  }
  const out: ReferenceOutputs = {};
  for (const [name, values] of Object.entries(perImage)) out[name] = stack(values);
  return out;
}
