import { Option, type Command } from 'commander';
import { DEFAULT_Q4_BLOCK_SIZE, DTYPES, Q4_BLOCK_SIZES, resolveDtype, resolveQ4BlockSize, type Dtype } from '@vitzoo/core';

/** The CLI spelling of the shared `dtype` and `q4BlockSize` options (packages/pipeline/README.md). */
export interface PrecisionFlags {
  dtype: string;
  q4BlockSize?: string;
}

/** Adds `--dtype` and `--q4-block-size` to a command. */
export function addPrecisionOptions(command: Command): Command {
  return command
    .addOption(new Option('--dtype <name>', 'precision of the weights in the built graph').choices(DTYPES).default('fp32'))
    .addOption(new Option('--q4-block-size <n>', `--dtype q4: weights per 4-bit block (${Q4_BLOCK_SIZES.join(', ')}; default ${DEFAULT_Q4_BLOCK_SIZE}; WebGPU runs 16 and 32)`));
}

/** The flags as build options (checked: a typed error names the choices). */
export function precisionOptions(flags: PrecisionFlags): { dtype: Dtype; q4BlockSize?: number } {
  const dtype = resolveDtype(flags.dtype);
  if (flags.q4BlockSize === undefined) return { dtype };
  return { dtype, q4BlockSize: resolveQ4BlockSize(/^\d+$/.test(flags.q4BlockSize) ? Number(flags.q4BlockSize) : flags.q4BlockSize) };
}
