import { renameKeys, unwrapStateDict, type StateDict } from '@vitzoo/core';
import type { VisionTransformerConfig } from './config.js';

/**
 * timm's `checkpoint_filter_fn` for the layouts that need no resampling: strips a DataParallel
 * `module.` prefix and maps the pre-0.9 LayerScale names (`gamma_1`/`gamma_2`) to `ls1`/`ls2`.
 * Position embeddings of another grid size are left for the shape check to report.
 */
export function filterVisionTransformerCheckpoint(stateDict: StateDict, _config: VisionTransformerConfig): StateDict {
  return renameKeys(unwrapStateDict(stateDict), (key) =>
    key.replace(/^(blocks\.\d+)\.gamma_1$/, '$1.ls1.gamma').replace(/^(blocks\.\d+)\.gamma_2$/, '$1.ls2.gamma'),
  );
}
