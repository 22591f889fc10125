/**
 * A trained head written into a complete model folder: the backbone's weights with the new
 * classifier, config.json with the classes.
 */
import { prepareOutputFolder, writeModelFolder } from './node-model-folder.js';
import { loadWeights, type ModelSource } from './node.js';
import { replaceHead, trainedHeadConfig, type TrainedHead } from './train-head.js';

export interface WriteTrainedModelOptions {
  /** Write into a non-empty folder (config.json and model.safetensors are replaced); never the backbone's own. */
  overwrite?: boolean;
  /** Stored under `train_head` in config.json (how the head was trained), beside the facts recorded here. */
  record?: Record<string, unknown>;
}

/**
 * Writes `outDir`: the backbone's weights (`source`, a model folder read by `readModelFolder`)
 * with every classifier tensor replaced by the trained head (`replaceHead`; a distilled DeiT gets
 * it in both heads), and its config.json with `num_classes`, the class names and a `train_head`
 * record. `loadModel`, `vitzoo classify` and the browser demo load it as any model folder.
 */
export async function writeTrainedModelFolder(
  source: ModelSource,
  head: TrainedHead,
  outDir: string,
  options: WriteTrainedModelOptions = {},
): Promise<{ dir: string; weights: string; config: string; bytes: number; headKeys: string[] }> {
  await prepareOutputFolder(outDir, { overwrite: options.overwrite, inputs: [source.dir] });
  const replaced = replaceHead({ architecture: source.architecture, kwargs: source.kwargs, stateDict: await loadWeights(source.weights), weight: head.weight, bias: head.bias });
  const record = {
    ...options.record,
    classes: head.classNames.length,
    C: head.fit.C,
    iterations: head.fit.iterations,
    converged: head.fit.converged,
    train_accuracy: head.train,
    ...(head.validation ? { validation_accuracy: head.validation } : {}),
    head_keys: replaced.headKeys,
  };
  const config = trainedHeadConfig(source.config, head.classNames, record);
  const written = await writeModelFolder(outDir, { config, data: replaced.stateDict });
  return { dir: outDir, ...written, headKeys: replaced.headKeys };
}
