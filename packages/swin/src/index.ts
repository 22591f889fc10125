/**
 * @vitzoo/swin: timm 1.0's Swin Transformer (`swin_transformer.SwinTransformer`). Internals (config
 * parsing, checkpoint filter, window geometry, graph builder) are on the `@vitzoo/swin/testing` entry.
 */
import type { Architecture } from '@vitzoo/core';
import { filterSwinCheckpoint } from './checkpoint.js';
import { parseSwinConfig, swinCheckpointShapes, swinOutputs, type SwinConfig } from './config.js';
import { buildSwinGraph, SWIN_BUILDER_VERSION } from './graph.js';
import { swinVariants } from './variants.js';

export type { Pair, SwinBlockGeometry, SwinConfig, SwinStageGeometry } from './config.js';

/** timm 1.0 `swin_transformer.SwinTransformer` (Swin Transformer v1). */
export const swin: Architecture<SwinConfig> = {
  specificationVersion: 'v1',
  id: 'swin',
  builderVersion: SWIN_BUILDER_VERSION,
  description: 'Swin Transformer (timm swin_transformer.SwinTransformer): shifted-window attention with relative-position bias',
  variants: swinVariants,
  parseConfig: parseSwinConfig,
  checkpointShapes: swinCheckpointShapes,
  filterCheckpoint: filterSwinCheckpoint,
  outputCatalog: swinOutputs,
  // timm: img_size; windows shrink to small grids and checkpoint_filter_fn resizes the bias tables (filterSwinCheckpoint).
  withImageSize: (kwargs, [height, width]) => ({ ...kwargs, img_size: [height, width] }),
  buildGraph: buildSwinGraph,
};
