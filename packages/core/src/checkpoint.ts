import type { StateDict } from './architecture.js';
import { CheckpointMismatchError, type MisshapedKey } from './errors.js';
import { shapesEqual } from './tensor.js';

/**
 * Compares a checkpoint with the keys and shapes an architecture expects and throws
 * `CheckpointMismatchError` listing every missing, unexpected and mis-shaped key.
 */
export function validateCheckpoint(
  architecture: string,
  stateDict: StateDict,
  expected: Record<string, readonly number[]>,
): void {
  const missing: string[] = [];
  const misshaped: MisshapedKey[] = [];
  for (const [key, shape] of Object.entries(expected)) {
    const tensor = stateDict[key];
    if (tensor === undefined) missing.push(key);
    else if (!shapesEqual(tensor.shape, shape)) misshaped.push({ key, expected: shape, actual: tensor.shape });
  }
  const unexpected = Object.keys(stateDict).filter((key) => !(key in expected));
  if (missing.length > 0 || unexpected.length > 0 || misshaped.length > 0) {
    throw new CheckpointMismatchError(architecture, { missing, unexpected, misshaped });
  }
}

/** A state dict without the keys matching `predicate` (a new object; the input is untouched). */
export function dropKeys(stateDict: StateDict, predicate: (key: string) => boolean): StateDict {
  const out: StateDict = {};
  for (const [key, tensor] of Object.entries(stateDict)) if (!predicate(key)) out[key] = tensor;
  return out;
}

/** A state dict with keys renamed by `rename` (return the key unchanged to keep it). */
export function renameKeys(stateDict: StateDict, rename: (key: string) => string): StateDict {
  const out: StateDict = {};
  for (const [key, tensor] of Object.entries(stateDict)) out[rename(key)] = tensor;
  return out;
}

/**
 * Unwraps the containers training scripts save around a state dict (`model`, `state_dict`,
 * `state_dict_ema`, `model_ema`) and strips a `module.` prefix left by DataParallel.
 */
export function unwrapStateDict(stateDict: StateDict): StateDict {
  const keys = Object.keys(stateDict);
  if (keys.length > 0 && keys.every((key) => key.startsWith('module.'))) {
    return renameKeys(stateDict, (key) => key.slice('module.'.length));
  }
  return stateDict;
}

/** Collects an architecture's expected checkpoint keys and shapes under PyTorch's parameter names. */
export interface CheckpointShapes {
  /** The keys and shapes so far, in the order they were added (the result of `checkpointShapes`). */
  readonly shapes: Record<string, readonly number[]>;
  set(key: string, shape: readonly number[]): void;
  /** `nn.Linear`: `{prefix}.weight` [out, in] and, unless `bias` is false, `{prefix}.bias` [out]. */
  linear(prefix: string, outFeatures: number, inFeatures: number, bias?: boolean): void;
  /** `nn.LayerNorm` (elementwise affine): `{prefix}.weight` and `{prefix}.bias` [dim]. */
  layerNorm(prefix: string, dim: number): void;
}

export function createCheckpointShapes(): CheckpointShapes {
  const shapes: Record<string, readonly number[]> = {};
  const set = (key: string, shape: readonly number[]) => void (shapes[key] = [...shape]);
  return {
    shapes,
    set,
    linear(prefix, outFeatures, inFeatures, bias = true) {
      set(`${prefix}.weight`, [outFeatures, inFeatures]);
      if (bias) set(`${prefix}.bias`, [outFeatures]);
    },
    layerNorm(prefix, dim) {
      set(`${prefix}.weight`, [dim]);
      set(`${prefix}.bias`, [dim]);
    },
  };
}
