/** @vitzoo/deit: timm's DeiT, DeiT-distilled and DeiT III, on @vitzoo/vit's VisionTransformer. */
import { createVisionTransformerArchitecture, type VisionTransformerConfig } from '@vitzoo/vit';
import { deitVariants } from './variants.js';

export { deitVariants } from './variants.js';

/** DeiT's config is timm's VisionTransformer config (with `distilled`). */
export type DeitConfig = VisionTransformerConfig;

/**
 * timm's DeiT (`deit.VisionTransformer` and `deit.VisionTransformerDistilled`). The distilled form
 * (distillation token, second head, eval logits = mean of both heads) is selected by
 * `distilled: true` or, when absent, by a `dist_token` in the checkpoint.
 */
export const deit = createVisionTransformerArchitecture({
  id: 'deit',
  description: 'DeiT, DeiT-distilled and DeiT III (timm deit)',
  variants: deitVariants,
  distilled: true,
});
