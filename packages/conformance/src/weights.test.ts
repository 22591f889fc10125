import { fileURLToPath } from 'node:url';
import { InvalidCheckpointError, tensorBytes } from '@vitzoo/core';
import { describe, expect, it } from 'vitest';
import { loadWeights } from './weights.js';

const fixtures = fileURLToPath(new URL('../../../fixtures/', import.meta.url));

describe('loadWeights', () => {
  it('reads a torch.save .pth through the safe PyTorch reader, equal to the safetensors file', async () => {
    const fromPytorch = await loadWeights(`${fixtures}models/fdvit_tiny/model.pth`);
    const fromSafetensors = await loadWeights(`${fixtures}models/fdvit_tiny/model.safetensors`);
    expect(Object.keys(fromPytorch).sort()).toEqual(Object.keys(fromSafetensors).sort());
    for (const [key, tensor] of Object.entries(fromSafetensors)) {
      expect(fromPytorch[key]!.shape).toEqual(tensor.shape);
      expect(Buffer.from(tensorBytes(fromPytorch[key]!)).equals(Buffer.from(tensorBytes(tensor))), key).toBe(true);
    }
    await expect(loadWeights(`${fixtures}malicious/os_system.pth`)).rejects.toSatisfy(
      (error: unknown) => InvalidCheckpointError.isInstance(error) && /'posix\.system'/.test((error as Error).message),
    );
  });
});
