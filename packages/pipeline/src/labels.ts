import { InvalidArgumentError, InvalidConfigError, type PretrainedConfig } from '@vitzoo/core';
import { IMAGENET_1K_LABELS } from './label-sets/imagenet-1k.js';

export { IMAGENET_1K_LABELS };

const labelSets = new Map<string, readonly string[]>([['imagenet-1k', IMAGENET_1K_LABELS]]);

/** Bundled label sets by name (`PretrainedConfig.labelSet`): 'imagenet-1k' plus any registered ones. */
export function labelSetNames(): string[] {
  return [...labelSets.keys()].sort();
}

/** The class names of a bundled or registered label set, or undefined when none has that name. */
export function labelSet(name: string): readonly string[] | undefined {
  return labelSets.get(name);
}

/** Registers a label set under a name so pretrained configs naming it resolve to its class names. */
export function registerLabelSet(name: string, names: readonly string[]): void {
  if (typeof name !== 'string' || name.length === 0) throw new InvalidArgumentError('name', 'A label set needs a non-empty name.');
  checkLabelNames(names, undefined, `label set '${name}'`);
  labelSets.set(name, Object.freeze([...names]));
}

function checkLabelNames(names: unknown, numClasses: number | undefined, what: string): asserts names is readonly string[] {
  if (!Array.isArray(names) || !names.every((name) => typeof name === 'string')) {
    throw new InvalidConfigError('labelNames', names, 'an array of class names (strings)', what);
  }
  if (numClasses !== undefined && names.length !== numClasses) {
    throw new InvalidConfigError('labelNames', `${names.length} names`, `one name per class (${numClasses})`, what);
  }
}

/** The class indices as strings: the labels of a model whose label set is unknown. */
export function indexLabels(numClasses: number): string[] {
  return Array.from({ length: numClasses }, (_, index) => String(index));
}

/**
 * The class names for a model with `numClasses` outputs, in this order of precedence:
 * 1. `explicit` names (e.g. `labelNames` passed to `createModel`);
 * 2. the pretrained config's `labelNames`;
 * 3. the bundled label set named by `labelSet` (e.g. 'imagenet-1k'), when it has `numClasses` names;
 * 4. otherwise the indices as strings ('0', '1', …).
 * Explicit or configured names of the wrong length are refused with `InvalidConfigError`.
 */
export function resolveLabelNames(
  numClasses: number,
  pretrained?: Pick<PretrainedConfig, 'labelNames' | 'labelSet'>,
  explicit?: readonly string[],
): readonly string[] {
  if (explicit !== undefined) {
    checkLabelNames(explicit, numClasses, 'the labelNames option');
    return explicit;
  }
  if (pretrained?.labelNames !== undefined) {
    checkLabelNames(pretrained.labelNames, numClasses, 'the pretrained config');
    return pretrained.labelNames;
  }
  const bundled = pretrained?.labelSet === undefined ? undefined : labelSets.get(pretrained.labelSet);
  if (bundled && bundled.length === numClasses) return bundled;
  return indexLabels(numClasses);
}
