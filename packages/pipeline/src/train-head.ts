/**
 * Transfer learning with a frozen backbone: `pre_logits` embeddings of labelled images, computed
 * once, and a multinomial logistic-regression head fitted on them in float64 by full-batch
 * L-BFGS (deterministic: no randomness, a fixed order of operations). The objective is
 * scikit-learn's `LogisticRegression(C, solver='lbfgs', multi_class='multinomial')`:
 * Σₙ cross-entropy + ‖W‖² / (2C), the bias unpenalised. Platform-free.
 */
import {
  InvalidArgumentError,
  positiveInteger,
  UnsupportedError,
  createTensor,
  formatShape,
  validateCheckpoint,
  type Architecture,
  type StateDict,
  type Tensor,
} from '@vitzoo/core';
import type { RawImage } from '@vitzoo/preprocess';
import type { Model } from './model.js';
import type { ProgressCallback } from './progress.js';

/** Labelled images, decoded on demand (Node: `readImageDataset` of @vitzoo/pipeline/node). */
export interface LabelledImages {
  /** Class names by class index. */
  readonly classNames: readonly string[];
  /** The class index of every item. */
  readonly labels: readonly number[];
  /** Item `index`'s image. */
  image(index: number): Promise<RawImage> | RawImage;
  /** Item names (file names) for messages and reports. */
  readonly names?: readonly string[];
}

/** A dataset of images given in memory, with their class names. */
export function labelledImages(images: readonly RawImage[], labels: readonly number[], classNames: readonly string[]): LabelledImages {
  if (images.length !== labels.length) throw new InvalidArgumentError('labels', `${images.length} images but ${labels.length} labels.`);
  return { classNames, labels, image: (index) => images[index]! };
}

function checkDataset(dataset: LabelledImages, what: string): void {
  if (typeof dataset !== 'object' || dataset === null || typeof dataset.image !== 'function' || !Array.isArray(dataset.labels) || !Array.isArray(dataset.classNames)) {
    throw new InvalidArgumentError(what, `The ${what} set must be { classNames, labels, image(index) } (e.g. readImageDataset(folder) of @vitzoo/pipeline/node).`);
  }
  if (dataset.labels.length === 0) throw new InvalidArgumentError(what, `The ${what} set has no images.`);
  const bad = dataset.labels.findIndex((label) => !Number.isSafeInteger(label) || label < 0 || label >= dataset.classNames.length);
  if (bad >= 0) {
    throw new InvalidArgumentError(what, `Item ${dataset.names?.[bad] ?? bad} of the ${what} set has label ${String(dataset.labels[bad])}; class indices run 0..${dataset.classNames.length - 1}.`);
  }
}

/** The first `count` items of each class, in dataset order (e.g. sorted file names). */
export function firstPerClass(dataset: LabelledImages, count: number): LabelledImages {
  positiveInteger(count, 'perClass');
  const taken = new Map<number, number>();
  const indices: number[] = [];
  dataset.labels.forEach((label, index) => {
    const seen = taken.get(label) ?? 0;
    if (seen < count) {
      indices.push(index);
      taken.set(label, seen + 1);
    }
  });
  return {
    classNames: dataset.classNames,
    labels: indices.map((i) => dataset.labels[i]!),
    image: (index) => dataset.image(indices[index]!),
    ...(dataset.names ? { names: indices.map((i) => dataset.names![i]!) } : {}),
  };
}

export interface EmbedDatasetOptions {
  /** Images per backbone run (default the model's batch size). */
  batchSize?: number;
  /** `{ stage: 'embed', loaded, total }` after every batch. */
  progress?: ProgressCallback;
  /** Added to `loaded` and `total` (one bar over several datasets). */
  progressOffset?: { loaded: number; total: number };
  signal?: AbortSignal;
}

/**
 * `pre_logits` of every item (the backbone must be built with 'pre_logits'), batched, images
 * decoded one batch at a time: a `[N, D]` float32 matrix, rows in dataset order.
 */
