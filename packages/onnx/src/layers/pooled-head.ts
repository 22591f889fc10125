import type { BuiltGraph } from '@vitzoo/core';
import type { Value } from '../builder.js';
import type { GraphLayers } from './graph-layers.js';

/**
 * Records row-major tokens `[B, height·width, C]` as the NCHW map `[B, C, height, width]` under the
 * output `name` (e.g. a stage's `intermediates.<i>`), when that output was requested.
 */
export function produceTokenImage(layers: GraphLayers, name: string, tokens: Value, channels: number, height: number, width: number): void {
  if (!layers.wants(name)) return;
  layers.produce(name, layers.module(name, () => layers.tokensToImage(tokens, channels, height, width)), ['batch', channels, height, width]);
}

/**
 * Finishes a model whose `forward_features` ends with a LayerNorm over the tokens `[B, N, C]` and
 * their mean (CSWin, FDViT): `features` and `pre_logits` are that `[B, C]` vector, `logits` the
 * `head` Linear of it (or the vector itself when there are no classes).
 */
export function finishMeanPooled(layers: GraphLayers, tokens: Value, options: { channels: number; numClasses: number; epsilon: number; norm?: string; head?: string }): BuiltGraph {
  const norm = options.norm ?? 'norm';
  const features = layers.module(norm, () => layers.g.reduceMean(layers.layerNorm(tokens, norm, options.epsilon), [1]));
  const pooled = { value: features, shape: ['batch', options.channels] };
  return layers.finish({
    features: () => pooled,
    pre_logits: () => pooled,
    logits: () => (options.numClasses > 0 ? { value: layers.linear(features, options.head ?? 'head'), shape: ['batch', options.numClasses] } : pooled),
  });
}
