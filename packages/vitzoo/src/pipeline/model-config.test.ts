import { InvalidConfigError, UnknownModelError } from '@vitzoo/core';
import { createRegistry } from '@vitzoo/core';
import { cswin } from '@vitzoo/cswin';
import { deit } from '@vitzoo/deit';
import { vit } from '@vitzoo/vit';
import { describe, expect, it } from 'vitest';
import { describeModelConfig, pretrainedFieldsFromTimm } from '@vitzoo/pipeline';
import { mergePretrainedConfig } from '@vitzoo/pipeline';

const registry = createRegistry([vit, deit, cswin]);

describe('describeModelConfig: timm hub layout', () => {
  const digits = {
    architecture: 'vit_tiny_patch16_224',
    num_classes: 10,
    model_args: { img_size: 32, patch_size: 4, embed_dim: 64, depth: 4, num_heads: 4 },
    pretrained_cfg: {
      tag: 'digits',
      input_size: [3, 32, 32],
      interpolation: 'bicubic',
      crop_pct: 1.0,
      crop_mode: 'center',
      mean: [0.5, 0.5, 0.5],
      std: [0.5, 0.5, 0.5],
      num_classes: 10,
      pool_size: null,
      first_conv: 'patch_embed.proj',
      label_names: ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'],
    },
  };

  it('merges model_args and num_classes over the variant kwargs; pretrained_cfg over the variant config', () => {
    const description = describeModelConfig(digits, registry);
    expect(description.layout).toBe('timm-hub');
    expect(description.architecture.id).toBe('vit');
    expect(description.variant).toBe('vit_tiny_patch16_224');
    expect(description.kwargs).toEqual({ img_size: 32, patch_size: 4, embed_dim: 64, depth: 4, num_heads: 4, num_classes: 10 });
    expect(description.pretrained).toMatchObject({
      inputSize: [3, 32, 32],
      interpolation: 'bicubic',
      cropPct: 1,
      cropMode: 'center',
      mean: [0.5, 0.5, 0.5],
      std: [0.5, 0.5, 0.5],
      numClasses: 10,
      labelNames: digits.pretrained_cfg.label_names,
    });
    expect(description.pretrained.labelSet).toBeUndefined(); // the variant's imagenet-1k does not fit 10 classes
  });

  it('takes missing fields from the variant (and its tag), label_names also at the top level as timm writes it', () => {
    const description = describeModelConfig(
      { architecture: 'deit_tiny_patch16_224', num_classes: 3, pretrained_cfg: { tag: 'fb_in1k', crop_pct: 1 }, label_names: ['a', 'b', 'c'] },
      registry,
    );
    expect(description.pretrained).toMatchObject({ inputSize: [3, 224, 224], interpolation: 'bicubic', cropPct: 1, numClasses: 3, labelNames: ['a', 'b', 'c'] });
    expect(description.pretrained.mean).toEqual([0.485, 0.456, 0.406]);
    const imagenet = describeModelConfig({ architecture: 'deit_tiny_patch16_224.fb_in1k' }, registry);
    expect(imagenet.pretrained).toMatchObject({ numClasses: 1000, labelSet: 'imagenet-1k', cropPct: 0.9 });
  });

  it('refuses what it cannot use, naming the field', () => {
    expect(() => describeModelConfig({ architecture: 'vit' }, registry)).toThrow(/kwargs next to architecture id 'vit'.*vit_/);
    expect(() => describeModelConfig({ architecture: 'vit_huge_patch99' }, registry)).toThrow(UnknownModelError);
    expect(() => describeModelConfig({ architecture: 42 }, registry)).toThrow(InvalidConfigError);
    expect(() => describeModelConfig([], registry)).toThrow(/JSON object/);
    expect(() => describeModelConfig({ ...digits, model_args: [1] }, registry)).toThrow(/'model_args'/);
    expect(() => describeModelConfig({ ...digits, pretrained_cfg: { input_size: [32, 32] } }, registry)).toThrow(/'pretrained_cfg.input_size'/);
    expect(() => describeModelConfig({ ...digits, pretrained_cfg: { interpolation: 'cubic' } }, registry)).toThrow(/'pretrained_cfg.interpolation'/);
    expect(() => describeModelConfig({ ...digits, pretrained_cfg: { std: [1, 0, 1] } }, registry)).toThrow(/'pretrained_cfg.std'/);
    expect(() => describeModelConfig({ ...digits, pretrained_cfg: { crop_mode: 'middle' } }, registry)).toThrow(/'pretrained_cfg.crop_mode'/);
    expect(() => describeModelConfig({ ...digits, num_classes: -1 }, registry)).toThrow(/'num_classes'/);
  });
});

describe('describeModelConfig: fixture case layout', () => {
  it('reads architecture id, kwargs and the preprocess block', () => {
    const description = describeModelConfig(
      {
        architecture: 'vit',
        kwargs: { img_size: 32, patch_size: 8, embed_dim: 48, depth: 2, num_heads: 3, num_classes: 10 },
        preprocess: { crop_pct: 0.9, interpolation: 'bicubic', mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
      },
      registry,
    );
    expect(description.layout).toBe('case');
    expect(description.variant).toBeUndefined();
    expect(description.pretrained).toMatchObject({ inputSize: [3, 32, 32], cropPct: 0.9, numClasses: 10, mean: [0.5, 0.5, 0.5] });
    expect(description.pretrained.labelSet).toBeUndefined();
    // interpolation null (the digits fixtures: no resize) keeps the default
    const digits = describeModelConfig({ architecture: 'deit', kwargs: { img_size: 32, num_classes: 10 }, preprocess: { interpolation: null, crop_pct: 1 } }, registry);
    expect(digits.pretrained.interpolation).toBe('bicubic');
  });
});

describe('pretrained config helpers', () => {
  it('pretrainedFieldsFromTimm converts snake_case and ignores unrelated timm fields', () => {
    expect(pretrainedFieldsFromTimm({ input_size: [3, 8, 16], crop_pct: 0.95, first_conv: 'x', classifier: 'head', hf_hub_id: 'timm/x.y' }, 'test')).toEqual({
      inputSize: [3, 8, 16],
      cropPct: 0.95,
      hfHubId: 'timm/x.y',
    });
  });

  it('mergePretrainedConfig: img_size becomes the input size; other num_classes drop the label set', () => {
    const base = registry.resolve('vit_tiny_patch16_224').pretrained!;
    const merged = mergePretrainedConfig(base, undefined, { numClasses: 10, imageSize: [32, 48] })!;
    expect(merged).toMatchObject({ inputSize: [3, 32, 48], numClasses: 10, interpolation: base.interpolation, mean: base.mean });
    expect(merged.labelSet).toBeUndefined();
    expect(mergePretrainedConfig(base, { inputSize: [3, 40, 40] }, { imageSize: [32, 32] })!.inputSize).toEqual([3, 40, 40]);
    expect(mergePretrainedConfig(base, undefined, { numClasses: 1000 })!.labelSet).toBe('imagenet-1k');
    expect(mergePretrainedConfig(undefined, undefined, {})).toBeUndefined();
  });
});
