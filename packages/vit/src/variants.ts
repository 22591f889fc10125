import { pretrainedConfig, type PretrainedConfig, type VariantDefinition } from '@vitzoo/core';

type Sizes = { embed_dim: number; depth: number; num_heads: number };
const TINY: Sizes = { embed_dim: 192, depth: 12, num_heads: 3 };
const SMALL: Sizes = { embed_dim: 384, depth: 12, num_heads: 6 };
const BASE: Sizes = { embed_dim: 768, depth: 12, num_heads: 12 };
const LARGE: Sizes = { embed_dim: 1024, depth: 24, num_heads: 16 };

/** timm's AugReg / original Google weights: Inception mean/std, bicubic. */
function google(name: string, tag: string, size: number, extra: Partial<PretrainedConfig> = {}): [string, PretrainedConfig] {
  const in21k = tag.endsWith('in21k');
  return [
    tag,
    pretrainedConfig({
      size,
      inception: true,
      hfHubId: `timm/${name}.${tag}`,
      numClasses: in21k ? 21843 : 1000,
      ...(in21k ? { cropPct: 0.9 } : {}),
      ...extra,
    }),
  ];
}

function variant(name: string, sizes: Sizes, patch: number, imgSize: number, tags: readonly string[], extra: Record<string, unknown> = {}): [string, VariantDefinition] {
  return [
    name,
    {
      kwargs: { img_size: imgSize, patch_size: patch, ...sizes, ...extra },
      pretrained: Object.fromEntries(tags.map((tag) => google(name, tag, imgSize))),
    },
  ];
}

/** timm's registered VisionTransformer variants (subset: the classic ViT-Ti/S/B/L at patch 16/32, 224/384). */
export const visionTransformerVariants: Record<string, VariantDefinition> = Object.fromEntries([
  variant('vit_tiny_patch16_224', TINY, 16, 224, ['augreg_in21k_ft_in1k', 'augreg_in21k']),
  variant('vit_tiny_patch16_384', TINY, 16, 384, ['augreg_in21k_ft_in1k']),
  variant('vit_small_patch32_224', SMALL, 32, 224, ['augreg_in21k_ft_in1k', 'augreg_in21k']),
  variant('vit_small_patch32_384', SMALL, 32, 384, ['augreg_in21k_ft_in1k']),
  variant('vit_small_patch16_224', SMALL, 16, 224, ['augreg_in21k_ft_in1k', 'augreg_in1k', 'augreg_in21k']),
  variant('vit_small_patch16_384', SMALL, 16, 384, ['augreg_in21k_ft_in1k', 'augreg_in1k']),
  variant('vit_base_patch32_224', BASE, 32, 224, ['augreg_in21k_ft_in1k', 'augreg_in1k', 'augreg_in21k']),
  variant('vit_base_patch32_384', BASE, 32, 384, ['augreg_in21k_ft_in1k', 'augreg_in1k']),
  variant('vit_base_patch16_224', BASE, 16, 224, ['augreg2_in21k_ft_in1k', 'augreg_in21k_ft_in1k', 'augreg_in1k', 'orig_in21k_ft_in1k', 'augreg_in21k']),
  variant('vit_base_patch16_384', BASE, 16, 384, ['augreg_in21k_ft_in1k', 'orig_in21k_ft_in1k', 'augreg_in1k']),
  variant('vit_large_patch32_384', LARGE, 32, 384, ['orig_in21k_ft_in1k']),
  variant('vit_large_patch16_224', LARGE, 16, 224, ['augreg_in21k_ft_in1k', 'augreg_in21k']),
  variant('vit_large_patch16_384', LARGE, 16, 384, ['augreg_in21k_ft_in1k']),
]);
