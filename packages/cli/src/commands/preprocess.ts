import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { InvalidArgumentError, serializeSafetensors, type CropMode, type Interpolation, type PretrainedConfig } from '@vitzoo/core';
import { looksLikePath } from '@vitzoo/hub';
import { createTransform, INTERPOLATIONS, type TimmDataConfig } from '@vitzoo/preprocess/node';
import { readImageFile } from '@vitzoo/pipeline/node';
import { JSON_FORMAT_VERSION } from '../exit.js';
import { readModelFolder, resolveModelArgument } from '../model-dir.js';
import { checkOutputPath, writeFileAtomic } from '../write-file.js';

interface PreprocessCommandOptions {
  output: string;
  model?: string;
  size?: string;
  interpolation?: string;
  cropPct?: string;
  cropMode?: string;
  mean?: string;
  std?: string;
  dtype: string;
  maxPixels?: string;
  json?: boolean;
}

function numberList(value: string, option: string, count: readonly number[]): number[] {
  const numbers = value.split(',').map((part) => Number(part.trim()));
  if (!count.includes(numbers.length) || numbers.some((n) => !Number.isFinite(n))) {
    throw new InvalidArgumentError(option, `${option} takes ${count.join(' or ')} comma-separated numbers, got '${value}'.`);
  }
  return numbers;
}

/** The timm data config from `--model` and/or the explicit options (explicit ones win). */
async function dataConfig(options: PreprocessCommandOptions, context: CommandContext): Promise<{ config: TimmDataConfig; source: string }> {
  const explicit: TimmDataConfig = {};
  if (options.size !== undefined) {
    const sides = numberList(options.size, '--size', [1, 2]);
    if (!sides.every((side) => Number.isSafeInteger(side) && side > 0)) {
      throw new InvalidArgumentError('--size', `--size takes positive integers (height[,width]), got '${options.size}'.`);
    }
    explicit.inputSize = [3, sides[0]!, sides[1] ?? sides[0]!];
  }
  if (options.interpolation !== undefined) {
    if (!(INTERPOLATIONS as readonly string[]).includes(options.interpolation)) {
      throw new InvalidArgumentError('--interpolation', `--interpolation must be one of ${INTERPOLATIONS.join(', ')}, got '${options.interpolation}'.`);
    }
    explicit.interpolation = options.interpolation as Interpolation;
  }
  if (options.cropPct !== undefined) {
    const cropPct = Number(options.cropPct);
    if (!(cropPct > 0 && Number.isFinite(cropPct))) throw new InvalidArgumentError('--crop-pct', `--crop-pct must be a positive number (e.g. 0.875), got '${options.cropPct}'.`);
    explicit.cropPct = cropPct;
  }
  if (options.cropMode !== undefined) {
    if (!['center', 'squash', 'border'].includes(options.cropMode)) {
      throw new InvalidArgumentError('--crop-mode', `--crop-mode must be center, squash or border, got '${options.cropMode}'.`);
    }
    explicit.cropMode = options.cropMode as CropMode;
  }
  if (options.mean !== undefined) explicit.mean = numberList(options.mean, '--mean', [3]) as unknown as [number, number, number];
  if (options.std !== undefined) {
    const std = numberList(options.std, '--std', [3]);
    if (std.includes(0)) throw new InvalidArgumentError('--std', '--std values must not be 0.');
    explicit.std = std as unknown as [number, number, number];
  }
  if (options.model === undefined) {
    if (Object.keys(explicit).length === 0) {
      throw new InvalidArgumentError('model', "Say how to preprocess: --model <name|dir> (the model's pretrained config) or the transform options (--size, --interpolation, --crop-pct, --crop-mode, --mean, --std).");
    }
    return { config: explicit, source: 'options (timm defaults for the rest)' };
  }
  if (options.model.trim() === '') throw new InvalidArgumentError('--model', '--model needs a value: a model folder or a registry name (e.g. vit_base_patch16_224).');
  const registry = await context.registry();
  const dir = resolveModelArgument(options.model, context.io.cwd);
  let pretrained: PretrainedConfig;
  let source = dir;
  if ((await stat(dir).catch(() => null))?.isDirectory()) {
    ({ pretrained } = await readModelFolder(dir, registry));
  } else if (looksLikePath(options.model) || options.model.includes('/')) {
    throw new InvalidArgumentError(
      '--model',
      `${options.model} is not a model folder. preprocess takes a folder or a registry name (its pretrained config; no weights needed); ` +
        'for a hub repo, fetch it first (`vitzoo download org/repo`) and pass the folder it prints.',
    );
  } else {
    // A registry name: its pretrained config says how to preprocess; no weights needed.
    const model = registry.resolve(options.model); // UnknownModelError with suggestions
    if (!model.pretrained) throw new InvalidArgumentError('--model', `'${options.model}' (${model.variant}) has no pretrained config; name one of \`vitzoo list --names --pretrained\`.`);
    pretrained = model.pretrained;
    source = `${model.variant}${model.tag === undefined ? '' : `.${model.tag}`} (registry)`;
  }
  const config: TimmDataConfig = {
    inputSize: pretrained.inputSize,
    interpolation: pretrained.interpolation,
    cropPct: pretrained.cropPct,
    cropMode: pretrained.cropMode,
    mean: pretrained.mean,
    std: pretrained.std,
    ...explicit,
  };
  return { config, source };
}