export async function embedDataset(backbone: Model, dataset: LabelledImages, options: EmbedDatasetOptions = {}): Promise<Tensor<'float32'>> {
  const count = dataset.labels.length;
  const batchSize = positiveInteger(options.batchSize ?? backbone.batchSize, 'batchSize');
  const offset = options.progressOffset ?? { loaded: 0, total: count };
  let data: Float32Array | undefined;
  let width = 0;
  for (let start = 0; start < count; start += batchSize) {
    options.signal?.throwIfAborted();
    const indices = Array.from({ length: Math.min(batchSize, count - start) }, (_, i) => start + i);
    const images: RawImage[] = await Promise.all(indices.map((i) => dataset.image(i))); // decoders may run in parallel
    const embedding = await backbone.embed(images, { signal: options.signal });
    width = embedding.shape[1]!;
    data ??= new Float32Array(count * width);
    data.set(embedding.data, start * width);
    options.progress?.({ stage: 'embed', loaded: offset.loaded + start + images.length, total: offset.total });
  }
  return createTensor('float32', [count, width], data!);
}

export interface LogisticRegressionOptions {
  /** Inverse regularisation strength, as scikit-learn's: the penalty is ‖W‖² / (2C). Default 1. */
  C?: number;
  /** L-BFGS iterations at most (default 1000). */
  maxIterations?: number;
  /** Stop when the largest gradient component of the mean objective (objective / N) is below this (default 1e-8). */
  tolerance?: number;
  signal?: AbortSignal;
}

export interface LogisticRegressionResult {
  /** `[classes, features]`, row-major. */
  weight: Float64Array;
  bias: Float64Array;
  /** Σ cross-entropy + ‖W‖² / (2C) at the solution. */
  objective: number;
  iterations: number;
  /** Largest gradient component of objective / N at the solution. */
  gradient: number;
  /** True when the gradient tolerance (or the objective stopped changing in float64) was reached, false when maxIterations ran out. */
  converged: boolean;
}

/** The objective and its gradient for parameters `theta` = [W (C×D, row-major), b (C)]. */
function objective(theta: Float64Array, x: Float64Array, labels: Int32Array, classes: number, features: number, penalty: number, gradient: Float64Array): number {
  const rows = labels.length;
  const biasOffset = classes * features;
  gradient.fill(0);
  const z = new Float64Array(classes);
  let total = 0;
  for (let n = 0; n < rows; n += 1) {
    const row = n * features;
    let max = -Infinity;
    for (let c = 0; c < classes; c += 1) {
      let value = theta[biasOffset + c]!;
      const w = c * features;
      for (let d = 0; d < features; d += 1) value += theta[w + d]! * x[row + d]!;
      z[c] = value;
      if (value > max) max = value;
    }
    let sum = 0;
    for (let c = 0; c < classes; c += 1) sum += Math.exp(z[c]! - max);
    const logSum = max + Math.log(sum);
    const label = labels[n]!;
    total += logSum - z[label]!;
    for (let c = 0; c < classes; c += 1) {
      const residual = Math.exp(z[c]! - logSum) - (c === label ? 1 : 0);
      if (residual === 0) continue;
      const w = c * features;
      for (let d = 0; d < features; d += 1) gradient[w + d]! += residual * x[row + d]!;
      gradient[biasOffset + c]! += residual;
    }
  }
  let squares = 0;
  for (let i = 0; i < biasOffset; i += 1) {
    squares += theta[i]! * theta[i]!;
    gradient[i]! += penalty * theta[i]!;
  }
  return total + 0.5 * penalty * squares;
}

function dot(a: Float64Array, b: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i += 1) sum += a[i]! * b[i]!;
  return sum;
}

function maxAbs(a: Float64Array): number {
  let max = 0;
  for (let i = 0; i < a.length; i += 1) max = Math.max(max, Math.abs(a[i]!));
  return max;
}

interface Evaluation {
  step: number;
  value: number;
  gradient: Float64Array;
  slope: number;
}

/**
 * A line search for the strong Wolfe conditions (Nocedal & Wright, Algorithms 3.5 and 3.6,
 * quadratic interpolation safeguarded by bisection): a step that decreases the objective enough
 * (c1 = 1e-4) with a slope that has flattened enough (c2 = 0.9). Returns the best point found.
 */
