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
  normalizeRows,
  type BuildModelOptions,
  type CreateModelOptions,
  type EmbedOptions,
  type ForwardOptions,
  type KwargsFacts,
  type ModelInput,
} from './model.js';
export {
  predictionsFromLogits,
  predictionsFromScores,
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
export type { ProgressCallback, ProgressEvent } from './progress.js';
export {
  blobByteSource,
  greedySoup,
  prepareSoup,
  safetensorsIngredient,
  soupStateDicts,
  stateDictIngredient,
  toIngredients,
  wholeStateDictIngredient,
  type ByteSource,
  type GreedySoupOptions,
  type GreedySoupResult,
  type GreedySoupStep,
  type IngredientModel,
  type Soup,
  type SoupIngredient,
  type SoupOptions,
} from './soup.js';
export { Ensemble, createEnsemble, type EnsembleCombine, type EnsembleOptions } from './ensemble.js';
export {
  alignLabels,
  countLinearCorrect,
  embedDataset,
  firstPerClass,
  fitLogisticRegression,
  labelledImages,
  replaceHead,
  trainHead,
  trainedHeadConfig,
  type Accuracy,
  type EmbedDatasetOptions,
  type LabelledImages,
  type LogisticRegressionOptions,
  type LogisticRegressionResult,
  type ReplaceHeadOptions,
  type ReplacedHead,
  type TrainHeadOptions,
  type TrainedHead,
} from './train-head.js';
