import { describe, expect, test } from 'vitest';
import { fileURLToPath } from 'node:url';
import { readFileSync } from 'node:fs';
import { createRegistry, elementCount, parseSafetensors } from '@vitzoo/core';
import { deit } from './index.js';

const fixtures = fileURLToPath(new URL('../../../fixtures/models/', import.meta.url));
const registry = createRegistry([deit]);

describe('deit', () => {
  test('the distilled form follows the checkpoint unless kwargs say otherwise', () => {
    const stateDict = parseSafetensors(readFileSync(`${fixtures}deit_distilled/model.safetensors`)).tensors;
    const kwargs = JSON.parse(readFileSync(`${fixtures}deit_distilled/config.json`, 'utf8')).kwargs;
    expect(deit.parseConfig(kwargs, { stateDict }).distilled).toBe(true);
    expect(deit.parseConfig(kwargs, {}).distilled).toBe(false);
    expect(deit.parseConfig({ ...kwargs, distilled: false }, { stateDict }).distilled).toBe(false);
  });

  test('registered variants have the parameter counts timm reports', () => {
    const count = (name: string) => {
      const shapes = deit.checkpointShapes(deit.parseConfig(registry.resolve(name).kwargs));
      return Object.values(shapes).reduce((sum, shape) => sum + elementCount(shape), 0);
    };
    expect(count('deit_tiny_patch16_224')).toBe(5_717_416);
    expect(count('deit_tiny_distilled_patch16_224')).toBe(5_910_800);
    expect(count('deit_base_distilled_patch16_384')).toBe(87_630_032);
    expect(count('deit3_small_patch16_224')).toBe(22_059_496);
  });
});