function wolfeSearch(evaluate: (step: number) => Evaluation, value0: number, slope0: number, initial: number): Evaluation | undefined {
  const c1 = 1e-4;
  const c2 = 0.9;
  let best: Evaluation | undefined;
  const consider = (point: Evaluation) => {
    if (point.value < value0 && (!best || point.value < best.value)) best = point;
    return point;
  };
  const zoom = (low: Evaluation, high: Evaluation): Evaluation | undefined => {
    for (let i = 0; i < 40; i += 1) {
      const span = high.step - low.step;
      // Minimum of the quadratic through (low.value, low.slope) and high.value, kept away from the ends.
      const denominator = 2 * (high.value - low.value - low.slope * span);
      let step = denominator > 0 ? low.step - (low.slope * span * span) / denominator : low.step + span / 2;
      const lower = Math.min(low.step, high.step) + 0.1 * Math.abs(span);
      const upper = Math.max(low.step, high.step) - 0.1 * Math.abs(span);
      if (!(step >= lower && step <= upper)) step = low.step + span / 2;
      const point = consider(evaluate(step));
      if (point.value > value0 + c1 * step * slope0 || point.value >= low.value) {
        high = point;
      } else {
        if (Math.abs(point.slope) <= -c2 * slope0) return point;
        if (point.slope * (high.step - low.step) >= 0) high = low;
        low = point;
      }
      if (Math.abs(high.step - low.step) <= 1e-16 * Math.max(1, Math.abs(low.step))) break;
    }
    return best;
  };
  let previous: Evaluation = { step: 0, value: value0, gradient: new Float64Array(0), slope: slope0 };
  let step = initial;
  for (let i = 0; i < 40; i += 1) {
    const point = consider(evaluate(step));
    if (point.value > value0 + c1 * step * slope0 || (i > 0 && point.value >= previous.value)) return zoom(previous, point);
    if (Math.abs(point.slope) <= -c2 * slope0) return point;
    if (point.slope >= 0) return zoom(point, previous);
    previous = point;
    step *= 2;
  }
  return best;
}

/**
 * Fits a multinomial logistic regression: minimises Σₙ [log Σ_c exp(zₙc) − zₙyₙ] + ‖W‖² / (2C)
 * with zₙ = W xₙ + b (the bias unpenalised), by L-BFGS (10 pairs of history, strong Wolfe line
 * search) from zero, in float64. `features` is `[rows, dimensions]` row-major.
 */
