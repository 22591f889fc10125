import { afterAll, describe, expect, test } from 'vitest';
import { createIsolatedNodeBackend } from '@vitzoo/runtime-node/isolated';
import { runSweepCase, type SweepCase } from '@vitzoo/conformance/sweep';
import { fdvit, type FdvitConfig } from './index.js';
import { referenceFdvit } from './reference.test-support.js';

interface Stage {
  /** Per-head width (base_dims). */
  headDim: number;
  heads: number;
  depth: number;
  /** Token-grid side (out_size). */
  side: number;
}

/** PoolingTransformer kwargs for stages given one by one (channels = base_dims · heads, as the authors require). */
function kwargs(stages: readonly Stage[], patch: { image: number; patch: number; stride: number }, extra: Record<string, unknown> = {}) {
  return {
    image_size: patch.image,
    patch_size: patch.patch,
    stride: patch.stride,
    base_dims: stages.map((stage) => stage.headDim),
    heads: stages.map((stage) => stage.heads),
    channels: stages.map((stage) => stage.headDim * stage.heads),
    depth: stages.map((stage) => stage.depth),
    out_size: stages.map((stage) => stage.side),
    mlp_ratio: 2,
    num_classes: 5,
    ...extra,
  };
}

/** 24-px input, non-overlapping 4-px patches → a 6x6 grid. */
const grid6 = { image: 24, patch: 4, stride: 4 };
const stage = (side: number, headDim = 4, heads = 2, depth = 1): Stage => ({ headDim, heads, depth, side });

const cases: SweepCase[] = [
  { name: 'base: two stages, 6 → 4', kwargs: kwargs([stage(6), stage(4, 3)], grid6) },
  { name: 'fractional ratios 9 → 7 → 5 → 3, overlapping patches (k8 s4)', kwargs: kwargs([stage(9), stage(7, 3, 2), stage(5, 5, 2, 2), stage(3, 4, 3)], { image: 40, patch: 8, stride: 4 }) },
  { name: 'downsampling to a single token (out_size 1)', kwargs: kwargs([stage(6), stage(1, 4, 3)], grid6) },
  { name: 'same size (6 → 6: the identity resampling)', kwargs: kwargs([stage(6), stage(6, 3)], grid6) },
  { name: 'upsampling (4 → 7)', kwargs: kwargs([stage(4), stage(7, 3)], { image: 16, patch: 4, stride: 4 }) },
  { name: 'grid of one token from the start (1 → 1 → 3)', kwargs: kwargs([stage(1), stage(1, 3), stage(3, 2)], { image: 8, patch: 8, stride: 4 }) },
  { name: 'odd head widths 5 and 7', kwargs: kwargs([stage(6, 5, 3), stage(4, 7, 1)], grid6) },
  { name: 'head width 1 and many heads', kwargs: kwargs([stage(6, 1, 6), stage(4, 2, 5)], grid6) },
  { name: 'one stage, two blocks', kwargs: kwargs([stage(6, 4, 2, 2)], grid6) },
  { name: 'stages without blocks', kwargs: kwargs([stage(6, 4, 2, 0), stage(5, 3, 2, 1), stage(3, 2, 3, 0)], grid6) },
  { name: 'num_classes 0', kwargs: kwargs([stage(6), stage(4, 3)], grid6, { num_classes: 0 }) },
  { name: 'in_chans 1, mlp_ratio 1.5', kwargs: kwargs([stage(6), stage(4, 3)], grid6, { in_chans: 1, mlp_ratio: 1.5 }) },
  { name: 'image not covered by the patches (25 px, k4 s4: last row and column unused)', kwargs: kwargs([stage(6), stage(4, 3)], { image: 25, patch: 4, stride: 4 }) },
];

const backend = createIsolatedNodeBackend();
afterAll(() => backend.close());

/**
 * Every configuration runs in a child process (a native crash fails that case, naming it) at
 * batch 2 and batch 1, and matches the float64 transcription of the authors' code on every output:
 * logits, pre_logits, features (production graph, fused attention), every block's attention map
 * and every stage's intermediate (graph built with them).
 */
describe('fdvit configuration sweep', () => {
  test.each(cases)('$name', async (testCase) => {
    const result = await runSweepCase(testCase, {
      architecture: fdvit,
      reference: referenceFdvit,
      inputShape: (config: FdvitConfig) => [config.inChans, config.imageSize, config.imageSize] as const,
      backend,
    });
    expect(result.failures).toEqual([]);
    expect(Object.keys(result.maxAbsDiff)).toEqual(expect.arrayContaining(['logits', 'intermediates.0']));
  });
});
