import { afterAll, describe, expect, test } from 'vitest';
import { createIsolatedNodeBackend } from '@vitzoo/runtime-node/isolated';
import { runSweepCase, type SweepCase } from '@vitzoo/conformance/sweep';
import { cait } from './index.js';
import { referenceCait } from './reference.test-support.js';
import type { CaitConfig } from './config.js';

/** A small CaiT around which the options vary: 4×4 patches, 2 talking-heads blocks of 3 heads, 2 class-attention blocks. */
const base = { img_size: 16, patch_size: 4, embed_dim: 12, depth: 2, num_heads: 3, depth_token_only: 2, num_classes: 5, mlp_ratio: 2, mlp_ratio_token_only: 2 };

const options: [string, Record<string, unknown>][] = [
  ['base', {}],
  ['depth 1', { depth: 1 }],
  ['depth 3, init_values 1e-6 (only the initial LayerScale: the weights decide)', { depth: 3, init_values: 1e-6 }],
  ['depth 0 (class attention over the embedded patches)', { depth: 0 }],
  ['depth_token_only 0 (the class token is only normalised)', { depth_token_only: 0 }],
  ['depth_token_only 1, mlp_ratio 3 (self-attention blocks only)', { depth_token_only: 1, mlp_ratio: 3 }],
  ['depth_token_only 3, mlp_ratio_token_only 1', { depth_token_only: 3, mlp_ratio_token_only: 1 }],
  ['qkv_bias=False (qkv and class-attention q/k/v)', { qkv_bias: false }],
  ["global_pool 'avg'", { global_pool: 'avg' }],
  ["global_pool ''", { global_pool: '' }],
  ['num_classes 0', { num_classes: 0 }],
  ["global_pool 'avg', num_classes 0", { global_pool: 'avg', num_classes: 0 }],
  ["global_pool '', num_classes 0", { global_pool: '', num_classes: 0 }],
  ['non-square image 8x20', { img_size: [8, 20] }],
  ['non-square patch [2, 4], in_chans 1', { img_size: [8, 16], patch_size: [2, 4], in_chans: 1 }],
  ['image not a multiple of the patch (18 → 4 patches, floor)', { img_size: 18 }],
  ['one patch', { img_size: 4 }],
  // Head widths, odd ones included, and head counts 1 … 6 (talking heads mix all of them).
  ...[
    [1, 3],
    [3, 2],
    [5, 1],
    [7, 2],
    [13, 1],
    [4, 6],
    [32, 2],
    [64, 1],
  ].map(([headDim, heads]): [string, Record<string, unknown>] => [`head width ${headDim} × ${heads} heads`, { embed_dim: headDim! * heads!, num_heads: heads, img_size: 8 }]),
];

const cases: SweepCase[] = options.map(([name, kwargs]) => ({ name, kwargs: { ...base, ...kwargs } }));

const backend = createIsolatedNodeBackend();
afterAll(() => backend.close());

/**
 * Every configuration runs in a child process (a native crash fails that case, naming it) at
 * batch 2 and batch 1, and matches the float64 transcription of timm on every output: logits,
 * pre_logits, features (production graph), the talking-heads and class-attention maps and every
 * block's intermediate (graph built with them).
 */
describe('cait configuration sweep', () => {
  test.each(cases)('$name', async (testCase) => {
    const result = await runSweepCase(testCase, {
      architecture: cait,
      reference: referenceCait,
      inputShape: (config: CaitConfig) => [config.inChans, ...config.imgSize] as const,
      backend,
    });
    expect(result.failures).toEqual([]);
    const config = cait.parseConfig(testCase.kwargs);
    const catalog = cait.outputCatalog!(config);
    expect(Object.keys(result.maxAbsDiff).sort()).toEqual(
      ['logits', 'pre_logits', 'features', ...catalog.attention.map((module) => `attention.${module}`), ...Array.from({ length: catalog.intermediates }, (_, i) => `intermediates.${i}`)].sort(),
    );
  });
});
