import { afterAll, describe, expect, test } from 'vitest';
import { createIsolatedNodeBackend } from '@vitzoo/runtime-node/isolated';
import { runSweepCase, type SweepCase } from '@vitzoo/conformance/sweep';
import { cswin, type CswinConfig } from './index.js';
import { referenceCswin } from './reference.test-support.js';

/**
 * A small CSWin around which the options vary: 32-px input → token grids 8, 4, 2, 1; stripes 2, 2, 1
 * (two branches in stages 1-3), full attention in stage 4.
 */
const base = { img_size: 32, embed_dim: 8, depth: [1, 1, 1, 1], split_size: [2, 2, 1, 1], num_heads: [2, 2, 2, 2], mlp_ratio: 2, num_classes: 5 };

const options: [string, Record<string, unknown>][] = [
  ['base', {}],
  ['stripe == grid in stage 3 (single branch)', { split_size: [2, 2, 2, 2] }],
  ['stripe == grid in stage 1 (single branch, full attention over 8x8)', { split_size: [8, 2, 1, 1] }],
  ['stripes of 1 everywhere', { split_size: [1, 1, 1, 1] }],
  ['wide stripes, three split sizes', { split_size: [4, 2, 1] }],
  ['qk_scale 0.3', { qk_scale: 0.3 }],
  ['qkv_bias=False, qk_scale 0 (the default, as `or` reads it)', { qkv_bias: false, qk_scale: 0 }],
  ['2 heads per branch, odd head count 3 (1 per branch)', { num_heads: [4, 3, 4, 2] }],
  ['odd head width 3 in every stage', { embed_dim: 6, num_heads: [2, 4, 8, 16] }],
  ['deeper stages, stage 3 without blocks', { depth: [2, 1, 0, 2] }],
  ['no blocks at all', { depth: [0, 0, 0, 0] }],
  ['num_classes 0, in_chans 1, mlp_ratio 1.5', { num_classes: 0, in_chans: 1, mlp_ratio: 1.5 }],
  ['img_size 34 (not a multiple of 32)', { img_size: 34 }],
  ['img_size 64, stripes 4, 2, 2', { img_size: 64, split_size: [4, 2, 2, 2] }],
  ['img_size 96: grids 24, 12, 6, 3 and stripes of 3', { img_size: 96, embed_dim: 4, split_size: [3, 3, 3, 3], depth: [1, 1, 1, 1] }],
];

const cases: SweepCase[] = options.map(([name, kwargs]) => ({ name, kwargs: { ...base, ...kwargs } }));

const backend = createIsolatedNodeBackend();
afterAll(() => backend.close());

/**
 * Every configuration runs in a child process (a native crash fails that case, naming it) at
 * batch 2 and batch 1, and matches the float64 transcription of the authors' code on every output:
 * logits, pre_logits, features (production graph, fused attention), every branch's attention map
 * and every stage's intermediate (graph built with them).
 */
describe('cswin configuration sweep', () => {
  test.each(cases)('$name', async (testCase) => {
    const result = await runSweepCase(testCase, {
      architecture: cswin,
      reference: referenceCswin,
      inputShape: (config: CswinConfig) => [config.inChans, config.imgSize, config.imgSize] as const,
      backend,
    });
    expect(result.failures).toEqual([]);
    expect(Object.keys(result.maxAbsDiff)).toEqual(expect.arrayContaining(['logits', 'intermediates.3']));
  });
});
