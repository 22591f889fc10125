/**
 * A sample of the configuration sweeps (packages/<arch>/src/sweep.test.ts) in the page: the
 * production graphs built in the browser from random weights, run on onnxruntime-web's wasm
 * backend at batch 2 and 1, and compared with the same float64 references the Node sweeps use.
 */
import { runSweepCase, type SweepCase, type SweepOptions, type SweepResult } from '@vitzoo/conformance/sweep';
import type { Architecture } from '@vitzoo/core';
import { resolveBackend } from '@vitzoo/runtime';
import { cait, cswin, deit, fdvit, swin, vit } from 'vitzoo';
import { referenceVisionTransformer } from '../../../../packages/vit/src/reference.test-support.js';
import { referenceSwin } from '../../../../packages/swin/src/reference.test-support.js';
import { referenceCait } from '../../../../packages/cait/src/reference.test-support.js';
import { referenceCswin } from '../../../../packages/cswin/src/reference.test-support.js';
import { referenceFdvit } from '../../../../packages/fdvit/src/reference.test-support.js';

type Family = 'vit' | 'deit' | 'swin' | 'cait' | 'cswin' | 'fdvit';

const vitBase = { img_size: 16, patch_size: 4, embed_dim: 24, depth: 2, num_heads: 3, num_classes: 5, mlp_ratio: 2 };
const swinBase = { img_size: 16, patch_size: 2, embed_dim: 8, depths: [2, 2], num_heads: [2, 2], window_size: 4, num_classes: 5, mlp_ratio: 2 };
const caitBase = { img_size: 16, patch_size: 4, embed_dim: 12, depth: 2, num_heads: 3, depth_token_only: 2, num_classes: 5, mlp_ratio: 2, mlp_ratio_token_only: 2 };
const cswinBase = { img_size: 32, embed_dim: 8, depth: [1, 1, 1, 1], split_size: [2, 2, 1, 1], num_heads: [2, 2, 2, 2], mlp_ratio: 2, num_classes: 5 };
const fdvitBase = { image_size: 24, patch_size: 4, stride: 4, base_dims: [4, 3], heads: [2, 2], channels: [8, 6], depth: [1, 1], out_size: [6, 4], mlp_ratio: 2, num_classes: 5 };

/** The sample: the configurations most likely to differ between providers (bias contracts, head widths, geometry). */
export const SWEEP_SAMPLE: (SweepCase & { family: Family })[] = [
  { family: 'vit', name: 'vit qkv_bias=False', kwargs: { ...vitBase, qkv_bias: false } },
  { family: 'vit', name: 'vit head width 1, qk_norm, reg tokens', kwargs: { ...vitBase, embed_dim: 2, num_heads: 2, img_size: 8, qk_norm: true, reg_tokens: 2 } },
  { family: 'vit', name: 'vit head width 97, global avg pool', kwargs: { ...vitBase, embed_dim: 97, num_heads: 1, img_size: 8, class_token: false, global_pool: 'avg' } },
  { family: 'vit', name: 'vit dynamic_img_size at 8x28', kwargs: { ...vitBase, dynamic_img_size: true }, imageSize: [8, 28] },
  { family: 'deit', name: 'deit distilled, no_embed_class, LayerScale', kwargs: { ...vitBase, distilled: true, no_embed_class: true, init_values: 0.2 } },
  { family: 'swin', name: 'swin padding + shifted windows (grid 10, window 4)', kwargs: { ...swinBase, img_size: 20 } },
  { family: 'swin', name: 'swin non-square image and window', kwargs: { ...swinBase, img_size: [16, 24], window_size: [4, 8] } },
  { family: 'cait', name: 'cait qkv_bias=False', kwargs: { ...caitBase, qkv_bias: false } },
  { family: 'cswin', name: 'cswin qk_scale 0.3 (scale folded into q)', kwargs: { ...cswinBase, qk_scale: 0.3 } },
  { family: 'cswin', name: 'cswin stripe == grid in stage 1 (single branch)', kwargs: { ...cswinBase, split_size: [8, 2, 1, 1] } },
  { family: 'fdvit', name: 'fdvit two stages 6 → 4', kwargs: fdvitBase },
];

const families: Record<Family, Pick<SweepOptions<never>, 'reference' | 'inputShape'> & { architecture: Architecture<never> }> = {
  vit: { architecture: vit as Architecture<never>, reference: referenceVisionTransformer as never, inputShape: ((config: { inChans: number; imgSize: [number, number] }) => [config.inChans, ...config.imgSize]) as never },
  deit: { architecture: deit as Architecture<never>, reference: referenceVisionTransformer as never, inputShape: ((config: { inChans: number; imgSize: [number, number] }) => [config.inChans, ...config.imgSize]) as never },
  swin: { architecture: swin as Architecture<never>, reference: referenceSwin as never, inputShape: ((config: { inChans: number; imgSize: [number, number] }) => [config.inChans, ...config.imgSize]) as never },
  cait: { architecture: cait as Architecture<never>, reference: referenceCait as never, inputShape: ((config: { inChans: number; imgSize: [number, number] }) => [config.inChans, ...config.imgSize]) as never },
  cswin: { architecture: cswin as Architecture<never>, reference: referenceCswin as never, inputShape: ((config: { inChans: number; imgSize: number }) => [config.inChans, config.imgSize, config.imgSize]) as never },
  fdvit: { architecture: fdvit as Architecture<never>, reference: referenceFdvit as never, inputShape: ((config: { inChans: number; imageSize: number }) => [config.inChans, config.imageSize, config.imageSize]) as never },
};

/** Runs the sample (or the named cases) on a web backend; one result per case, failures named. */
export async function sweepSample(backendName: 'wasm' | 'webgpu', only?: readonly string[]): Promise<SweepResult[]> {
  const backend = await resolveBackend([backendName]);
  const results: SweepResult[] = [];
  for (const testCase of SWEEP_SAMPLE) {
    if (only && !only.includes(testCase.name)) continue;
    results.push(await runSweepCase(testCase, { ...families[testCase.family], backend }));
  }
  return results;
}
