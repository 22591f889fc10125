import type { PretrainedConfig, VariantDefinition } from '@vitzoo/core';

/**
 * Evaluation preprocessing of the authors' `datasets.py` / `main.py` defaults: shorter side to
 * `int(224 / 0.875)` (bicubic), center crop 224, ImageNet mean/std. The released weights are on
 * Google Drive (links in the README), so no download url is registered.
 */
function pretrained(): PretrainedConfig {
  return {
    inputSize: [3, 224, 224],
    interpolation: 'bicubic',
    cropPct: 0.875,
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
    numClasses: 1000,
    labelSet: 'imagenet-1k',
    license: 'Apache-2.0 AND MIT',
  };
}

/** The released FDViT models, under the authors' registered names (fdvit.py). */
export const fdvitVariants = {
  fdvit_ti: {
    kwargs: {
      image_size: 224,
      patch_size: 16,
      stride: 8,
      base_dims: [32, 23, 21, 23, 26],
      depth: [2, 3, 3, 2, 2],
      heads: [2, 4, 6, 8, 10],
      channels: [64, 92, 126, 184, 260],
      out_size: [27, 19, 14, 10, 7],
      mlp_ratio: 4,
    },
    pretrained: { in1k: pretrained() },
  },
  fdvit_s: {
    kwargs: {
      image_size: 224,
      patch_size: 16,
      stride: 8,
      base_dims: [48, 34, 32, 34, 38],
      depth: [2, 3, 3, 2, 2],
      heads: [3, 6, 9, 12, 15],
      channels: [144, 204, 288, 408, 570],
      out_size: [27, 19, 14, 10, 7],
      mlp_ratio: 4,
    },
    pretrained: { in1k: pretrained() },
  },
  fdvit_b: {
    kwargs: {
      image_size: 224,
      patch_size: 14,
      stride: 7,
      base_dims: [64, 45, 64, 45, 64],
      depth: [3, 3, 3, 2, 2],
      heads: [4, 8, 8, 16, 16],
      channels: [256, 360, 512, 720, 1024],
      out_size: [31, 22, 16, 11, 8],
      mlp_ratio: 4,
    },
    pretrained: { in1k: pretrained() },
  },
} satisfies Record<string, VariantDefinition>;

export type FdvitVariantName = keyof typeof fdvitVariants;
