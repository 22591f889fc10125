import type { Architecture } from '@vitzoo/core';
import { cswinCheckpointShapes, parseCswinConfig, type CswinConfig } from './config.js';
import { buildCswinGraph } from './graph.js';
import { cswinVariants } from './variants.js';

export { LAYER_NORM_EPSILON, cswinCheckpointShapes, parseCswinConfig } from './config.js';
export type { CswinBranch, CswinConfig, CswinStage } from './config.js';
export { buildCswinGraph } from './graph.js';
export { AUTHOR_NAMES, cswinVariants, type CswinVariantName } from './variants.js';

/**
 * CSWin Transformer (Dong et al., CVPR 2022), the classification model of
 * microsoft/CSWin-Transformer `models/cswin.py` (`CSWinTransformer`): cross-shaped stripe-window
 * attention with LePE. Checkpoint keys are the authors' own state_dict names.
 */
export const cswin: Architecture<CswinConfig> = {
  specificationVersion: 'v1',
  id: 'cswin',
  builderVersion: '1',
  description: 'CSWin Transformer (microsoft/CSWin-Transformer models/cswin.py CSWinTransformer)',
  variants: cswinVariants,
  parseConfig: parseCswinConfig,
  checkpointShapes: cswinCheckpointShapes,
  buildGraph: buildCswinGraph,
};
