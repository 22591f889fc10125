/**
 * An example third-party architecture, "patchpool": it uses only vitzoo's public interfaces
 * (`Architecture` from @vitzoo/core, the graph layers of @vitzoo/onnx/layers that every built-in
 * architecture is made of) and is registered at run time, e.g.
 * `vitzoo --plugin ./examples/plugin-patchpool verify <case>`. Built on the shared layers, it gets
 * the build options for free: weight precision (`dtype`) in its Linear layer, checkpoint keys
 * checked with typed errors, vitzoo's node-naming rule.
 *
 * forward: Conv2d(in_chans → dim, kernel = stride = patch) → tokens [B, N, dim] → LayerNorm (eps 1e-6)
 * = features; mean over tokens = pre_logits; Linear(dim → num_classes) = logits.
 */
import { KwargsReader, InvalidConfigError, pretrainedConfig, type Architecture } from '@vitzoo/core';
import { GraphLayers } from '@vitzoo/onnx/layers';

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
    const layers = new GraphLayers(weights, { ...options, architecture: 'patchpool', builderVersion: '2' });
    const { g } = layers;
    const tokens = c.grid * c.grid;
    const pixels = g.input('pixel_values', 'float32', ['batch', c.inChans, c.imgSize, c.imgSize]);
    const grid = layers.conv(pixels, 'patch_embed', { kernelShape: [c.patchSize, c.patchSize], strides: [c.patchSize, c.patchSize] });
    const features = layers.layerNorm(layers.imageToTokens(grid, c.embedDim), 'norm', 1e-6);
    const pooled = g.reduceMean(features, [1]);
    return layers.finish({
      features: () => ({ value: features, shape: ['batch', tokens, c.embedDim] }),
      pre_logits: () => ({ value: pooled, shape: ['batch', c.embedDim] }),
      logits: () => ({ value: layers.linear(pooled, 'head'), shape: ['batch', c.numClasses] }),
    });
  },
};

export default patchpool;
