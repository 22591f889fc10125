import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { readModelCase, readRequiredFile } from '@vitzoo/conformance';
import { InvalidArgumentError, InvalidConfigError, type Architecture, type Registry } from '@vitzoo/core';

/** What to build: an architecture, its kwargs, and where its weights are. */
export interface ModelSource {
  architecture: Architecture;
  kwargs: Record<string, unknown>;
  weights: string;
  /** Registered variant name when the folder names one (timm hub layout). */
  variant?: string;
}

/**
 * Reads a model folder: either a fixture case (`config.json` with `architecture` = architecture id
 * and `kwargs`) or the timm hub layout (`config.json` with `architecture` = a registered variant
 * name, `num_classes`, optional `model_args` and `pretrained_cfg`), weights in `model.safetensors`.
 */
export async function readModelFolder(dir: string, registry: Registry, weights?: string): Promise<ModelSource> {
  const info = await stat(dir).catch(() => null);
  if (!info) throw new InvalidArgumentError('path', `No such model folder: ${dir}.`);
  if (!info.isDirectory()) throw new InvalidArgumentError('path', `${dir} is a file; give the folder that holds config.json and the weights.`);
  const configPath = join(dir, 'config.json');
  const config = JSON.parse(new TextDecoder().decode(await readRequiredFile(configPath, 'Model config'))) as Record<string, unknown>;
  const weightsPath = weights ?? join(dir, 'model.safetensors');
  if (config.kwargs !== undefined) {
    const modelCase = await readModelCase(dir);
    return { architecture: registry.architecture(modelCase.architecture), kwargs: modelCase.kwargs, weights: weightsPath };
  }
  const name = config.architecture;
  if (typeof name !== 'string') {
    throw new InvalidConfigError('architecture', name, 'a registered model name (timm layout) or an architecture id with kwargs', configPath);
  }
  if (registry.has(name)) {
    throw new InvalidConfigError('kwargs', undefined, `constructor kwargs next to architecture '${name}'`, configPath);
  }
  const resolved = registry.resolve(name);
  const modelArgs = config.model_args ?? {};
  if (typeof modelArgs !== 'object' || modelArgs === null || Array.isArray(modelArgs)) {
    throw new InvalidConfigError('model_args', modelArgs, 'an object of constructor kwargs', configPath);
  }
  const kwargs: Record<string, unknown> = { ...resolved.kwargs, ...(modelArgs as Record<string, unknown>) };
  if (config.num_classes !== undefined) kwargs.num_classes = config.num_classes;
  return { architecture: resolved.architecture, kwargs, weights: weightsPath, variant: resolved.variant };
}
