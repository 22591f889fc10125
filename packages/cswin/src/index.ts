/**
 * @vitzoo/cswin: CSWin Transformer (Dong et al., CVPR 2022), the classification model of
 * microsoft/CSWin-Transformer `models/cswin.py` (`CSWinTransformer`). Internals (config parsing,
 * checkpoint filter, graph builder, variants) are on the `@vitzoo/cswin/testing` entry.
 */
import { InvalidArgumentError, type Architecture } from '@vitzoo/core';
import { cswinCheckpointShapes, cswinOutputs, parseCswinConfig, type CswinConfig } from './config.js';
import { filterCswinCheckpoint } from './checkpoint.js';
import { buildCswinGraph, CSWIN_BUILDER_VERSION } from './graph.js';
import { cswinVariants } from './variants.js';

export type { CswinBranch, CswinConfig, CswinStage } from './config.js';

/**
 * CSWin Transformer: cross-shaped stripe-window attention with LePE. Checkpoint keys are the
 * authors' own state_dict names.
 */
export const cswin: Architecture<CswinConfig> = {
  specificationVersion: 'v1',
  id: 'cswin',
  builderVersion: CSWIN_BUILDER_VERSION,
  description: 'CSWin Transformer (microsoft/CSWin-Transformer models/cswin.py CSWinTransformer)',
  variants: cswinVariants,
  parseConfig: parseCswinConfig,
  checkpointShapes: cswinCheckpointShapes,
  filterCheckpoint: filterCswinCheckpoint,
  outputCatalog: cswinOutputs,
  // The authors' 384 models are the same constructors called with img_size=384 (no weights depend on the size).
  withImageSize: (kwargs, [height, width]) => {
    if (height !== width) throw new InvalidArgumentError('imageSize', `CSWin takes square images (its img_size is one side); got ${height}x${width}.`);
    return { ...kwargs, img_size: height };
  },
  buildGraph: buildCswinGraph,
};
