import { Option, type Command } from 'commander';
import { DEFAULT_Q4_BLOCK_SIZE, DTYPES, Q4_BLOCK_SIZES, resolveDtype, resolveImageSize, resolveQ4BlockSize, type Dtype } from '@vitzoo/core';

/** The CLI spelling of the shared graph-build options `dtype`, `q4BlockSize` and `imageSize` (packages/pipeline/README.md). */
export interface BuildFlags {
  dtype: string;
  q4BlockSize?: string;
  imageSize?: string;
}

/** Adds `--dtype`, `--q4-block-size` and `--image-size` to a command. */
export function addBuildOptions(command: Command): Command {
  return command
    .addOption(new Option('--dtype <name>', 'precision of the weights in the built graph').choices(DTYPES).default('fp32'))
    .addOption(new Option('--q4-block-size <n>', `--dtype q4: weights per 4-bit block (${Q4_BLOCK_SIZES.join(', ')}; default ${DEFAULT_Q4_BLOCK_SIZE}; WebGPU runs 16 and 32)`))
    .addOption(new Option('--image-size <HxW>', 'run the checkpoint at another image size: a side (384) or height x width (384x288); ViT, DeiT, Swin, CSWin (square)'));
}

/** The flags as build options (checked: a typed error names the choices). */
export function buildOptions(flags: BuildFlags): { dtype: Dtype; q4BlockSize?: number; imageSize?: [number, number] } {
  const dtype = resolveDtype(flags.dtype);
  const imageSize = flags.imageSize === undefined ? {} : { imageSize: resolveImageSize(flags.imageSize, '--image-size') };
  if (flags.q4BlockSize === undefined) return { dtype, ...imageSize };
  return { dtype, q4BlockSize: resolveQ4BlockSize(/^\d+$/.test(flags.q4BlockSize) ? Number(flags.q4BlockSize) : flags.q4BlockSize), ...imageSize };
}
