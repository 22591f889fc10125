import { pretrainedConfig, type VariantDefinition } from '@vitzoo/core';

const TINY = { embed_dim: 192, depth: 12, num_heads: 3 };
const SMALL = { embed_dim: 384, depth: 12, num_heads: 6 };
const BASE = { embed_dim: 768, depth: 12, num_heads: 12 };
const LARGE = { embed_dim: 1024, depth: 24, num_heads: 16 };
const DEIT3 = { no_embed_class: true, init_values: 1e-6 };

function variant(
  name: string,
  sizes: Record<string, number>,
  imgSize: number,
  tags: readonly string[],
  extra: Record<string, unknown> = {},
): [string, VariantDefinition] {
  return [
    name,
    {
      kwargs: { img_size: imgSize, patch_size: 16, ...sizes, ...extra },
      pretrained: Object.fromEntries(
        tags.map((tag) => [
          tag,
          pretrainedConfig({
            size: imgSize,
            hfHubId: `timm/${name}.${tag}`,
            // DeiT III fine-tunes from ImageNet-22k at 224 are evaluated without cropping.
            ...(tag === 'fb_in22k_ft_in1k' ? { cropPct: 1 } : {}),
          }),
        ]),
      ),
    },
  ];
}

/** timm's registered DeiT variants (deit.py): plain, distilled and DeiT III. */
export const deitVariants: Record<string, VariantDefinition> = Object.fromEntries([
  variant('deit_tiny_patch16_224', TINY, 224, ['fb_in1k']),
  variant('deit_small_patch16_224', SMALL, 224, ['fb_in1k']),
  variant('deit_base_patch16_224', BASE, 224, ['fb_in1k']),
  variant('deit_base_patch16_384', BASE, 384, ['fb_in1k']),
  variant('deit_tiny_distilled_patch16_224', TINY, 224, ['fb_in1k'], { distilled: true }),
  variant('deit_small_distilled_patch16_224', SMALL, 224, ['fb_in1k'], { distilled: true }),
  variant('deit_base_distilled_patch16_224', BASE, 224, ['fb_in1k'], { distilled: true }),
  variant('deit_base_distilled_patch16_384', BASE, 384, ['fb_in1k'], { distilled: true }),
  variant('deit3_small_patch16_224', SMALL, 224, ['fb_in1k', 'fb_in22k_ft_in1k'], DEIT3),
  variant('deit3_small_patch16_384', SMALL, 384, ['fb_in1k', 'fb_in22k_ft_in1k'], DEIT3),
  variant('deit3_base_patch16_224', BASE, 224, ['fb_in1k', 'fb_in22k_ft_in1k'], DEIT3),
  variant('deit3_base_patch16_384', BASE, 384, ['fb_in1k', 'fb_in22k_ft_in1k'], DEIT3),
  variant('deit3_large_patch16_224', LARGE, 224, ['fb_in1k', 'fb_in22k_ft_in1k'], DEIT3),
  variant('deit3_large_patch16_384', LARGE, 384, ['fb_in1k', 'fb_in22k_ft_in1k'], DEIT3),
]);
