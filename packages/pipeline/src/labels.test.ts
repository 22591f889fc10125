import { InvalidConfigError } from '@vitzoo/core';
import { describe, expect, it } from 'vitest';
import { IMAGENET_1K_LABELS, indexLabels, labelSet, labelSetNames, registerLabelSet, resolveLabelNames } from './labels.js';

describe('ImageNet-1k label set', () => {
  it('has 1000 names in class-index order', () => {
    expect(IMAGENET_1K_LABELS).toHaveLength(1000);
    const known: Record<number, string> = {
      0: 'tench',
      1: 'goldfish',
      2: 'great white shark',
      151: 'Chihuahua',
      207: 'golden retriever',
      281: 'tabby',
      285: 'Egyptian cat',
      340: 'zebra',
      388: 'giant panda',
      398: 'abacus',
      409: 'analog clock',
      504: 'coffee mug',
      817: 'sports car',
      920: 'traffic light',
      948: 'Granny Smith',
      954: 'banana',
      963: 'pizza',
      985: 'daisy',
      999: 'toilet tissue',
    };
    for (const [index, name] of Object.entries(known)) expect(IMAGENET_1K_LABELS[Number(index)], `class ${index}`).toBe(name);
  });

  it('is unique except the two synset pairs that share a first lemma', () => {
    const positions = new Map<string, number[]>();
    IMAGENET_1K_LABELS.forEach((name, index) => positions.set(name, [...(positions.get(name) ?? []), index]));
    const repeated = [...positions].filter(([, indices]) => indices.length > 1);
    expect(Object.fromEntries(repeated)).toEqual({ crane: [134, 517], maillot: [638, 639] });
    for (const name of IMAGENET_1K_LABELS) expect(name).toMatch(/^\S(.*\S)?$/);
  });

  it('is frozen and registered as imagenet-1k', () => {
    expect(Object.isFrozen(IMAGENET_1K_LABELS)).toBe(true);
    expect(labelSet('imagenet-1k')).toBe(IMAGENET_1K_LABELS);
    expect(labelSetNames()).toContain('imagenet-1k');
    expect(labelSet('imagenet-21k-goog')).toBeUndefined();
  });
});

describe('resolveLabelNames', () => {
  it('explicit names win, then the config names, then the label set, then indices', () => {
    const names = ['a', 'b', 'c'];
    expect(resolveLabelNames(3, { labelNames: ['x', 'y', 'z'], labelSet: 'imagenet-1k' }, names)).toBe(names);
    expect(resolveLabelNames(3, { labelNames: ['x', 'y', 'z'], labelSet: 'imagenet-1k' })).toEqual(['x', 'y', 'z']);
    expect(resolveLabelNames(1000, { labelSet: 'imagenet-1k' })).toBe(IMAGENET_1K_LABELS);
    expect(resolveLabelNames(3, { labelSet: 'imagenet-1k' })).toEqual(['0', '1', '2']); // wrong size: not used
    expect(resolveLabelNames(2, { labelSet: 'no-such-set' })).toEqual(['0', '1']);
    expect(resolveLabelNames(4)).toEqual(indexLabels(4));
  });

  it('refuses names that do not fit the classes', () => {
    expect(() => resolveLabelNames(3, undefined, ['a', 'b'])).toThrow(InvalidConfigError);
    expect(() => resolveLabelNames(3, { labelNames: ['a', 'b', 'c', 'd'] })).toThrow(/one name per class \(3\)/);
    expect(() => resolveLabelNames(1, undefined, [1 as unknown as string])).toThrow(/class names/);
  });

  it('registered label sets resolve by name', () => {
    registerLabelSet('test-colours', ['red', 'green', 'blue']);
    expect(resolveLabelNames(3, { labelSet: 'test-colours' })).toEqual(['red', 'green', 'blue']);
    expect(() => registerLabelSet('', [])).toThrow(/non-empty name/);
  });
});
