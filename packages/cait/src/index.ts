import type { Architecture } from '@vitzoo/core';
import { caitCheckpointShapes, filterCaitCheckpoint } from './checkpoint.js';
import { parseCaitConfig, type CaitConfig } from './config.js';
import { buildCaitGraph } from './graph.js';
import { caitVariants } from './variants.js';

export { CAIT_LAYER_NORM_EPS, parseCaitConfig } from './config.js';
export type { CaitConfig } from './config.js';
export { caitCheckpointShapes, filterCaitCheckpoint } from './checkpoint.js';
export { buildCaitGraph } from './graph.js';
export { caitVariants } from './variants.js';

/** timm `cait.Cait`: talking-heads self-attention with LayerScale, then class-attention blocks. */
export const cait: Architecture<CaitConfig> = {
  specificationVersion: 'v1',
  id: 'cait',
  builderVersion: '1',
  description: 'CaiT (timm cait.Cait): talking-heads attention with LayerScale, class-attention head',
  variants: caitVariants,
  parseConfig: parseCaitConfig,
  checkpointShapes: caitCheckpointShapes,
  filterCheckpoint: filterCaitCheckpoint,
  buildGraph: buildCaitGraph,
};
