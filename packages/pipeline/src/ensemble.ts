/**
 * Ensembles: several models classify the same images, each preprocessing them its own way, and
 * their outputs are combined. Platform-free.
 */
import { IncompatibleModelsError, InvalidArgumentError, createTensor, type Tensor } from '@vitzoo/core';
import type { RawImage } from '@vitzoo/preprocess';
import { resolveLabelNames } from './labels.js';
import { normalizeRows, type Model, type ModelInput } from './model.js';
import { predictionsFromLogits, predictionsFromScores, resolvePredictionFilter, softmax, type ClassifyOptions, type Prediction } from './predictions.js';

/** How member outputs are combined: the mean of the softmax probabilities, or the mean of the logits (then softmax). */
export type EnsembleCombine = 'mean-probs' | 'mean-logits';

export interface EnsembleOptions {
  /** Default 'mean-probs'. */
  combine?: EnsembleCombine;
  /** `embed`: the members' embeddings side by side ('concat', default) or their mean ('mean': equal widths only). */
  embed?: 'concat' | 'mean';
}

function isTensor(value: unknown): value is Tensor {
  return typeof value === 'object' && value !== null && 'dtype' in value && 'shape' in value && 'data' in value;
}

function imageList(images: ModelInput): readonly RawImage[] {
  if (isTensor(images)) {
    throw new InvalidArgumentError('images', 'An ensemble preprocesses images for each member (their input sizes and normalisation may differ): give decoded images, not a preprocessed tensor.');
  }
  const list: readonly RawImage[] = Array.isArray(images) ? images : [images as RawImage];
  if (list.length === 0) throw new InvalidArgumentError('images', 'No images given.');
  return list;
}

/** One output of a member for every image, its own preprocessing in its own batches, rows concatenated. */
async function memberOutput(model: Model, images: readonly RawImage[], output: 'logits' | 'pre_logits', signal: AbortSignal | undefined): Promise<Tensor<'float32'>> {
  if (output === 'pre_logits') return model.embed(images as RawImage[], { signal });
  const parts: Float32Array[] = [];
  let width = 0;
  for (let start = 0; start < images.length; start += model.batchSize) {
    const { logits } = await model.forward(model.transform.applyBatch(images.slice(start, start + model.batchSize)), { outputs: ['logits'], signal });
    if (!logits || logits.shape.length !== 2) throw new InvalidArgumentError('logits', 'Expected logits [batch, classes] from an ensemble member.');
    width = logits.shape[1]!;
    parts.push(logits.data as Float32Array);
  }
  const data = new Float32Array(images.length * width);
  let offset = 0;
  for (const part of parts) {
    data.set(part, offset);
    offset += part.length;
  }
  return createTensor('float32', [images.length, width], data);
}

/**
 * Models used as one: `classify` combines the members' class scores (they must have the same
 * classes), `embed` their embeddings; each member preprocesses the images as its own pretrained
 * config says, so members may differ in architecture, input size and normalisation.
 */
export class Ensemble {
  readonly members: readonly Model[];
  readonly combine: EnsembleCombine;
  readonly embedMode: 'concat' | 'mean';
  private disposed = false;

  constructor(models: readonly Model[], options: EnsembleOptions = {}) {
    if (!Array.isArray(models) || models.length === 0) throw new InvalidArgumentError('models', 'An ensemble needs at least one model.');
    const combine = options.combine ?? 'mean-probs';
    if (combine !== 'mean-probs' && combine !== 'mean-logits') throw new InvalidArgumentError('combine', `combine must be 'mean-probs' or 'mean-logits', got ${JSON.stringify(combine)}.`);
    const embed = options.embed ?? 'concat';
    if (embed !== 'concat' && embed !== 'mean') throw new InvalidArgumentError('embed', `embed must be 'concat' or 'mean', got ${JSON.stringify(embed)}.`);
    this.members = [...models];
    this.combine = combine;
    this.embedMode = embed;
    this.checkLabels();
  }

  /** The class names (the members agree on them), when known before the first run. */
  get labels(): readonly string[] | undefined {
    return this.members[0]!.labels;
  }

  private checkLabels(): void {
    const reference = this.members[0]!.labels;
    if (!reference) return;
    const differences = this.members.slice(1).flatMap((member, i) => {
      const labels = member.labels;
      if (!labels) return [];
      const model = `member ${i + 2}`;
      if (labels.length !== reference.length) return [{ model, field: 'classes', expected: String(reference.length), actual: String(labels.length) }];
      const index = labels.findIndex((label, j) => label !== reference[j]);
      return index < 0 ? [] : [{ model, field: `class ${index}`, expected: JSON.stringify(reference[index]), actual: JSON.stringify(labels[index]) }];
    });
    if (differences.length > 0) throw new IncompatibleModelsError('Cannot ensemble these models (their classes differ)', 'member 1', differences);
  }

