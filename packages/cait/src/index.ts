/**
 * @vitzoo/cait: timm's CaiT (`cait.Cait`). Internals (config parsing, checkpoint filter, graph
 * builder) are on the `@vitzoo/cait/testing` entry.
 */
import type { Architecture } from '@vitzoo/core';
import { filterCaitCheckpoint } from './checkpoint.js';
import { caitCheckpointShapes, caitOutputs, parseCaitConfig, type CaitConfig } from './config.js';
import { buildCaitGraph, CAIT_BUILDER_VERSION } from './graph.js';
import { caitVariants } from './variants.js';

export type { CaitConfig } from './config.js';

/** timm `cait.Cait`: talking-heads self-attention with LayerScale, then class-attention blocks. */
export const cait: Architecture<CaitConfig> = {
  specificationVersion: 'v1',
  id: 'cait',
  builderVersion: CAIT_BUILDER_VERSION,
  description: 'CaiT (timm cait.Cait): talking-heads attention with LayerScale, class-attention head',
  variants: caitVariants,
  parseConfig: parseCaitConfig,
  checkpointShapes: caitCheckpointShapes,
  filterCheckpoint: filterCaitCheckpoint,
  outputCatalog: caitOutputs,
  buildGraph: buildCaitGraph,
};
