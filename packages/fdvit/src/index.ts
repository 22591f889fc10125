import { dropKeys, type Architecture, type StateDict } from '@vitzoo/core';
import { fdvitCheckpointShapes, parseFdvitConfig, type FdvitConfig } from './config.js';
import { buildFdvitGraph } from './graph.js';
import { fdvitVariants } from './variants.js';

export { BLOCK_LAYER_NORM_EPSILON, POOL_LAYER_NORM_EPSILON, fdvitCheckpointShapes, parseFdvitConfig } from './config.js';
export type { FdvitConfig, FdvitStage } from './config.js';
export { buildFdvitGraph } from './graph.js';
export { fdvitVariants, type FdvitVariantName } from './variants.js';

/**
 * Drops the weights of the training-only masked auto-encoder branch (`decoders.*`); they never
 * affect eval outputs. Pure: returns a new object.
 */
export function filterFdvitCheckpoint(stateDict: StateDict): StateDict {
  return dropKeys(stateDict, (key) => key.startsWith('decoders.'));
}

/**
 * FDViT (Xu et al., ICCV 2023), AMD-AIG-AIMA/AMD_FDViT `fdvit.py` `PoolingTransformer`: ViT blocks
 * with LePE attention and flexible (non-integer stride) bilinear + conv downsampling between stages.
 * Checkpoint keys are the authors' own state_dict names.
 */
export const fdvit: Architecture<FdvitConfig> = {
  specificationVersion: 'v1',
  id: 'fdvit',
  builderVersion: '1',
  description: 'FDViT (AMD-AIG-AIMA/AMD_FDViT fdvit.py PoolingTransformer)',
  variants: fdvitVariants,
  parseConfig: parseFdvitConfig,
  checkpointShapes: fdvitCheckpointShapes,
  filterCheckpoint: filterFdvitCheckpoint,
  buildGraph: buildFdvitGraph,
};