export function fitLogisticRegression(
  features: ArrayLike<number>,
  labels: ArrayLike<number>,
  classes: number,
  options: LogisticRegressionOptions = {},
): LogisticRegressionResult {
  const rows = labels.length;
  if (rows === 0) throw new InvalidArgumentError('labels', 'No training rows.');
  if (!Number.isSafeInteger(classes) || classes < 2) throw new InvalidArgumentError('classes', `A classifier needs at least 2 classes, got ${String(classes)}.`);
  if (features.length % rows !== 0) throw new InvalidArgumentError('features', `${features.length} feature values do not make ${rows} rows.`);
  const dimensions = features.length / rows;
  const C = options.C ?? 1;
  if (!(typeof C === 'number' && C > 0 && Number.isFinite(C))) throw new InvalidArgumentError('C', `C (inverse regularisation strength) must be a positive number, got ${String(C)}.`);
  const maxIterations = positiveInteger(options.maxIterations ?? 1000, 'maxIterations');
  const tolerance = options.tolerance ?? 1e-8;
  if (!(typeof tolerance === 'number' && tolerance >= 0)) throw new InvalidArgumentError('tolerance', `tolerance must be a non-negative number, got ${String(tolerance)}.`);
  const x = Float64Array.from(features);
  for (let i = 0; i < x.length; i += 1) {
    if (!Number.isFinite(x[i]!)) throw new InvalidArgumentError('features', `Feature value ${i} (row ${Math.floor(i / dimensions)}) is ${x[i]}; embeddings must be finite.`);
  }
  const y = Int32Array.from(labels);
  for (let n = 0; n < rows; n += 1) {
    if (!(y[n]! >= 0 && y[n]! < classes) || y[n] !== labels[n]) throw new InvalidArgumentError('labels', `Row ${n} has label ${String(labels[n])}; classes run 0..${classes - 1}.`);
  }
  const size = classes * dimensions + classes;
  const penalty = 1 / C;
  // Minimise the mean objective (the same minimiser; the tolerance then does not grow with N).
  const scale = 1 / rows;
  let theta: Float64Array = new Float64Array(size);
  let gradient: Float64Array = new Float64Array(size);
  let value = objective(theta, x, y, classes, dimensions, penalty, gradient) * scale;
  for (let i = 0; i < size; i += 1) gradient[i]! *= scale;
  const history: { s: Float64Array; y: Float64Array; rho: number }[] = [];
  const memory = 10;
  let iterations = 0;
  let converged = maxAbs(gradient) <= tolerance;
  while (!converged && iterations < maxIterations) {
    options.signal?.throwIfAborted();
    // Two-loop recursion: direction = -H·g.
    const direction = Float64Array.from(gradient, (g) => -g);
    const alphas: number[] = [];
    for (let i = history.length - 1; i >= 0; i -= 1) {
      const pair = history[i]!;
      const alpha = pair.rho * dot(pair.s, direction);
      alphas[i] = alpha;
      for (let j = 0; j < size; j += 1) direction[j]! -= alpha * pair.y[j]!;
    }
    if (history.length > 0) {
      const last = history[history.length - 1]!;
      const gamma = dot(last.s, last.y) / dot(last.y, last.y);
      for (let j = 0; j < size; j += 1) direction[j]! *= gamma;
    }
    for (let i = 0; i < history.length; i += 1) {
      const pair = history[i]!;
      const beta = pair.rho * dot(pair.y, direction);
      for (let j = 0; j < size; j += 1) direction[j]! += pair.s[j]! * (alphas[i]! - beta);
    }
    let slope = dot(direction, gradient);
    if (!(slope < 0)) {
      // Not a descent direction (lost curvature information): restart from steepest descent.
      history.length = 0;
      for (let j = 0; j < size; j += 1) direction[j] = -gradient[j]!;
      slope = dot(direction, gradient);
    }
    const start = theta;
    const evaluate = (step: number): Evaluation => {
      const point = new Float64Array(size);
      for (let j = 0; j < size; j += 1) point[j] = start[j]! + step * direction[j]!;
      const pointGradient = new Float64Array(size);
      const pointValue = objective(point, x, y, classes, dimensions, penalty, pointGradient) * scale;
      for (let j = 0; j < size; j += 1) pointGradient[j]! *= scale;
      return { step, value: pointValue, gradient: pointGradient, slope: dot(pointGradient, direction) };
    };
    const initial = history.length === 0 ? Math.min(1, 1 / Math.max(maxAbs(gradient), 1e-300)) : 1;
    const accepted = wolfeSearch(evaluate, value, slope, initial);
    iterations += 1;
    if (!accepted) {
      converged = true; // no step decreases the objective in float64: this is the minimum to machine precision
      break;
    }
    const next = new Float64Array(size);
    for (let j = 0; j < size; j += 1) next[j] = start[j]! + accepted.step * direction[j]!;
    const s = new Float64Array(size);
    const change = new Float64Array(size);
    for (let j = 0; j < size; j += 1) {
      s[j] = next[j]! - start[j]!;
      change[j] = accepted.gradient[j]! - gradient[j]!;
    }
    const curvature = dot(s, change);
    if (curvature > 1e-12 * Math.sqrt(dot(s, s) * dot(change, change))) {
      history.push({ s, y: change, rho: 1 / curvature });
      if (history.length > memory) history.shift();
    }
    const previousValue = value;
    theta = next;
    gradient = accepted.gradient;
    value = accepted.value;
    converged = maxAbs(gradient) <= tolerance || previousValue - value <= 1e-15 * Math.max(1, Math.abs(value));
  }
  const weight = theta.slice(0, classes * dimensions);
  const bias = theta.slice(classes * dimensions);
  return { weight, bias, objective: value * rows, iterations, gradient: maxAbs(gradient), converged };
}

/** Rows whose argmax of W x + b (float64) is their label. */
export function countLinearCorrect(weight: ArrayLike<number>, bias: ArrayLike<number>, features: ArrayLike<number>, labels: readonly number[]): number {
  const classes = bias.length;
  const dimensions = weight.length / classes;
  let correct = 0;
  for (let n = 0; n < labels.length; n += 1) {
    let best = 0;
    let bestValue = -Infinity;
    for (let c = 0; c < classes; c += 1) {
      let value = bias[c]!;
      for (let d = 0; d < dimensions; d += 1) value += weight[c * dimensions + d]! * features[n * dimensions + d]!;
      if (value > bestValue) {
        bestValue = value;
        best = c;
      }
    }
    if (best === labels[n]) correct += 1;
  }
  return correct;
}

export interface TrainHeadOptions {
  /** Inverse L2 regularisation strength, scikit-learn's C: penalty ‖W‖² / (2C). Default 1.0. */
  C?: number;
  /** L-BFGS iterations at most (default 1000). */
  maxIterations?: number;
  /** Gradient tolerance on the mean objective (default 1e-8). */
  tolerance?: number;
  /** Labelled images to report accuracy on (class names matched to the training set's by name). */
  validation?: LabelledImages;
  /** Images per backbone run (default the backbone's batch size). */
  batchSize?: number;
  /** `{ stage: 'embed', loaded, total }` while the backbone runs (training and validation images together). */
  progress?: ProgressCallback;
  signal?: AbortSignal;
}