export function registerPreprocess(program: Command, context: CommandContext): void {
  program
    .command('preprocess')
    .description("write the tensor a model sees for an image (pixel_values [1, 3, H, W]) to compare with a Python pipeline")
    .argument('<image>', 'image file')
    .requiredOption('-o, --output <file>', 'safetensors file to write (atomically)')
    .option('-m, --model <name|dir>', "use a model's pretrained config: a registry name (vit_base_patch16_224, no weights needed), a model folder or a bundled model name")
    .option('--size <n[,w]>', 'input size: height[,width] (default 224)')
    .option('--interpolation <filter>', `resize filter: ${INTERPOLATIONS.join(', ')} (default bilinear)`)
    .option('--crop-pct <p>', 'crop fraction: resize to size / p, then center-crop (default 0.875)')
    .option('--crop-mode <mode>', 'center, squash or border (default center)')
    .option('--mean <r,g,b>', 'normalisation mean (default ImageNet 0.485,0.456,0.406)')
    .option('--std <r,g,b>', 'normalisation std (default ImageNet 0.229,0.224,0.225)')
    .option('--dtype <type>', 'float32 or float16', 'float32')
    .option('--max-pixels <n>', 'refuse images with more pixels than this (decompression bombs); default 89478485, as PIL')
    .option('--json', 'print a JSON summary')
    .action(async (image: string, options: PreprocessCommandOptions) => {
      const { io } = context;
      if (options.dtype !== 'float32' && options.dtype !== 'float16') {
        throw new InvalidArgumentError('--dtype', `--dtype must be float32 or float16, got '${options.dtype}'.`);
      }
      const outputPath = resolve(io.cwd, options.output);
      const inputs = [{ path: resolve(io.cwd, image), what: 'image' }];
      await checkOutputPath(outputPath, inputs);
      const { config, source } = await dataConfig(options, context);
      const maxPixels = options.maxPixels === undefined ? undefined : Number(options.maxPixels);
      if (maxPixels !== undefined && !(Number.isSafeInteger(maxPixels) && maxPixels > 0)) {
        throw new InvalidArgumentError('--max-pixels', `--max-pixels must be a positive integer, got '${options.maxPixels}'.`);
      }
      const transform = createTransform(config, { dtype: options.dtype, maxPixels });
      const pixels = await readImageFile(image, { cwd: io.cwd, maxPixels: transform.maxPixels });
      const geometry = transform.geometry(pixels, image);
      const tensor = transform.applyBatch([pixels]);
      const bytes = serializeSafetensors(
        { pixel_values: tensor },
        { image, config: JSON.stringify(config), steps: JSON.stringify(transform.steps), producer: 'vitzoo preprocess' },
      );
      await writeFileAtomic(outputPath, [bytes], inputs);
      const summary = {
        version: JSON_FORMAT_VERSION,
        output: outputPath,
        image,
        imageSize: { width: pixels.width, height: pixels.height, channels: pixels.channels },
        tensor: { name: 'pixel_values', dtype: tensor.dtype, shape: tensor.shape },
        config,
        configSource: source,
        geometry,
      };
      if (options.json) io.stdout(`${JSON.stringify(summary)}\n`);
      else {
        io.stdout(
          `wrote ${outputPath}: pixel_values [${tensor.shape.join(', ')}] ${tensor.dtype}\n` +
            `  ${image} ${pixels.width}x${pixels.height} -> resized ${geometry.resized.width}x${geometry.resized.height}, ` +
            `crop ${geometry.crop.width}x${geometry.crop.height} at (${geometry.crop.left}, ${geometry.crop.top})\n` +
            `  config from ${source}: ${JSON.stringify(config)}\n`,
        );
      }
    });
}
