import {
  InvalidConfigError,
  type Architecture,
  type CropMode,
  type Interpolation,
  type PretrainedConfig,
  type Registry,
} from '@vitzoo/core';
import { kwargsFacts, mergePretrainedConfig } from './model.js';

/** What a model folder's `config.json` says to build (platform-free: the caller reads the file). */
export interface ModelDescription {
  architecture: Architecture;
  /** Constructor kwargs (timm names), the variant's merged with `model_args` and `num_classes`. */
  kwargs: Record<string, unknown>;
  /** Registered variant name when the config names one (timm hub layout). */
  variant?: string;
  /** Preprocessing and label config. */
  pretrained: PretrainedConfig;
  /** 'timm-hub': `architecture` is a variant name; 'case': a fixture case (`architecture` id + `kwargs`). */
  layout: 'timm-hub' | 'case';
}

type Json = Record<string, unknown>;

function isObject(value: unknown): value is Json {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

const INTERPOLATION_NAMES: readonly Interpolation[] = ['nearest', 'bilinear', 'bicubic', 'lanczos', 'box', 'hamming'];
const CROP_MODES: readonly CropMode[] = ['center', 'squash', 'border'];

function numbers(value: unknown, count: number): value is number[] {
  return Array.isArray(value) && value.length === count && value.every((x) => typeof x === 'number' && Number.isFinite(x));
}

/**
 * timm's snake_case `pretrained_cfg` (as written in a hub `config.json`) to the camel-cased fields
 * vitzoo uses. Unknown fields are ignored (timm writes many: first_conv, classifier, pool_size, …);
 * the ones read are type-checked. `null` means "not set".
 */
export function pretrainedFieldsFromTimm(cfg: Json, context: string): Partial<PretrainedConfig> {
  const out: Partial<PretrainedConfig> = {};
  const present = (key: string) => cfg[key] !== undefined && cfg[key] !== null;
  if (present('input_size')) {
    if (!numbers(cfg.input_size, 3) || cfg.input_size[0] !== 3 || !cfg.input_size.every((x) => Number.isSafeInteger(x) && x > 0)) {
      throw new InvalidConfigError('pretrained_cfg.input_size', cfg.input_size, '[3, height, width]', context);
    }
    out.inputSize = cfg.input_size as unknown as [number, number, number];
  }
  if (present('interpolation')) {
    if (!INTERPOLATION_NAMES.includes(cfg.interpolation as Interpolation)) {
      throw new InvalidConfigError('pretrained_cfg.interpolation', cfg.interpolation, `one of ${INTERPOLATION_NAMES.join(', ')}`, context);
    }
    out.interpolation = cfg.interpolation as Interpolation;
  }
  if (present('crop_pct')) {
    if (!(typeof cfg.crop_pct === 'number' && cfg.crop_pct > 0)) {
      throw new InvalidConfigError('pretrained_cfg.crop_pct', cfg.crop_pct, 'a positive number (e.g. 0.875, 1.0)', context);
    }
    out.cropPct = cfg.crop_pct;
  }
  if (present('crop_mode')) {
    if (!CROP_MODES.includes(cfg.crop_mode as CropMode)) {
      throw new InvalidConfigError('pretrained_cfg.crop_mode', cfg.crop_mode, "'center', 'squash' or 'border'", context);
    }
    out.cropMode = cfg.crop_mode as CropMode;
  }
  for (const key of ['mean', 'std'] as const) {
    if (!present(key)) continue;
    if (!numbers(cfg[key], 3) || (key === 'std' && (cfg[key] as number[]).includes(0))) {
      throw new InvalidConfigError(`pretrained_cfg.${key}`, cfg[key], 'three numbers (per channel R, G, B)', context);
    }
    out[key] = cfg[key] as unknown as [number, number, number];
  }
  if (present('num_classes')) {
    if (!(Number.isSafeInteger(cfg.num_classes) && (cfg.num_classes as number) >= 0)) {
      throw new InvalidConfigError('pretrained_cfg.num_classes', cfg.num_classes, 'a non-negative integer', context);
    }
    out.numClasses = cfg.num_classes as number;
  }
  if (present('label_names')) {
    if (!Array.isArray(cfg.label_names) || !cfg.label_names.every((name) => typeof name === 'string')) {
      throw new InvalidConfigError('label_names', cfg.label_names, 'an array of class names (strings)', context);
    }
    out.labelNames = cfg.label_names as string[];
  }
  if (present('label_set')) {
    if (typeof cfg.label_set !== 'string') throw new InvalidConfigError('label_set', cfg.label_set, 'a label set name', context);
    out.labelSet = cfg.label_set;
  }
  const strings = { hf_hub_id: 'hfHubId', url: 'url', file: 'file', license: 'license' } as const;
  for (const [key, field] of Object.entries(strings)) {
    if (typeof cfg[key] === 'string' && cfg[key] !== '') out[field] = cfg[key] as string;
  }
  return out;
}

function objectField(config: Json, key: string, context: string): Json {
  const value = config[key] ?? {};
  if (!isObject(value)) throw new InvalidConfigError(key, value, 'an object', context);
  return value;
}

/**
 * Reads a model folder's parsed `config.json`. Two layouts:
 *
 * - **timm hub** (what `timm.models.push_to_hf_hub` writes): `architecture` = a registered variant
 *   name (optionally `name.tag`), `num_classes`, `model_args` (kwargs over the variant's),
 *   `pretrained_cfg` (input_size, interpolation, crop_pct, crop_mode, mean, std, label_names, …);
 *   a top-level `label_names` (timm's own place for it) is read too. Fields not given come from
 *   the variant's pretrained config; a `num_classes` other than the variant's drops its label set.
 * - **fixture case** (`fixtures/models/<case>`): `architecture` = an architecture id, `kwargs`,
 *   and optional `preprocess` ({ crop_pct, interpolation, mean, std }), `label_names`.
 */
export function describeModelConfig(config: unknown, registry: Registry, context = 'config.json'): ModelDescription {
  if (!isObject(config)) throw new InvalidConfigError('config.json', config, 'a JSON object', context);
  const name = config.architecture;
  if (typeof name !== 'string') {
    throw new InvalidConfigError('architecture', name, 'a registered model name (timm layout) or an architecture id with kwargs', context);
  }
  if (config.kwargs !== undefined) {
    const architecture = registry.architecture(name);
    const kwargs = { ...objectField(config, 'kwargs', context) };
    const facts = kwargsFacts(kwargs, context);
    const preprocess = objectField(config, 'preprocess', context);
    const overrides = pretrainedFieldsFromTimm(
      { ...preprocess, label_names: config.label_names ?? preprocess.label_names, num_classes: facts.numClasses ?? config.num_classes },
      context,
    );
    return { architecture, kwargs, pretrained: mergePretrainedConfig(undefined, overrides, facts)!, layout: 'case' };
  }
  if (registry.has(name)) {
    throw new InvalidConfigError(
      'kwargs',
      undefined,
      `constructor kwargs next to architecture id '${name}' (or name a registered variant, e.g. '${registry.list(`${name}*`)[0] ?? `${name}_…`}', as timm's hub layout does)`,
      context,
    );
  }
  const pretrainedCfg = objectField(config, 'pretrained_cfg', context);
  const tag = typeof pretrainedCfg.tag === 'string' && pretrainedCfg.tag !== '' && !name.includes('.') ? `${name}.${pretrainedCfg.tag}` : name;
  let resolved;
  try {
    resolved = registry.resolve(tag);
  } catch {
    resolved = registry.resolve(name); // an unknown tag is no reason to refuse the folder; the bare name decides
  }
  const modelArgs = objectField(config, 'model_args', context);
  const kwargs: Record<string, unknown> = { ...resolved.kwargs, ...modelArgs };
  if (config.num_classes !== undefined) kwargs.num_classes = config.num_classes;
  const facts = kwargsFacts(kwargs, context);
  const overrides = pretrainedFieldsFromTimm(
    { ...pretrainedCfg, ...(config.label_names !== undefined ? { label_names: config.label_names } : {}), num_classes: facts.numClasses ?? pretrainedCfg.num_classes },
    context,
  );
  const pretrained = mergePretrainedConfig(resolved.pretrained, overrides, facts)!;
  return { architecture: resolved.architecture, kwargs, variant: resolved.variant, pretrained, layout: 'timm-hub' };
}