export interface Accuracy {
  correct: number;
  total: number;
  accuracy: number;
}

export interface TrainedHead {
  /** `[classes, features]` float32. */
  weight: Tensor<'float32'>;
  /** `[classes]` float32. */
  bias: Tensor<'float32'>;
  classNames: string[];
  train: Accuracy;
  validation?: Accuracy;
  /** What the optimiser did. */
  fit: Omit<LogisticRegressionResult, 'weight' | 'bias'> & { C: number };
}

function accuracy(correct: number, total: number): Accuracy {
  return { correct, total, accuracy: correct / total };
}

/**
 * A dataset's labels as indices into `classNames`, matched by class name; an item of a class
 * `classNames` lacks is an `InvalidArgumentError` (`argument`) naming the item and `owner` (whose classes they are).
 */
export function alignLabels(dataset: LabelledImages, classNames: readonly string[], options: { argument: string; owner: string }): number[] {
  const index = new Map(classNames.map((name, i) => [name, i]));
  return dataset.labels.map((label, i) => {
    const name = dataset.classNames[label]!;
    const mapped = index.get(name);
    if (mapped === undefined) {
      const shown = `${classNames.slice(0, 10).join(', ')}${classNames.length > 10 ? ', …' : ''}`;
      throw new InvalidArgumentError(options.argument, `Item ${dataset.names?.[i] ?? i} of the ${options.argument} images is of class '${name}', which ${options.owner} does not have (classes: ${shown}).`);
    }
    return mapped;
  });
}

/**
 * Trains a new classification head on a frozen backbone (a Model built with 'pre_logits'):
 * embeddings of the training (and validation) images are computed once, in batches, then a
 * multinomial logistic regression is fitted to them (`fitLogisticRegression`: scikit-learn's
 * `LogisticRegression(C)` objective, L-BFGS, deterministic). Returns the head as float32
 * `weight` `[classes, features]` and `bias`, with train (and validation) accuracy. Put it into
 * the backbone's weights with `replaceHead`.
 */
export async function trainHead(backbone: Model, train: LabelledImages, options: TrainHeadOptions = {}): Promise<TrainedHead> {
  if (!backbone || typeof backbone.embed !== 'function') throw new InvalidArgumentError('backbone', 'trainHead needs a backbone Model built with outputs including pre_logits.');
  checkDataset(train, 'training');
  if (options.validation !== undefined) checkDataset(options.validation, 'validation');
  const classNames = [...train.classNames];
  const validationLabels = options.validation ? alignLabels(options.validation, classNames, { argument: 'validation', owner: 'the training set' }) : undefined;
  const total = train.labels.length + (options.validation?.labels.length ?? 0);
  const embedOptions = { batchSize: options.batchSize, progress: options.progress, signal: options.signal };
  const features = await embedDataset(backbone, train, { ...embedOptions, progressOffset: { loaded: 0, total } });
  const validationFeatures = options.validation
    ? await embedDataset(backbone, options.validation, { ...embedOptions, progressOffset: { loaded: train.labels.length, total } })
    : undefined;
  const fit = fitLogisticRegression(features.data, train.labels, classNames.length, { C: options.C, maxIterations: options.maxIterations, tolerance: options.tolerance, signal: options.signal });
  const dimensions = features.shape[1]!;
  const result: TrainedHead = {
    weight: createTensor('float32', [classNames.length, dimensions], Float32Array.from(fit.weight)),
    bias: createTensor('float32', [classNames.length], Float32Array.from(fit.bias)),
    classNames,
    train: accuracy(countLinearCorrect(fit.weight, fit.bias, features.data, train.labels), train.labels.length),
    fit: { objective: fit.objective, iterations: fit.iterations, gradient: fit.gradient, converged: fit.converged, C: options.C ?? 1 },
  };
  if (validationFeatures && validationLabels) result.validation = accuracy(countLinearCorrect(fit.weight, fit.bias, validationFeatures.data, validationLabels), validationLabels.length);
  return result;
}

export interface ReplaceHeadOptions {
  architecture: Architecture;
  /** The backbone's constructor kwargs. */
  kwargs: Readonly<Record<string, unknown>>;
  /** The backbone's weights (any layout its architecture's checkpoint filter adapts). */
  stateDict: StateDict;
  /** The new head: `weight` `[classes, features]`, `bias` `[classes]` (e.g. from `trainHead`). */
  weight: Tensor;
  bias: Tensor;
}

