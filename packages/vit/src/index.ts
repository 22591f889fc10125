import { type Architecture, type ParseHints } from '@vitzoo/core';
import { parseVisionTransformerConfig, visionTransformerShapes, type VisionTransformerConfig } from './config.js';
import { filterVisionTransformerCheckpoint } from './checkpoint-filter.js';
import { buildVisionTransformerGraph, VISION_TRANSFORMER_BUILDER_VERSION } from './graph.js';
import { visionTransformerVariants } from './variants.js';

export * from './config.js';
export * from './graph.js';
export * from './checkpoint-filter.js';
export { visionTransformerVariants } from './variants.js';

/** timm's `vision_transformer.VisionTransformer`. */
export const vit: Architecture<VisionTransformerConfig> = {
  specificationVersion: 'v1',
  id: 'vit',
  builderVersion: VISION_TRANSFORMER_BUILDER_VERSION,
  description: "Vision Transformer (timm vision_transformer.VisionTransformer)",
  variants: visionTransformerVariants,
  parseConfig: (kwargs, hints?: ParseHints) => parseVisionTransformerConfig(kwargs, 'vit', { allowDistilled: false, hints }),
  checkpointShapes: visionTransformerShapes,
  filterCheckpoint: filterVisionTransformerCheckpoint,
  buildGraph: (config, weights, options) => buildVisionTransformerGraph('vit', config, weights, options),
};