  /**
   * Classifies decoded images: every member runs on its own preprocessing, then the class
   * scores are the mean of the members' softmax probabilities ('mean-probs') or the softmax of
   * the mean of their logits ('mean-logits'), in float64. Options as `Model.classify`.
   */
  async classify(images: ModelInput, options: ClassifyOptions & { signal?: AbortSignal } = {}): Promise<Prediction[][]> {
    this.checkOpen();
    const list = imageList(images);
    if (this.labels) resolvePredictionFilter(options, this.labels);
    const outputs: Tensor<'float32'>[] = [];
    for (const member of this.members) outputs.push(await memberOutput(member, list, 'logits', options.signal));
    const classes = outputs[0]!.shape[1]!;
    const widths = outputs.map((output) => output.shape[1]!);
    if (widths.some((width) => width !== classes)) {
      throw new IncompatibleModelsError('Cannot ensemble these models (their classes differ)', 'member 1', widths.flatMap((width, i) => (width === classes ? [] : [{ model: `member ${i + 1}`, field: 'classes', expected: String(classes), actual: String(width) }])));
    }
    const labels = this.labels ?? resolveLabelNames(classes, this.members[0]!.pretrained);
    const filter = resolvePredictionFilter(options, labels);
    const results: Prediction[][] = [];
    const combined = new Float64Array(classes);
    for (let row = 0; row < list.length; row += 1) {
      combined.fill(0);
      for (const output of outputs) {
        const logits = (output.data as Float32Array).subarray(row * classes, (row + 1) * classes);
        const values = this.combine === 'mean-probs' ? softmax(logits) : logits;
        for (let c = 0; c < classes; c += 1) combined[c]! += values[c]!;
      }
      for (let c = 0; c < classes; c += 1) combined[c]! /= outputs.length;
      results.push(this.combine === 'mean-probs' ? predictionsFromScores(combined, labels, filter) : predictionsFromLogits(combined, labels, filter));
    }
    return results;
  }

  /**
   * Embeddings of decoded images: each member's `pre_logits` (members must be built with it),
   * side by side (`[N, ΣD]`, 'concat') or averaged (`[N, D]`, 'mean'); L2-normalised at the end on request.
   */
  async embed(images: ModelInput, options: { normalize?: boolean; signal?: AbortSignal } = {}): Promise<Tensor<'float32'>> {
    this.checkOpen();
    const list = imageList(images);
    const parts: Tensor<'float32'>[] = [];
    for (const member of this.members) parts.push(await memberOutput(member, list, 'pre_logits', options.signal));
    const widths = parts.map((part) => part.shape[1]!);
    const rows = list.length;
    let width: number;
    let data: Float32Array;
    if (this.embedMode === 'mean') {
      width = widths[0]!;
      if (widths.some((w) => w !== width)) {
        throw new IncompatibleModelsError("Cannot average these models' embeddings (use embed: 'concat')", 'member 1', widths.flatMap((w, i) => (w === width ? [] : [{ model: `member ${i + 1}`, field: 'embedding width', expected: String(width), actual: String(w) }])));
      }
      data = new Float32Array(rows * width);
      for (let i = 0; i < data.length; i += 1) {
        let sum = 0;
        for (const part of parts) sum += part.data[i]!;
        data[i] = sum / parts.length;
      }
    } else {
      width = widths.reduce((a, b) => a + b, 0);
      data = new Float32Array(rows * width);
      for (let row = 0; row < rows; row += 1) {
        let offset = row * width;
        for (const part of parts) {
          const w = part.shape[1]!;
          data.set(part.data.subarray(row * w, (row + 1) * w), offset);
          offset += w;
        }
      }
    }
    if (options.normalize) normalizeRows(data, rows, width);
    return createTensor('float32', [rows, width], data);
  }

  /** Disposes every member. */
  async dispose(): Promise<void> {
    if (this.disposed) return;
    this.disposed = true;
    for (const member of this.members) await member.dispose();
  }

  private checkOpen(): void {
    if (this.disposed) throw new InvalidArgumentError('model', 'This ensemble has been disposed.');
  }
}

/**
 * An ensemble of loaded models (see `Ensemble`): `combine: 'mean-probs'` (default) averages the
 * members' probabilities, `'mean-logits'` their logits. Disposing it disposes the members.
 */
export function createEnsemble(models: readonly Model[], options: EnsembleOptions = {}): Ensemble {
  return new Ensemble(models, options);
}
