import { existsSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { FileNotFoundError } from '@vitzoo/core';
import { fileURLToPath } from 'node:url';

/**
 * Model folders are read by @vitzoo/pipeline/node: `config.json` in the timm hub layout
 * (`architecture` = a registered variant name, `num_classes`, `model_args`, `pretrained_cfg`) or a
 * fixture case (`architecture` id + `kwargs`), weights in `model.safetensors`.
 */
export { readModelFolder, type ModelSource } from '@vitzoo/pipeline/node';

/** The model `classify` uses without `--model`: the bundled digits ViT in the repository's models/ folder. */
export const DEFAULT_MODEL = 'digits-vit';

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}

function ancestors(start: string): string[] {
  const out: string[] = [];
  let current = resolve(start);
  for (;;) {
    out.push(current);
    const parent = dirname(current);
    if (parent === current) return out;
    current = parent;
  }
}

/**
 * The folder of a bundled model (`models/<name>` of the vitzoo repository): looked for in the
 * working directory and its parents, then beside the installed CLI (its repository checkout).
 */
export function findBundledModel(name: string, cwd: string): string | undefined {
  if (!/^[a-z0-9][a-z0-9._-]*$/i.test(name)) return undefined;
  const here = dirname(fileURLToPath(import.meta.url));
  for (const base of [...ancestors(cwd), ...ancestors(here)]) {
    const candidate = join(base, 'models', name);
    if (existsSync(join(candidate, 'config.json'))) return candidate;
  }
  return undefined;
}

/**
 * What `--model` names, as a folder when it is one: an existing path (relative to `cwd`), else a
 * bundled model name (`digits-vit`, `digits-deit`), else the name as given (a registered or hub
 * name, which loadModel resolves or refuses with a typed error). No `--model`: the bundled
 * `digits-vit`.
 */
export function resolveModelArgument(model: string | undefined, cwd: string): string {
  const name = model ?? DEFAULT_MODEL;
  const path = resolve(cwd, name);
  if (existsSync(path)) return path;
  const bundled = findBundledModel(name, cwd);
  if (bundled && isDirectory(bundled)) return bundled;
  return name;
}

/**
 * A `--weights` argument: a path relative to the working directory, or, when nothing is there, to
 * the model or case folder (`verify fixtures/models/vit_tiny --weights model_legacy.pth`). Neither:
 * `FileNotFoundError` naming both places.
 */
export function resolveWeightsArgument(weights: string, cwd: string, modelDir: string): string {
  const fromCwd = resolve(cwd, weights);
  if (existsSync(fromCwd) || isAbsolute(weights)) return fromCwd;
  const fromFolder = resolve(modelDir, weights);
  if (existsSync(fromFolder)) return fromFolder;
  throw new FileNotFoundError(`${fromCwd} (nor in the model folder: ${fromFolder})`, 'Weights file');
}
