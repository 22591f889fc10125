/**
 * @vitzoo/pipeline: the Model API (forward, classify, embed) over any backend, bundled label sets,
 * and model-folder config parsing. Platform-free: no Node or DOM APIs (model folders are read by
 * `@vitzoo/pipeline/node`).
 */
export {
  DEFAULT_BATCH_SIZE,
  Model,
  buildModel,
  createModel,
  kwargsFacts,
  mergePretrainedConfig,
  type BuildModelOptions,
  type CreateModelOptions,
  type EmbedOptions,
  type ForwardOptions,
  type KwargsFacts,
  type ModelInput,
} from './model.js';
export {
  predictionsFromLogits,
  resolvePredictionFilter,
  softmax,
  type ClassSelector,
  type ClassifyOptions,
  type Prediction,
  type PredictionFilter,
} from './predictions.js';
export { IMAGENET_1K_LABELS, indexLabels, labelSet, labelSetNames, registerLabelSet, resolveLabelNames } from './labels.js';
export { describeModelConfig, pretrainedFieldsFromTimm, type ModelDescription } from './model-config.js';
export { registerBackend, registeredBackends, resolveBackend, type Backend, type BackendSession, type SessionOptions } from '@vitzoo/runtime';
export {
  EXPLAIN_METHODS,
  explainOutput,
  gridToImage,
  heatGrids,
  placeHeatGrids,
  principalComponentMap,
  type ExplainMethod,
  type HeatGrid,
  type Heatmap,
} from './explain.js';
