import type { PretrainedConfig, VariantDefinition } from '@vitzoo/core';

const IMAGENET_DEFAULT_MEAN = [0.485, 0.456, 0.406] as const;
const IMAGENET_DEFAULT_STD = [0.229, 0.224, 0.225] as const;
const RELEASE = 'https://github.com/microsoft/CSWin-Transformer/releases/download/v0.1.0';

/** The authors' `default_cfgs['cswin_224']` / `['cswin_384']` plus where the released weights live. */
function pretrained(file: string, size: 224 | 384): PretrainedConfig {
  return {
    inputSize: [3, size, size],
    interpolation: 'bicubic',
    cropPct: size === 384 ? 1.0 : 0.9,
    mean: IMAGENET_DEFAULT_MEAN,
    std: IMAGENET_DEFAULT_STD,
    numClasses: 1000,
    labelSet: 'imagenet-1k',
    url: `${RELEASE}/${file}`,
    file,
    license: 'MIT',
  };
}

/**
 * The released CSWin models, under lower-case registry names. The authors register them as
 * `CSWin_64_12211_tiny_224`, `CSWin_64_24322_small_224`, `CSWin_96_24322_base_224`,
 * `CSWin_144_24322_large_224`, `CSWin_96_24322_base_384` and `CSWin_144_24322_large_384`
 * (see `AUTHOR_NAMES`); the 384 models are those constructors called with `img_size=384`, as the
 * authors' training scripts do with `--img-size 384`.
 */
export const cswinVariants = {
  cswin_tiny_224: {
    kwargs: { img_size: 224, patch_size: 4, embed_dim: 64, depth: [1, 2, 21, 1], split_size: [1, 2, 7, 7], num_heads: [2, 4, 8, 16], mlp_ratio: 4 },
    pretrained: { in1k: pretrained('cswin_tiny_224.pth', 224) },
  },
  cswin_small_224: {
    kwargs: { img_size: 224, patch_size: 4, embed_dim: 64, depth: [2, 4, 32, 2], split_size: [1, 2, 7, 7], num_heads: [2, 4, 8, 16], mlp_ratio: 4 },
    pretrained: { in1k: pretrained('cswin_small_224.pth', 224) },
  },
  cswin_base_224: {
    kwargs: { img_size: 224, patch_size: 4, embed_dim: 96, depth: [2, 4, 32, 2], split_size: [1, 2, 7, 7], num_heads: [4, 8, 16, 32], mlp_ratio: 4 },
    pretrained: { in1k: pretrained('cswin_base_224.pth', 224) },
  },
  cswin_large_224: {
    kwargs: { img_size: 224, patch_size: 4, embed_dim: 144, depth: [2, 4, 32, 2], split_size: [1, 2, 7, 7], num_heads: [6, 12, 24, 24], mlp_ratio: 4 },
    pretrained: { in22k_ft_in1k: pretrained('cswin_large_224.pth', 224) },
  },
  cswin_base_384: {
    kwargs: { img_size: 384, patch_size: 4, embed_dim: 96, depth: [2, 4, 32, 2], split_size: [1, 2, 12, 12], num_heads: [4, 8, 16, 32], mlp_ratio: 4 },
    pretrained: { in1k: pretrained('cswin_base_384.pth', 384) },
  },
  cswin_large_384: {
    kwargs: { img_size: 384, patch_size: 4, embed_dim: 144, depth: [2, 4, 32, 2], split_size: [1, 2, 12, 12], num_heads: [6, 12, 24, 24], mlp_ratio: 4 },
    pretrained: { in22k_ft_in1k: pretrained('cswin_large_384.pth', 384) },
  },
} satisfies Record<string, VariantDefinition>;

export type CswinVariantName = keyof typeof cswinVariants;

/** Registry name -> the authors' registered model name in models/cswin.py. */
export const AUTHOR_NAMES: Readonly<Record<CswinVariantName, string>> = {
  cswin_tiny_224: 'CSWin_64_12211_tiny_224',
  cswin_small_224: 'CSWin_64_24322_small_224',
  cswin_base_224: 'CSWin_96_24322_base_224',
  cswin_large_224: 'CSWin_144_24322_large_224',
  cswin_base_384: 'CSWin_96_24322_base_384',
  cswin_large_384: 'CSWin_144_24322_large_384',
};
