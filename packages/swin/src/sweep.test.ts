import { afterAll, describe, expect, test } from 'vitest';
import { createIsolatedNodeBackend } from '@vitzoo/runtime-node/isolated';
import { runSweepCase, type SweepCase } from '@vitzoo/conformance/sweep';
import { swin } from './index.js';
import { referenceSwin } from './reference.test-support.js';
import type { SwinConfig } from './config.js';

/**
 * A small Swin around which the options vary: an 8×8 patch grid, window 4 (stage 0: four windows,
 * the second block shifted by 2 with the mask; stage 1 at 4×4 = one window, no shift).
 */
const base = { img_size: 16, patch_size: 2, embed_dim: 8, depths: [2, 2], num_heads: [2, 2], window_size: 4, num_classes: 5, mlp_ratio: 2 };

const options: [string, Record<string, unknown>][] = [
  ['base', {}],
  ['window larger than the grid (16 → 8, one window, no shift)', { window_size: 16 }],
  ['window smaller than the grid (2: 16 windows, shift 1)', { window_size: 2 }],
  ['padding: grid 10 and 5 against window 4, shifted in both stages', { img_size: 20 }],
  ['odd grid, odd merge (7 → 4 padded, window 3 from the floor-halved grid)', { img_size: 28, embed_dim: 4, depths: [1, 2, 2], num_heads: [1, 2, 2], window_size: 7 }],
  ['odd grid 5 without merging (window 2: padded to 6, shifted)', { img_size: 10, depths: [2], num_heads: [2], window_size: 2 }],
  ['non-square image 16x24 with window [4, 8]', { img_size: [16, 24], window_size: [4, 8] }],
  ['non-square window [2, 4] on a square grid', { window_size: [2, 4] }],
  ['non-square patch [2, 4], in_chans 1', { img_size: [16, 32], patch_size: [2, 4], in_chans: 1 }],
  ['per-stage windows (pair, int) and mlp_ratio', { window_size: [[2, 4], 2], mlp_ratio: [1.5, 3] }],
  ['qkv_bias=False', { qkv_bias: false }],
  ['always_partition (window 4 over a 6x6 grid: padded and shifted)', { img_size: 12, depths: [2], num_heads: [2], always_partition: true }],
  ['always_partition with a window larger than the grid', { img_size: 8, depths: [2], num_heads: [2], window_size: 6, always_partition: true }],
  ["strict_img_size=False: odd merge against shifted windows (timm's dynamic mask)", { img_size: 18, depths: [1, 2], window_size: 2, strict_img_size: false }],
  ['depth 1 (one stage, one block)', { depths: [1], num_heads: [2] }],
  ['four stages of one block', { img_size: 32, embed_dim: 4, depths: [1, 1, 1, 1], num_heads: [1, 1, 2, 2], window_size: 2 }],
  ['num_classes 0', { num_classes: 0 }],
  ["global_pool ''", { global_pool: '' }],
  ["global_pool '', num_classes 0", { global_pool: '', num_classes: 0 }],
  // Head widths, odd ones included (head_dim given explicitly or dim // num_heads).
  ['head width 1 (head_dim 1, 3 heads)', { head_dim: 1, num_heads: [3, 3] }],
  ['head width 3 (head_dim 3: attention 6 wide on 8 channels)', { head_dim: 3 }],
  ['head widths 5 and 10 (embed_dim 5, one head)', { embed_dim: 5, num_heads: [1, 1] }],
  ['head width 32 per stage', { head_dim: [32, 32], num_heads: [1, 2] }],
  ['head widths per stage (null, 5)', { head_dim: [null, 5] }],
];

const cases: SweepCase[] = options.map(([name, kwargs]) => ({ name, kwargs: { ...base, ...kwargs } }));

const backend = createIsolatedNodeBackend();
afterAll(() => backend.close());

/**
 * Every configuration runs in a child process (a native crash fails that case, naming it) at
 * batch 2 and batch 1, and matches the float64 transcription of timm on every output: logits,
 * pre_logits, features (production graph), every block's attention map and every stage's
 * intermediate (graph built with them).
 */
describe('swin configuration sweep', () => {
  test.each(cases)('$name', async (testCase) => {
    const result = await runSweepCase(testCase, {
      architecture: swin,
      reference: referenceSwin,
      inputShape: (config: SwinConfig) => [config.inChans, ...config.imgSize] as const,
      backend,
    });
    expect(result.failures).toEqual([]);
    const config = swin.parseConfig(testCase.kwargs);
    expect(Object.keys(result.maxAbsDiff).sort()).toEqual(
      ['logits', 'pre_logits', 'features', ...swin.outputCatalog!(config).attention.map((module) => `attention.${module}`), ...config.stages.map((stage) => `intermediates.${stage.index}`)].sort(),
    );
  });
});
