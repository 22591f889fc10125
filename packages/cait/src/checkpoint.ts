import { renameKeys, type StateDict } from '@vitzoo/core';
import type { CaitConfig } from './config.js';

/** timm `Cait` state_dict keys and shapes for a config. */
export function caitCheckpointShapes(config: CaitConfig): Record<string, readonly number[]> {
  const shapes: Record<string, number[]> = {};
  const dim = config.embedDim;
  const linear = (prefix: string, out: number, input: number, bias = true) => {
    shapes[`${prefix}.weight`] = [out, input];
    if (bias) shapes[`${prefix}.bias`] = [out];
  };
  const norm = (prefix: string) => {
    shapes[`${prefix}.weight`] = [dim];
    shapes[`${prefix}.bias`] = [dim];
  };
  shapes.cls_token = [1, 1, dim];
  shapes.pos_embed = [1, config.numPatches, dim];
  shapes['patch_embed.proj.weight'] = [dim, config.inChans, config.patchSize[0], config.patchSize[1]];
  shapes['patch_embed.proj.bias'] = [dim];
  for (let i = 0; i < config.depth; i++) {
    const prefix = `blocks.${i}`;
    shapes[`${prefix}.gamma_1`] = [dim];
    shapes[`${prefix}.gamma_2`] = [dim];
    norm(`${prefix}.norm1`);
    linear(`${prefix}.attn.qkv`, 3 * dim, dim, config.qkvBias);
    linear(`${prefix}.attn.proj`, dim, dim);
    linear(`${prefix}.attn.proj_l`, config.numHeads, config.numHeads);
    linear(`${prefix}.attn.proj_w`, config.numHeads, config.numHeads);
    norm(`${prefix}.norm2`);
    linear(`${prefix}.mlp.fc1`, config.mlpHidden, dim);
    linear(`${prefix}.mlp.fc2`, dim, config.mlpHidden);
  }
  for (let i = 0; i < config.depthTokenOnly; i++) {
    const prefix = `blocks_token_only.${i}`;
    shapes[`${prefix}.gamma_1`] = [dim];
    shapes[`${prefix}.gamma_2`] = [dim];
    norm(`${prefix}.norm1`);
    linear(`${prefix}.attn.q`, dim, dim, config.qkvBias);
    linear(`${prefix}.attn.k`, dim, dim, config.qkvBias);
    linear(`${prefix}.attn.v`, dim, dim, config.qkvBias);
    linear(`${prefix}.attn.proj`, dim, dim);
    norm(`${prefix}.norm2`);
    linear(`${prefix}.mlp.fc1`, config.mlpHiddenTokenOnly, dim);
    linear(`${prefix}.mlp.fc2`, dim, config.mlpHiddenTokenOnly);
  }
  norm('norm');
  if (config.numClasses > 0) linear('head', config.numClasses, dim);
  return shapes;
}

/**
 * timm's CaiT `checkpoint_filter_fn`: the original facebookresearch/deit checkpoints already use
 * timm's names; every `module.` (DataParallel) is removed from the keys, as timm's
 * `k.replace('module.', '')` does. (Unwrapping a `model` entry of a .pth archive is the loader's job.)
 */
export function filterCaitCheckpoint(stateDict: StateDict): StateDict {
  return renameKeys(stateDict, (key) => key.replaceAll('module.', ''));
}
