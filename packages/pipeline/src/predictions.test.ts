import { InvalidArgumentError } from '@vitzoo/core';
import { describe, expect, it } from 'vitest';
import { predictionsFromLogits, resolvePredictionFilter, softmax } from './predictions.js';

const labels = ['cat', 'dog', 'bird', 'fish'];

describe('softmax', () => {
  it('matches the hand-computed distribution', () => {
    // logits [0, ln 2, ln 3, ln 4]: exp = 1, 2, 3, 4; sum 10
    const scores = softmax([0, Math.log(2), Math.log(3), Math.log(4)]);
    expect(Array.from(scores).map((s) => Number(s.toFixed(12)))).toEqual([0.1, 0.2, 0.3, 0.4]);
  });

  it('stays finite and exact for large logits (float64, max subtracted)', () => {
    const scores = softmax(new Float32Array([1000, 1000, 999]));
    const e = Math.exp(-1);
    expect(scores[0]).toBeCloseTo(1 / (2 + e), 15);
    expect(scores[2]).toBeCloseTo(e / (2 + e), 15);
    // A tiny probability is kept, not flushed to zero as float32 would.
    expect(softmax([0, -100])[1]).toBeCloseTo(Math.exp(-100) / (1 + Math.exp(-100)), 50);
    expect(softmax([0, -100])[1]).toBeGreaterThan(0);
  });

  it('gives NaN for logits without a finite maximum', () => {
    expect(Number.isNaN(softmax([Number.NaN, 1])[0])).toBe(true);
    expect(Number.isNaN(softmax([-Infinity, -Infinity])[0])).toBe(true);
  });
});

describe('predictionsFromLogits', () => {
  const logits = new Float32Array([Math.log(1), Math.log(4), Math.log(3), Math.log(2)]); // 0.1 0.4 0.3 0.2

  it('returns the best topK, sorted, with labels and scores', () => {
    const top = predictionsFromLogits(logits, labels, resolvePredictionFilter({ topK: 2 }, labels));
    expect(top.map((p) => [p.index, p.label, Number(p.score.toFixed(6))])).toEqual([
      [1, 'dog', 0.4],
      [2, 'bird', 0.3],
    ]);
    expect(predictionsFromLogits(logits, labels, resolvePredictionFilter({}, labels))).toHaveLength(4); // topK 5 capped
  });

  it('applies threshold, allow and deny; scores are not renormalised', () => {
    const filtered = (options: Parameters<typeof resolvePredictionFilter>[0]) =>
      predictionsFromLogits(logits, labels, resolvePredictionFilter(options, labels)).map((p) => [p.label, Number(p.score.toFixed(6))]);
    expect(filtered({ threshold: 0.25 })).toEqual([['dog', 0.4], ['bird', 0.3]]);
    expect(filtered({ allow: ['cat', 3] })).toEqual([['fish', 0.2], ['cat', 0.1]]);
    expect(filtered({ deny: ['dog'], topK: 1 })).toEqual([['bird', 0.3]]);
    expect(filtered({ allow: ['dog', 'bird'], deny: [1] })).toEqual([['bird', 0.3]]);
    expect(filtered({ threshold: 0.5 })).toEqual([]);
  });

  it('orders equal scores by class index', () => {
    const top = predictionsFromLogits([1, 2, 2, 1], labels, resolvePredictionFilter({ topK: 4 }, labels));
    expect(top.map((p) => p.index)).toEqual([1, 2, 0, 3]);
  });

  it('selects every class of a repeated label', () => {
    const twins = ['crane', 'cat', 'crane'];
    const filter = resolvePredictionFilter({ allow: ['crane'] }, twins);
    expect([...filter.allowed!].sort()).toEqual([0, 2]);
  });

  it('refuses bad options with the option named', () => {
    const error = (options: Parameters<typeof resolvePredictionFilter>[0]) => {
      try {
        resolvePredictionFilter(options, labels);
      } catch (e) {
        expect(InvalidArgumentError.isInstance(e)).toBe(true);
        return `${(e as InvalidArgumentError).argument}: ${(e as Error).message}`;
      }
      throw new Error('no error');
    };
    expect(error({ topK: 0 })).toMatch(/^topK: /);
    expect(error({ topK: 1.5 })).toMatch(/^topK: /);
    expect(error({ threshold: 2 })).toMatch(/^threshold: /);
    expect(error({ allow: ['horse'] })).toMatch(/^allow: .*'horse'/);
    expect(error({ allow: ['Do'] })).toMatch(/Did you mean 'dog'/);
    expect(error({ deny: [4] })).toMatch(/^deny: .*index 4.*0\.\.3/);
    expect(() => predictionsFromLogits([1, 2], labels, resolvePredictionFilter({}, labels))).toThrow(/2 logits .* 4 labels/);
  });
});
