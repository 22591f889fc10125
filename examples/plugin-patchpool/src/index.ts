/**
 * An example third-party architecture, "patchpool": it uses only vitzoo's public interfaces
 * (`Architecture` from @vitzoo/core, `GraphBuilder` from @vitzoo/onnx) and is registered at run
 * time, e.g. `vitzoo --plugin ./examples/plugin-patchpool verify <case>`.
 *
 * forward: Conv2d(in_chans → dim, kernel = stride = patch) → tokens [B, N, dim] → LayerNorm (eps 1e-6)
 * = features; mean over tokens = pre_logits; Linear(dim → num_classes) = logits.
 */
import { KwargsReader, InvalidConfigError, pretrainedConfig, type Architecture, type OutputName } from '@vitzoo/core';
import { GraphBuilder, toBuiltGraph, type Value } from '@vitzoo/onnx';

export interface PatchPoolConfig {
  imgSize: number;
  patchSize: number;
  inChans: number;
  embedDim: number;
  numClasses: number;
  grid: number;
}

export const patchpool: Architecture<PatchPoolConfig> = {
  specificationVersion: 'v1',
  id: 'patchpool',
  description: 'Example plugin: patch embedding + LayerNorm + mean pooling + linear head',
  variants: {
    patchpool_tiny_32: {
      kwargs: { img_size: 32, patch_size: 8, embed_dim: 16, num_classes: 10 },
      pretrained: { untrained: pretrainedConfig({ size: 32, cropPct: 1, numClasses: 10, license: 'apache-2.0' }) },
    },
  },
  parseConfig(raw) {
    const kwargs = new KwargsReader(raw, 'patchpool');
    const imgSize = kwargs.int('img_size', 32, 1);
    const patchSize = kwargs.int('patch_size', 8, 1);
    const config = {
      imgSize,
      patchSize,
      inChans: kwargs.int('in_chans', 3, 1),
      embedDim: kwargs.int('embed_dim', 16, 1),
      numClasses: kwargs.int('num_classes', 10, 1),
      grid: imgSize / patchSize,
    };
    kwargs.finish();
    if (!Number.isInteger(config.grid)) throw new InvalidConfigError('img_size', imgSize, `a multiple of patch_size (${patchSize})`, 'patchpool');
    return config;
  },
  checkpointShapes: (c) => ({
    'patch_embed.weight': [c.embedDim, c.inChans, c.patchSize, c.patchSize],
    'patch_embed.bias': [c.embedDim],
    'norm.weight': [c.embedDim],
    'norm.bias': [c.embedDim],
    'head.weight': [c.numClasses, c.embedDim],
    'head.bias': [c.numClasses],
  }),
  buildGraph(c, weights, options) {
    const g = new GraphBuilder({ graphName: options.graphName ?? 'patchpool' });
    const w = (key: string): Value => g.weight(key, weights[key]!);
    const tokens = c.grid * c.grid;
    const pixels = g.input('pixel_values', 'float32', ['batch', c.inChans, c.imgSize, c.imgSize]);
    const conv = g.conv(pixels, w('patch_embed.weight'), w('patch_embed.bias'), { kernelShape: [c.patchSize, c.patchSize], strides: [c.patchSize, c.patchSize] });
    const sequence = g.transpose(g.reshape(conv, [0, c.embedDim, tokens]), [0, 2, 1]);
    const features = g.layerNormalization(sequence, w('norm.weight'), w('norm.bias'), 1e-6);
    const pooled = g.reduceMean(features, [1]);
    const logits = g.gemmTransB(pooled, w('head.weight'), w('head.bias'));
    const values: Record<OutputName, [Value, (number | string)[]]> = {
      logits: [logits, ['batch', c.numClasses]],
      pre_logits: [pooled, ['batch', c.embedDim]],
      features: [features, ['batch', tokens, c.embedDim]],
    };
    for (const name of options.outputs) g.output(values[name][0], name, 'float32', values[name][1]);
    return toBuiltGraph(g.build());
  },
};

export default patchpool;
