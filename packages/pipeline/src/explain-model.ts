import { FileNotFoundError, UnsupportedError, type Registry } from '@vitzoo/core';
import { explainOutputsFor, type ExplainMethod } from './explain.js';
import { isTransformersConfig, parseJsonObject, type ModelFiles } from './load-model.js';
import { describeModelConfig } from './model-config.js';

/**
 * The outputs to load a model with so that `Model.explain` can use `method` — the one decision
 * behind `vitzoo explain` and the browser demo's heat map, made from the model's config.json and
 * its architecture's output catalog before anything is built (see `explainOutputsFor`). Models run
 * as they are (transformers.js ONNX layout, an `.onnx` graph) have only their logits: an
 * `UnsupportedError` says so.
 */
export async function explainOutputsForModel(
  files: ModelFiles,
  registry: Registry,
  method: ExplainMethod = 'auto',
): Promise<{ method: Exclude<ExplainMethod, 'auto'>; outputs: string[] }> {
  const asIs = () =>
    new UnsupportedError(
      `${files.name} is an ONNX graph run as it is, which gives only its logits; heat maps need the graph built with 'rollout' or 'intermediates.-1': use the model's timm checkpoint (config.json + model.safetensors).`,
    );
  if (files.layout === 'onnx' || (files.modelFile !== undefined && /\.onnx$/i.test(files.modelFile))) throw asIs();
  const context = `${files.name}/config.json`;
  if (!files.files.includes('config.json')) throw new FileNotFoundError(context, 'Model config');
  const config = parseJsonObject(await files.read('config.json'), context, 'config.json');
  if (isTransformersConfig(config)) throw asIs();
  return explainOutputsFor(describeModelConfig(config, registry, context), method);
}
