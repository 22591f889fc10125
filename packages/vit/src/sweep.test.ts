import { afterAll, describe, expect, test } from 'vitest';
import { createIsolatedNodeBackend } from '@vitzoo/runtime-node/isolated';
import { runSweepCase, type SweepCase } from '@vitzoo/conformance/sweep';
import { createVisionTransformerArchitecture, vit } from './index.js';
import { visionTransformerVariants } from './variants.js';
import { referenceVisionTransformer } from './reference.test-support.js';
import type { VisionTransformerConfig } from './config.js';

const deitLike = createVisionTransformerArchitecture({ id: 'deit', description: 'distilled', variants: visionTransformerVariants, distilled: true });

/** A small ViT around which the options vary one at a time, then in the combinations that interact. */
const base = { img_size: 16, patch_size: 4, embed_dim: 24, depth: 2, num_heads: 3, num_classes: 5, mlp_ratio: 2 };

const options: [string, Record<string, unknown>][] = [
  ['base', {}],
  ['qkv_bias=False', { qkv_bias: false }],
  ['qkv_bias=False, depth 3', { qkv_bias: false, depth: 3 }],
  ['qk_norm', { qk_norm: true }],
  ['proj_bias=False', { proj_bias: false }],
  ['init_values (LayerScale)', { init_values: 0.5 }],
  ['pre_norm', { pre_norm: true }],
  ['final_norm=False', { final_norm: false }],
  ['no_embed_class', { no_embed_class: true }],
  ['reg_tokens 4', { reg_tokens: 4 }],
  ['reg_tokens 2 + no_embed_class', { reg_tokens: 2, no_embed_class: true }],
  ['pos_embed none', { pos_embed: 'none' }],
  ['class_token=False, avg', { class_token: false, global_pool: 'avg' }],
  ['class_token=False, max', { class_token: false, global_pool: 'max' }],
  ['class_token=False, avgmax', { class_token: false, global_pool: 'avgmax' }],
  ["global_pool ''", { global_pool: '' }],
  ['avg with class token', { global_pool: 'avg' }],
  ['avg, fc_norm=False', { global_pool: 'avg', fc_norm: false }],
  ['token, fc_norm=True', { fc_norm: true }],
  ['num_classes 0', { num_classes: 0 }],
  ['depth 1', { depth: 1 }],
  ['mlp_ratio truncating to no hidden width (timm then uses dim)', { mlp_ratio: 0.01 }],
  ['depth 0', { depth: 0 }],
  ['non-square image 12x20', { img_size: [12, 20] }],
  ['non-square patch 2x4', { img_size: [8, 16], patch_size: [2, 4] }],
  ['one patch', { img_size: 4 }],
  ['in_chans 1', { in_chans: 1 }],
  ['layer_norm_eps 1e-5', { layer_norm_eps: 1e-5 }],
  ['qkv_bias=False + qk_norm + init_values + reg_tokens', { qkv_bias: false, qk_norm: true, init_values: 0.3, reg_tokens: 1 }],
  ['no class token, no pos_embed, avg, pre_norm', { class_token: false, pos_embed: 'none', global_pool: 'avg', pre_norm: true }],
  ['dynamic_img_size', { dynamic_img_size: true }],
  ['dynamic_img_size, no_embed_class + reg tokens', { dynamic_img_size: true, no_embed_class: true, reg_tokens: 2 }],
  // Head widths 1 … 256, odd ones included.
  ...[
    [1, 2],
    [1, 1],
    [3, 1],
    [5, 3],
    [7, 2],
    [8, 4],
    [13, 1],
    [31, 2],
    [64, 2],
    [97, 1],
    [128, 1],
    [256, 1],
  ].map(([headDim, heads]): [string, Record<string, unknown>] => [`head width ${headDim} × ${heads} heads`, { embed_dim: headDim! * heads!, num_heads: heads, img_size: 8 }]),
];

const cases: SweepCase[] = options.map(([name, kwargs]) => ({ name, kwargs: { ...base, ...kwargs } }));
// dynamic_img_size graphs run at other sizes than the one the position embedding was made for.
const dynamicSizes: SweepCase[] = [
  { name: 'dynamic: fewer rows, more columns (8x28)', kwargs: { ...base, dynamic_img_size: true }, imageSize: [8, 28] },
  { name: 'dynamic: larger (24x24, upsampled embedding)', kwargs: { ...base, dynamic_img_size: true }, imageSize: [24, 24] },
  { name: 'dynamic: smaller (8x8, antialiased downsampling)', kwargs: { ...base, dynamic_img_size: true, img_size: 32 }, imageSize: [8, 8] },
];
const distilledCases: SweepCase[] = [
  { name: 'distilled', kwargs: { ...base, distilled: true } },
  { name: 'distilled, qkv_bias=False, no_embed_class, init_values', kwargs: { ...base, distilled: true, qkv_bias: false, no_embed_class: true, init_values: 0.2 } },
  { name: 'distilled, num_classes 0, depth 1', kwargs: { ...base, distilled: true, num_classes: 0, depth: 1 } },
  { name: 'distilled, dynamic_img_size at 12x20', kwargs: { ...base, distilled: true, dynamic_img_size: true }, imageSize: [12, 20] },
];

const backend = createIsolatedNodeBackend();
afterAll(() => backend.close());

const sweepOptions = {
  reference: referenceVisionTransformer,
  inputShape: (config: VisionTransformerConfig) => [config.inChans, ...config.imgSize] as const,
  backend,
};

/**
 * Every configuration runs in a child process (a native crash fails that case, naming it) at
 * batch 2 and batch 1, and matches the float64 transcription of timm on every output: logits,
 * pre_logits, features (production graph), attention maps, intermediates and rollout (graph built
 * with them).
 */
describe('vit configuration sweep', () => {
  test.each([...cases, ...dynamicSizes])('$name', async (testCase) => {
    const result = await runSweepCase(testCase, { ...sweepOptions, architecture: vit });
    expect(result.failures).toEqual([]);
    expect(Object.keys(result.maxAbsDiff)).toContain('logits');
  });
});

describe('deit (distilled) configuration sweep', () => {
  test.each(distilledCases)('$name', async (testCase) => {
    const result = await runSweepCase(testCase, { ...sweepOptions, architecture: deitLike });
    expect(result.failures).toEqual([]);
  });
});