export interface ReplacedHead {
  /** The kwargs with the new `num_classes`. */
  kwargs: Record<string, unknown>;
  /** The backbone's weights (its architecture's key names) with every classifier tensor replaced. */
  stateDict: StateDict;
  /** The classifier tensors that were set (e.g. `head.weight`, `head.bias`; DeiT-distilled: `head_dist.*` too). */
  headKeys: string[];
}

/**
 * Puts a new classification head into a backbone's weights. The classifier tensors are found
 * from the architecture itself: those whose shape follows `num_classes` (`head.weight` /
 * `head.bias` for ViT, DeiT, CaiT; `head.fc.*` for Swin; …). Every one of them gets the head:
 * for a distilled DeiT both `head` and `head_dist` (its logits are the mean of the two heads
 * applied to the class and distillation tokens, and `pre_logits` is the mean of those tokens, so
 * the same head in both computes exactly `W·pre_logits + b`).
 */
export function replaceHead(options: ReplaceHeadOptions): ReplacedHead {
  const { architecture, kwargs, stateDict, weight, bias } = options;
  if (weight?.shape?.length !== 2 || bias?.shape?.length !== 1 || weight.shape[0] !== bias.shape[0]) {
    throw new InvalidArgumentError('head', `A head is weight [classes, features] and bias [classes], got ${weight?.shape ? formatShape(weight.shape) : 'none'} and ${bias?.shape ? formatShape(bias.shape) : 'none'}.`);
  }
  const [classes, features] = weight.shape as [number, number];
  const hints = { stateDict };
  const original = architecture.parseConfig(kwargs, hints);
  const target = architecture.checkpointShapes(architecture.parseConfig({ ...kwargs, num_classes: classes }, hints));
  const other = architecture.checkpointShapes(architecture.parseConfig({ ...kwargs, num_classes: classes + 1 }, hints));
  const headKeys = Object.keys(target).filter((key) => other[key] === undefined || other[key]!.join() !== target[key]!.join());
  if (headKeys.length === 0) throw new UnsupportedError(`Architecture '${architecture.id}' has no classifier whose shape follows num_classes; vitzoo cannot put a new head on it.`);
  const filtered = architecture.filterCheckpoint ? architecture.filterCheckpoint(stateDict, original) : stateDict;
  const out: StateDict = {};
  for (const [key, shape] of Object.entries(target)) {
    if (!headKeys.includes(key)) {
      if (filtered[key] !== undefined) out[key] = filtered[key]!;
      continue;
    }
    if (shape.length === 2 && shape[0] === classes && shape[1] === features) out[key] = weight;
    else if (shape.length === 1 && shape[0] === classes) out[key] = bias;
    else {
      throw new UnsupportedError(
        `Architecture '${architecture.id}' expects its classifier tensor '${key}' as ${formatShape(shape)}; the head is ${formatShape(weight.shape)} + ${formatShape(bias.shape)} ` +
          '(are the embeddings this backbone\'s pre_logits?).',
      );
    }
  }
  validateCheckpoint(architecture.id, out, target);
  return { kwargs: { ...kwargs, num_classes: classes }, stateDict: out, headKeys };
}

/**
 * The config.json of a model with a new head: the backbone's (timm hub layout or fixture case),
 * with `num_classes` and the class names set where that layout keeps them, and `record` stored
 * under `train_head`.
 */
export function trainedHeadConfig(config: Readonly<Record<string, unknown>>, classNames: readonly string[], record: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = JSON.parse(JSON.stringify(config));
  const classes = classNames.length;
  out.num_classes = classes;
  if (typeof out.kwargs === 'object' && out.kwargs !== null) {
    (out.kwargs as Record<string, unknown>).num_classes = classes;
    out.label_names = [...classNames];
  } else {
    const pretrained = typeof out.pretrained_cfg === 'object' && out.pretrained_cfg !== null ? (out.pretrained_cfg as Record<string, unknown>) : (out.pretrained_cfg = {});
    pretrained.num_classes = classes;
    pretrained.label_names = [...classNames];
    delete pretrained.label_set;
    if (out.label_names !== undefined) out.label_names = [...classNames];
    const modelArgs = out.model_args as Record<string, unknown> | undefined;
    if (typeof modelArgs === 'object' && modelArgs !== null && modelArgs.num_classes !== undefined) modelArgs.num_classes = classes;
  }
  delete out.test_accuracy;
  delete out.test_correct;
  out.train_head = record;
  return out;
}
