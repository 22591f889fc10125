import { describe, expect, test } from 'vitest';
import { UnsupportedError } from '@vitzoo/core';
import { checkPrecisionRuns } from './precision.js';

describe('checkPrecisionRuns', () => {
  test('WebGPU refuses q4 blocks over 32, naming the sizes that run', () => {
    for (const q4BlockSize of [64, 128, 256]) {
      let error: unknown;
      try {
        checkPrecisionRuns('webgpu', { dtype: 'q4', q4BlockSize });
      } catch (caught) {
        error = caught;
      }
      expect(UnsupportedError.isInstance(error)).toBe(true);
      expect((error as Error).message).toContain(`q4BlockSize ${q4BlockSize} give wrong numbers on WebGPU`);
      expect((error as Error).message).toContain('build with q4BlockSize 16 or 32');
    }
  });

  test('everything else runs: other backends, other dtypes, blocks of 16 and 32', () => {
    for (const backend of ['node', 'wasm', 'webgpu']) {
      for (const dtype of ['fp32', 'fp16', 'int8'] as const) expect(() => checkPrecisionRuns(backend, { dtype })).not.toThrow();
      for (const q4BlockSize of [16, 32]) expect(() => checkPrecisionRuns(backend, { dtype: 'q4', q4BlockSize })).not.toThrow();
    }
    for (const backend of ['node', 'wasm']) expect(() => checkPrecisionRuns(backend, { dtype: 'q4', q4BlockSize: 128 })).not.toThrow();
  });
});
