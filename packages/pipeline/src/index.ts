/**
 * @vitzoo/pipeline: the Model API (forward, classify, embed) over any backend, bundled label sets,
 * model-folder config parsing and the one model loader (`loadModel`, on an injected file source).
 * Platform-free: no Node or DOM APIs (`@vitzoo/pipeline/node` and `/browser` supply file access).
 */
export {
  DEFAULT_BATCH_SIZE,
  Model,
  createModel,
  kwargsFacts,
  mergePretrainedConfig,
  normalizeRows,
  type CreateModelOptions,
  type EmbedOptions,
  type ForwardOptions,
  type KwargsFacts,
  type ModelDetails,
  type ModelInput,
} from './model.js';
export {
  DEVICES,
  WEIGHTS_FILE_NAMES,
  buildModel,
  checkpointGraph,
  chooseBackend,
  isTransformersConfig,
  labelsFromId2Label,
  loadGraph,
  loadModel,
  modelFilesFromBlobs,
  modelFromGraph,
  parseJsonObject,
  transformersClasses,
  type BuildModelOptions,
  type CheckpointGraphOptions,
  type Device,
  type LoadModelOptions,
  type ModelFileSource,
  type ModelFiles,
  type ModelGraph,
  type SessionChoice,
  type ModelSourceInput,
  type OpenModelOptions,
  type PickedFiles,
} from './load-model.js';
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
export { compareDtypes, type CompareDtypesOptions, type DtypeComparison } from './compare-dtypes.js';
export { describeModelConfig, pretrainedFieldsFromTimm, type ModelDescription } from './model-config.js';
export { registerBackend, registeredBackends, resolveBackend, resolveBackendChoice, type Backend, type BackendSession, type SessionOptions } from '@vitzoo/runtime';
export {
  EXPLAIN_METHODS,
  explainMethodsFor,
  explainOutput,
  explainOutputsFor,
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
