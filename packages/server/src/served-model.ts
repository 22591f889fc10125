import { InvalidArgumentError, VitzooError, createTensor, type OutputName } from '@vitzoo/core';
import type { Model } from '@vitzoo/pipeline';
import type { ImageTransform } from '@vitzoo/preprocess';
import { Batcher, type BatcherOptions, type BatchObserver } from './batcher.js';

/** A model to serve: a loaded `Model` (the caller keeps ownership) or a function that loads one (the server disposes it on close). */
export type ServedModelSource = { name: string; model: Model } | { name: string; load: () => Promise<Model> };

/** Names usable in URL paths: letters, digits, '.', '_', '-'. */
export const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

export interface TensorMetadata {
  name: string;
  datatype: 'FP32';
  /** -1 for the batch dimension (and any size not known). */
  shape: number[];
}

/** What a served model takes and gives, for the model metadata and for checking requests. */
export interface ModelSignature {
  /** The preprocessed image size the graph takes, when known. */
  height?: number;
  width?: number;
  inputs: TensorMetadata[];
  outputs: TensorMetadata[];
}

/**
 * The input size a model's preprocessing gives (its transform's crop or exact resize, else the
 * pretrained config's input size), or undefined when neither says.
 */
function inputSize(model: Model): { height: number; width: number } | undefined {
  let transform: ImageTransform | undefined;
  try {
    transform = model.transform;
  } catch {
    transform = undefined; // no preprocessing config: pixel_values only
  }
  if (transform?.outputSize) return transform.outputSize;
  const size = model.pretrained?.inputSize;
  return size ? { height: size[1], width: size[2] } : undefined;
}

/**
 * Runs the model once on a zero image (so the first request does not pay for the runtime's
 * warm-up) and reads the shape of every output from it.
 */
async function describe(model: Model): Promise<ModelSignature> {
  const size = inputSize(model);
  if (!size) {
    return {
      inputs: [{ name: 'pixel_values', datatype: 'FP32', shape: [-1, 3, -1, -1] }],
      outputs: model.outputs.map((name) => ({ name, datatype: 'FP32', shape: name === 'logits' && model.labels ? [-1, model.labels.length] : [-1, -1] })),
    };
  }
  const { height, width } = size;
  const results = await model.forward(createTensor('float32', [1, 3, height, width], new Float32Array(3 * height * width)), { outputs: model.outputs });
  return {
    height,
    width,
    inputs: [{ name: 'pixel_values', datatype: 'FP32', shape: [-1, 3, height, width] }],
    outputs: model.outputs.map((name) => ({ name, datatype: 'FP32', shape: [-1, ...(results[name]?.shape.slice(1) ?? [-1])] })),
  };
}

/** One served model: loading, then ready with its batcher and signature (or failed, with the reason). */
export class ServedModel {
  state: 'loading' | 'ready' | 'failed' = 'loading';
  model: Model | undefined;
  signature: ModelSignature | undefined;
  batcher: Batcher | undefined;
  error: unknown;
  loadSeconds: number | undefined;
  /** True when the server loaded the model and so disposes it. */
  readonly owned: boolean;

  constructor(
    private readonly source: ServedModelSource,
    private readonly batching: Omit<BatcherOptions, 'outputs'>,
    private readonly observer: BatchObserver,
  ) {
    if (typeof source?.name !== 'string' || !MODEL_NAME.test(source.name)) {
      throw new InvalidArgumentError('models', `A served model's name must be letters, digits, '.', '_' or '-' (it is part of URLs), got ${JSON.stringify(source?.name)}.`);
    }
    if (!('model' in source) && typeof (source as { load?: unknown }).load !== 'function') {
      throw new InvalidArgumentError('models', `Served model '${source.name}' needs a loaded model ({ name, model }) or a loader ({ name, load }).`);
    }
    this.owned = !('model' in source);
  }

  get name(): string {
    return this.source.name;
  }

  /** Loads (or takes) the model, warms it up and reads its signature. Never rejects: failures set `state` and `error`. */
  async load(): Promise<void> {
    const started = performance.now();
    try {
      this.model = 'model' in this.source ? this.source.model : await this.source.load();
      this.signature = await describe(this.model);
      this.batcher = new Batcher((pixels, outputs) => this.model!.forward(pixels, { outputs }), { ...this.batching, outputs: this.model.outputs as OutputName[] }, this.observer);
      this.loadSeconds = (performance.now() - started) / 1000;
      this.state = 'ready';
    } catch (error) {
      this.error = error;
      this.state = 'failed';
    }
  }

  /** Why the model does not serve, for 503 answers. */
  get unavailableReason(): string {
    if (this.state === 'loading') return `Model '${this.name}' is still loading; retry when GET /v2/models/${this.name}/ready answers 200.`;
    const reason = VitzooError.isInstance(this.error) || this.error instanceof Error ? this.error.message : String(this.error);
    return `Model '${this.name}' failed to load: ${reason}`;
  }

  async dispose(): Promise<void> {
    if (this.owned) await this.model?.dispose();
  }
}
