/**
 * @vitzoo/fdvit: FDViT (Xu et al., ICCV 2023), AMD-AIG-AIMA/AMD_FDViT `fdvit.py`
 * `PoolingTransformer`. Internals (config parsing, checkpoint filter, graph builder, variants) are
 * on the `@vitzoo/fdvit/testing` entry.
 */
import type { Architecture } from '@vitzoo/core';
import { fdvitCheckpointShapes, fdvitOutputs, parseFdvitConfig, type FdvitConfig } from './config.js';
import { filterFdvitCheckpoint } from './checkpoint.js';
import { buildFdvitGraph, FDVIT_BUILDER_VERSION } from './graph.js';
import { fdvitVariants } from './variants.js';

export type { FdvitConfig, FdvitStage } from './config.js';

/**
 * FDViT: ViT blocks with LePE attention and flexible (non-integer stride) bilinear + conv
 * downsampling between stages. Checkpoint keys are the authors' own state_dict names.
 */
export const fdvit: Architecture<FdvitConfig> = {
  specificationVersion: 'v1',
  id: 'fdvit',
  builderVersion: FDVIT_BUILDER_VERSION,
  description: 'FDViT (AMD-AIG-AIMA/AMD_FDViT fdvit.py PoolingTransformer)',
  variants: fdvitVariants,
  parseConfig: parseFdvitConfig,
  checkpointShapes: fdvitCheckpointShapes,
  filterCheckpoint: filterFdvitCheckpoint,
  outputCatalog: fdvitOutputs,
  buildGraph: buildFdvitGraph,
};
