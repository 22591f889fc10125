import type { PretrainedConfig, VariantDefinition } from '@vitzoo/core';

/** timm's CaiT `_cfg`: bicubic, crop_pct 1.0, ImageNet mean/std; weights from facebookresearch/deit (Apache-2.0). */
function pretrained(name: string, size: number): PretrainedConfig {
  return {
    inputSize: [3, size, size],
    interpolation: 'bicubic',
    cropPct: 1.0,
    mean: [0.485, 0.456, 0.406],
    std: [0.229, 0.224, 0.225],
    numClasses: 1000,
    labelSet: 'imagenet-1k',
    hfHubId: `timm/${name}.fb_dist_in1k`,
    license: 'apache-2.0',
  };
}

function variant(name: string, size: number, embedDim: number, depth: number, numHeads: number, initValues: number): [string, VariantDefinition] {
  return [
    name,
    {
      kwargs: { img_size: size, patch_size: 16, embed_dim: embedDim, depth, num_heads: numHeads, init_values: initValues },
      pretrained: { fb_dist_in1k: pretrained(name, size) },
    },
  ];
}

/**
 * timm's registered CaiT variants (timm `cait.py`), all with distilled ImageNet-1k weights
 * (`fb_dist_in1k`). `img_size` comes from the pretrained config, as timm's builder sets it for
 * fixed-input-size models.
 */
export const caitVariants: Record<string, VariantDefinition> = Object.fromEntries([
  variant('cait_xxs24_224', 224, 192, 24, 4, 1e-5),
  variant('cait_xxs24_384', 384, 192, 24, 4, 1e-5),
  variant('cait_xxs36_224', 224, 192, 36, 4, 1e-5),
  variant('cait_xxs36_384', 384, 192, 36, 4, 1e-5),
  variant('cait_xs24_384', 384, 288, 24, 6, 1e-5),
  variant('cait_s24_224', 224, 384, 24, 8, 1e-5),
  variant('cait_s24_384', 384, 384, 24, 8, 1e-5),
  variant('cait_s36_384', 384, 384, 36, 8, 1e-6),
  variant('cait_m36_384', 384, 768, 36, 16, 1e-6),
  variant('cait_m48_448', 448, 768, 48, 16, 1e-6),
]);
