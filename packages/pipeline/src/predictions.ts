import { InvalidArgumentError } from '@vitzoo/core';

/** One class of a classification result. */
export interface Prediction {
  /** Class index (position in the logits). */
  index: number;
  /** Class name (see `resolveLabelNames`). */
  label: string;
  /** Softmax probability over all classes, computed in float64. */
  score: number;
}

/** A class named by its index or by its label. */
export type ClassSelector = number | string;

export interface ClassifyOptions {
  /** How many classes to return per image, best first (default 5; at most the number of classes). */
  topK?: number;
  /** Drop classes whose score is below this probability (0..1). */
  threshold?: number;
  /**
   * Only these classes may be returned (indices or label names). Scores stay the probabilities
   * over ALL classes: restricting the candidates does not renormalise them.
   */
  allow?: readonly ClassSelector[];
  /** These classes are never returned (indices or label names). */
  deny?: readonly ClassSelector[];
}

/**
 * Softmax of one row of logits in float64: `exp(x - max) / Σ exp(x - max)`. Subtracting the
 * maximum keeps it finite for any float32 logits; float64 keeps tiny probabilities and sums exact
 * enough that scores of near-equal classes stay ordered as their logits.
 */
export function softmax(logits: ArrayLike<number>): Float64Array {
  const out = new Float64Array(logits.length);
  let max = -Infinity;
  for (let i = 0; i < logits.length; i += 1) if (logits[i]! > max) max = logits[i]!;
  if (!Number.isFinite(max)) {
    // All -Infinity, or a NaN/+Infinity among them: no meaningful distribution.
    out.fill(Number.NaN);
    return out;
  }
  let sum = 0;
  for (let i = 0; i < logits.length; i += 1) {
    const value = Math.exp(logits[i]! - max);
    out[i] = value;
    sum += value;
  }
  for (let i = 0; i < out.length; i += 1) out[i]! /= sum;
  return out;
}

/** Resolved classify options: which classes may be returned, how many, above which score. */
export interface PredictionFilter {
  topK: number;
  threshold: number;
  /** Allowed class indices, or undefined for every class. */
  allowed: ReadonlySet<number> | undefined;
  denied: ReadonlySet<number>;
}

function selectorIndices(selectors: readonly ClassSelector[], labels: readonly string[], option: 'allow' | 'deny'): Set<number> {
  if (!Array.isArray(selectors)) throw new InvalidArgumentError(option, `'${option}' must be an array of class indices or label names.`);
  const byName = new Map<string, number[]>();
  labels.forEach((label, index) => {
    const list = byName.get(label);
    if (list) list.push(index);
    else byName.set(label, [index]);
  });
  const out = new Set<number>();
  for (const selector of selectors) {
    if (typeof selector === 'number') {
      if (!Number.isSafeInteger(selector) || selector < 0 || selector >= labels.length) {
        throw new InvalidArgumentError(option, `'${option}' names class index ${selector}, but the model has classes 0..${labels.length - 1}.`);
      }
      out.add(selector);
    } else if (typeof selector === 'string') {
      const indices = byName.get(selector);
      if (!indices) {
        const close = labels.filter((label) => label.toLowerCase().includes(selector.toLowerCase())).slice(0, 5);
        throw new InvalidArgumentError(
          option,
          `'${option}' names the class '${selector}', which the model does not have.` +
            (close.length > 0 ? ` Did you mean ${close.map((label) => `'${label}'`).join(', ')}?` : ''),
        );
      }
      for (const index of indices) out.add(index);
    } else {
      throw new InvalidArgumentError(option, `'${option}' entries must be class indices or label names, got ${typeof selector}.`);
    }
  }
  return out;
}

/** Checks classify options against a model's labels. */
export function resolvePredictionFilter(options: ClassifyOptions, labels: readonly string[]): PredictionFilter {
  const topK = options.topK ?? 5;
  if (!(Number.isSafeInteger(topK) && topK > 0) && topK !== Infinity) {
    throw new InvalidArgumentError('topK', `topK must be a positive integer (or Infinity for every class), got ${String(topK)}.`);
  }
  const threshold = options.threshold ?? 0;
  if (typeof threshold !== 'number' || !(threshold >= 0 && threshold <= 1)) {
    throw new InvalidArgumentError('threshold', `threshold must be a probability between 0 and 1, got ${String(threshold)}.`);
  }
  return {
    topK: Math.min(topK, labels.length),
    threshold,
    allowed: options.allow === undefined ? undefined : selectorIndices(options.allow, labels, 'allow'),
    denied: options.deny === undefined ? new Set() : selectorIndices(options.deny, labels, 'deny'),
  };
}

/**
 * The predictions for one row of logits: softmax in float64, the allowed classes above the
 * threshold, best first (equal scores by class index), at most `topK`.
 */
export function predictionsFromLogits(logits: ArrayLike<number>, labels: readonly string[], filter: PredictionFilter): Prediction[] {
  if (logits.length !== labels.length) {
    throw new InvalidArgumentError('logits', `The model gives ${logits.length} logits per image but has ${labels.length} labels.`);
  }
  return predictionsFromScores(softmax(logits), labels, filter);
}

/**
 * The predictions for one row of class probabilities (e.g. an ensemble's mean of softmaxes): the
 * allowed classes above the threshold, best first (equal scores by class index), at most `topK`.
 */
export function predictionsFromScores(scores: ArrayLike<number>, labels: readonly string[], filter: PredictionFilter): Prediction[] {
  if (scores.length !== labels.length) {
    throw new InvalidArgumentError('scores', `${scores.length} class scores per image but ${labels.length} labels.`);
  }
  const candidates: number[] = [];
  for (let index = 0; index < scores.length; index += 1) {
    if (filter.allowed && !filter.allowed.has(index)) continue;
    if (filter.denied.has(index)) continue;
    if (!(scores[index]! >= filter.threshold)) continue;
    candidates.push(index);
  }
  candidates.sort((a, b) => scores[b]! - scores[a]! || a - b);
  return candidates.slice(0, filter.topK).map((index) => ({ index, label: labels[index]!, score: scores[index]! }));
}
