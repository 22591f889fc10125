import { InvalidArgumentError, UnsupportedError, toFloat32, type Dtype } from '@vitzoo/core';
import type { Value } from '../builder.js';
import type { GraphLayers } from './graph-layers.js';

/** A Linear weight [out, in] of the checkpoint: its sizes and its float32 values on demand. */
export interface LinearWeights {
  /** Output features (rows of the PyTorch weight). */
  rows: number;
  /** Input features (columns of the PyTorch weight). */
  columns: number;
  values(): Float32Array;
}

export function linearWeights(layers: GraphLayers, key: string): LinearWeights {
  const tensor = layers.tensor(key);
  if (tensor.shape.length !== 2) throw new InvalidArgumentError(key, `A Linear weight must be [out, in], got [${tensor.shape.join(', ')}].`);
  const [rows, columns] = tensor.shape as [number, number];
  return { rows, columns, values: () => toFloat32(tensor).data };
}

/**
 * x · Wᵀ (+ bias) with a quantized weight: the kernels for `int8` and `q4` graphs (one place for
 * every architecture's Linear layers).
 */
export function quantizedMatMul(_layers: GraphLayers, _x: Value, key: string, _bias: Value | null, dtype: Extract<Dtype, 'int8' | 'q4'>): Value {
  throw new UnsupportedError(`dtype '${dtype}' graphs are not built yet (${key}).`);
}
