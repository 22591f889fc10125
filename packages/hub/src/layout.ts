import { InvalidArgumentError, UnsupportedError } from '@vitzoo/core';

/**
 * How a model folder is laid out:
 * - 'timm': `config.json` (timm's: `architecture` names a registered variant; or a fixture case with
 *   `architecture` + `kwargs`) and weights (`model.safetensors`, else `pytorch_model.bin`), converted by
 *   an architecture package;
 * - 'onnx': transformers.js layout, `config.json` + `preprocessor_config.json` + `onnx/model*.onnx`,
 *   run as it is.
 */
export type ModelLayout = 'timm' | 'onnx';

export interface LayoutOptions {
  /** Pick `onnx/model_quantized.onnx` instead of `onnx/model.onnx` in ONNX repos. */
  quantized?: boolean;
}

/** Weights files of the timm layout, in order of preference. */
export const TIMM_WEIGHTS_FILES = ['model.safetensors', 'pytorch_model.bin'] as const;

export function onnxModelFile(options: LayoutOptions = {}): string {
  return options.quantized ? 'onnx/model_quantized.onnx' : 'onnx/model.onnx';
}

/** Tells the layout from a repo's `config.json` contents. */
export function configLayout(config: unknown, where = 'config.json'): ModelLayout {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new InvalidArgumentError('config', `${where} is not a JSON object.`);
  }
  const record = config as Record<string, unknown>;
  if (typeof record.architecture === 'string') return 'timm';
  if (Array.isArray(record.architectures) || typeof record.model_type === 'string') return 'onnx';
  throw new UnsupportedError(
    `${where} is neither a timm config ('architecture': a model name) nor a transformers config ('architectures' / 'model_type'); ` +
      'vitzoo loads timm repos (config.json + model.safetensors) and transformers.js ONNX repos (config.json + preprocessor_config.json + onnx/model.onnx).',
  );
}

/** The files a layout needs besides config.json; for timm the first of `alternatives` that exists. */
export function layoutFiles(layout: ModelLayout, options: LayoutOptions = {}): { files: string[]; alternatives: string[] } {
  if (layout === 'timm') return { files: [], alternatives: [...TIMM_WEIGHTS_FILES] };
  return { files: ['preprocessor_config.json', onnxModelFile(options)], alternatives: [] };
}

/**
 * Tells the layout of a local folder from its file list ('/'-separated relative names) and returns
 * the model file (weights or ONNX graph).
 */
export function folderLayout(files: readonly string[], options: LayoutOptions = {}): { layout: ModelLayout; modelFile: string } | undefined {
  const has = new Set(files);
  const preferred = onnxModelFile(options);
  if (has.has(preferred)) return { layout: 'onnx', modelFile: preferred };
  for (const weights of TIMM_WEIGHTS_FILES) if (has.has(weights)) return { layout: 'timm', modelFile: weights };
  const onnx = files.filter((file) => /^(onnx\/)?[^/]*\.onnx$/.test(file)).sort();
  const rootModel = onnx.find((file) => file === 'model.onnx') ?? onnx.find((file) => file.startsWith('onnx/')) ?? onnx[0];
  if (rootModel) return { layout: 'onnx', modelFile: rootModel };
  const checkpoint = files.filter((file) => !file.includes('/') && /\.(pth|pt|bin|safetensors)$/.test(file)).sort()[0];
  if (checkpoint) return { layout: 'timm', modelFile: checkpoint };
  return undefined;
}
