import type { PretrainedConfig, VariantDefinition } from '@vitzoo/core';

const IMAGENET_MEAN = [0.485, 0.456, 0.406] as const;
const IMAGENET_STD = [0.229, 0.224, 0.225] as const;

/** timm's Swin `_cfg`: bicubic, ImageNet mean/std, crop_pct 0.9 at 224 and 1.0 at 384, MIT license. */
function pretrained(name: string, tag: string, size: 224 | 384, numClasses = 1000): PretrainedConfig {
  return {
    inputSize: [3, size, size],
    interpolation: 'bicubic',
    cropPct: size === 384 ? 1.0 : 0.9,
    mean: IMAGENET_MEAN,
    std: IMAGENET_STD,
    numClasses,
    labelSet: numClasses === 21841 ? 'imagenet-22k' : 'imagenet-1k',
    hfHubId: `timm/${name}.${tag}`,
    license: 'mit',
  };
}

/** Tags in timm's order (the first is the default `pretrained=True` weight). */
type Tag = 'ms_in1k' | 'ms_in22k_ft_in1k' | 'ms_in22k';

function variant(name: string, kwargs: Record<string, unknown>, size: 224 | 384, tags: readonly Tag[]): [string, VariantDefinition] {
  const configs: Record<string, PretrainedConfig> = {};
  for (const tag of tags) configs[tag] = pretrained(name, tag, size, tag === 'ms_in22k' ? 21841 : 1000);
  return [name, { kwargs: { img_size: size, ...kwargs }, pretrained: configs }];
}

const TINY = { embed_dim: 96, depths: [2, 2, 6, 2], num_heads: [3, 6, 12, 24] };
const SMALL = { embed_dim: 96, depths: [2, 2, 18, 2], num_heads: [3, 6, 12, 24] };
const BASE = { embed_dim: 128, depths: [2, 2, 18, 2], num_heads: [4, 8, 16, 32] };
const LARGE = { embed_dim: 192, depths: [2, 2, 18, 2], num_heads: [6, 12, 24, 48] };

/**
 * timm's registered Swin Transformer (v1) variants with their kwargs and pretrained configs
 * (timm 1.0 `swin_transformer.py`). `img_size` comes from the default pretrained config, as timm's
 * builder sets it for fixed-input-size models. The `ms_in22k` weights have 21841 classes: pass
 * `num_classes: 21841` with them.
 */
export const swinVariants: Record<string, VariantDefinition> = Object.fromEntries([
  variant('swin_tiny_patch4_window7_224', { patch_size: 4, window_size: 7, ...TINY }, 224, ['ms_in1k', 'ms_in22k_ft_in1k', 'ms_in22k']),
  variant('swin_small_patch4_window7_224', { patch_size: 4, window_size: 7, ...SMALL }, 224, ['ms_in22k_ft_in1k', 'ms_in1k', 'ms_in22k']),
  variant('swin_base_patch4_window7_224', { patch_size: 4, window_size: 7, ...BASE }, 224, ['ms_in22k_ft_in1k', 'ms_in1k', 'ms_in22k']),
  variant('swin_base_patch4_window12_384', { patch_size: 4, window_size: 12, ...BASE }, 384, ['ms_in22k_ft_in1k', 'ms_in1k', 'ms_in22k']),
  variant('swin_large_patch4_window7_224', { patch_size: 4, window_size: 7, ...LARGE }, 224, ['ms_in22k_ft_in1k', 'ms_in22k']),
  variant('swin_large_patch4_window12_384', { patch_size: 4, window_size: 12, ...LARGE }, 384, ['ms_in22k_ft_in1k', 'ms_in22k']),
  // Swin-S3 (AutoFormerV2) searched per-stage windows.
  variant('swin_s3_tiny_224', { patch_size: 4, window_size: [7, 7, 14, 7], ...TINY }, 224, ['ms_in1k']),
  variant('swin_s3_small_224', { patch_size: 4, window_size: [14, 14, 14, 7], ...SMALL }, 224, ['ms_in1k']),
  variant('swin_s3_base_224', { patch_size: 4, window_size: [7, 7, 14, 7], embed_dim: 96, depths: [2, 2, 30, 2], num_heads: [3, 6, 12, 24] }, 224, ['ms_in1k']),
]);
