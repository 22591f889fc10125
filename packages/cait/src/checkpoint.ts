import { renameKeys, type StateDict } from '@vitzoo/core';

/**
 * timm's CaiT `checkpoint_filter_fn`: the original facebookresearch/deit checkpoints already use
 * timm's names; every `module.` (DataParallel) is removed from the keys, as timm's
 * `k.replace('module.', '')` does. (Unwrapping a `model` entry of a .pth archive is the loader's job.)
 */
export function filterCaitCheckpoint(stateDict: StateDict): StateDict {
  return renameKeys(stateDict, (key) => key.replaceAll('module.', ''));
}
