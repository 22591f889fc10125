/**
 * @vitzoo/vit: timm's Vision Transformer (`vision_transformer.VisionTransformer`). Internals
 * (config parsing, checkpoint filter, graph builder) are on the `@vitzoo/vit/testing` entry.
 */
import type { Architecture, ParseHints, VariantDefinition } from '@vitzoo/core';
import { parseVisionTransformerConfig, visionTransformerOutputs, visionTransformerShapes, type VisionTransformerConfig } from './config.js';
import { filterVisionTransformerCheckpoint } from './checkpoint.js';
import { buildVisionTransformerGraph, VISION_TRANSFORMER_BUILDER_VERSION } from './graph.js';
import { visionTransformerVariants } from './variants.js';

export type { GlobalPool, VisionTransformerConfig } from './config.js';

/**
 * An architecture on timm's VisionTransformer: `vit` itself, and families that reuse it (DeiT adds
 * the distillation token with `distilled: true`).
 */
export function createVisionTransformerArchitecture(settings: {
  id: string;
  description: string;
  variants: Readonly<Record<string, VariantDefinition>>;
  /** Accept DeiT's distilled form (a `distilled` kwarg, or a `dist_token` in the checkpoint). */
  distilled?: boolean;
}): Architecture<VisionTransformerConfig> {
  return {
    specificationVersion: 'v1',
    id: settings.id,
    builderVersion: VISION_TRANSFORMER_BUILDER_VERSION,
    description: settings.description,
    variants: settings.variants,
    parseConfig: (kwargs, hints?: ParseHints) => parseVisionTransformerConfig(kwargs, settings.id, { allowDistilled: settings.distilled ?? false, hints }),
    checkpointShapes: visionTransformerShapes,
    filterCheckpoint: filterVisionTransformerCheckpoint,
    outputCatalog: visionTransformerOutputs,
    // timm: img_size, and checkpoint_filter_fn resamples pos_embed (filterVisionTransformerCheckpoint).
    withImageSize: (kwargs, [height, width]) => ({ ...kwargs, img_size: [height, width] }),
    buildGraph: (config, weights, options) => buildVisionTransformerGraph(settings.id, config, weights, options),
  };
}

/** timm's `vision_transformer.VisionTransformer`. */
export const vit = createVisionTransformerArchitecture({
  id: 'vit',
  description: 'Vision Transformer (timm vision_transformer.VisionTransformer)',
  variants: visionTransformerVariants,
});
