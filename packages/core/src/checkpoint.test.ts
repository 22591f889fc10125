import { describe, expect, test } from 'vitest';
import { createCheckpointShapes } from './checkpoint.js';

describe('createCheckpointShapes', () => {
  test("collects PyTorch's parameter names and shapes in the order they are added", () => {
    const { shapes, set, linear, layerNorm } = createCheckpointShapes();
    const kernel = [4, 3, 2, 2];
    set('patch_embed.proj.weight', kernel);
    kernel[0] = 99; // the shape is copied
    layerNorm('norm', 4);
    linear('head', 10, 4);
    linear('reduction', 8, 16, false);
    expect(Object.entries(shapes)).toEqual([
      ['patch_embed.proj.weight', [4, 3, 2, 2]],
      ['norm.weight', [4]],
      ['norm.bias', [4]],
      ['head.weight', [10, 4]],
      ['head.bias', [10]],
      ['reduction.weight', [8, 16]],
    ]);
  });
});
