import type { Architecture } from '@vitzoo/core';
import { filterSwinCheckpoint, swinCheckpointShapes } from './checkpoint.js';
import { parseSwinConfig, type SwinConfig } from './config.js';
import { buildSwinGraph } from './graph.js';
import { swinVariants } from './variants.js';

export { parseSwinConfig, SWIN_LAYER_NORM_EPS } from './config.js';
export type { Pair, SwinBlockGeometry, SwinConfig, SwinStageGeometry } from './config.js';
export { filterSwinCheckpoint, isMicrosoftLayout, resizeRelativePositionBiasTable, swinCheckpointShapes } from './checkpoint.js';
export { buildSwinGraph } from './graph.js';
export { swinVariants } from './variants.js';
export {
  gatherRelativePositionBias,
  relativePositionIndex,
  shiftedWindowMask,
  windowPartitionIndex,
  windowReverseIndex,
} from './windows.js';

/** timm 1.0 `swin_transformer.SwinTransformer` (Swin Transformer v1). */
export const swin: Architecture<SwinConfig> = {
  specificationVersion: 'v1',
  id: 'swin',
  builderVersion: '2',
  description: 'Swin Transformer (timm swin_transformer.SwinTransformer): shifted-window attention with relative-position bias',
  variants: swinVariants,
  parseConfig: parseSwinConfig,
  checkpointShapes: swinCheckpointShapes,
  filterCheckpoint: filterSwinCheckpoint,
  buildGraph: buildSwinGraph,
};
