import { readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InvalidCheckpointError, parseSafetensors, tensorBytes, type StateDict } from '@vitzoo/core';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { readPytorchCheckpoint } from './index.js';

const fixtures = fileURLToPath(new URL('../../../fixtures/', import.meta.url));
const read = (path: string) => new Uint8Array(readFileSync(`${fixtures}${path}`));

function expectSameStateDict(actual: StateDict, expected: StateDict) {
  expect(Object.keys(actual).sort()).toEqual(Object.keys(expected).sort());
  for (const [key, tensor] of Object.entries(expected)) {
    const other = actual[key]!;
    expect({ key, dtype: other.dtype, shape: other.shape }).toEqual({ key, dtype: tensor.dtype, shape: tensor.shape });
    // Bit-exact: compare raw bytes.
    expect(Buffer.from(tensorBytes(other)).equals(Buffer.from(tensorBytes(tensor))), key).toBe(true);
  }
}

describe('real torch.save files equal their safetensors', () => {
  it.each([
    ['cswin_tiny/model.pth', 'zip', 'state_dict_ema'],
    ['fdvit_tiny/model.pth', 'zip', 'model'],
    ['vit_tiny/model_legacy.pth', 'legacy', undefined],
  ])('%s', (file, format, key) => {
    const bytes = read(`models/${file}`);
    const checkpoint = readPytorchCheckpoint(bytes, { source: file });
    const expected = parseSafetensors(read(`models/${file.split('/')[0]}/model.safetensors`)).tensors;
    expect(checkpoint.format).toBe(format);
    expect(checkpoint.stateDictKey).toBe(key);
    expect(Object.keys(checkpoint.stateDict).length).toBeGreaterThan(30);
    expectSameStateDict(checkpoint.stateDict, expected);
    if (format === 'zip') {
      // torch.save aligns storages to 64 bytes: every tensor is a view of the file, not a copy.
      for (const tensor of Object.values(checkpoint.stateDict)) expect(tensor.data.buffer).toBe(bytes.buffer);
    }
  });
});

describe('malicious fixtures are refused without running anything', () => {
  afterEach(() => vi.restoreAllMocks());

  const files = readdirSync(`${fixtures}malicious`).filter((name) => name.endsWith('.pth'));
  it('has the three documented files', () => {
    expect(files.sort()).toEqual(['builtins_eval.pth', 'os_system.pth', 'truncated_storage.pth']);
  });

  it.each([
    ['os_system.pth', /'posix\.system'/],
    ['builtins_eval.pth', /'__builtin__\.eval' \(builtins\.eval\)/],
    ['truncated_storage.pth', /'archive\/data\/0' holds 20 bytes, but data\.pkl declares 16 float32 elements \(64 bytes\)/],
  ])('%s', (file, message) => {
    const output: unknown[] = [];
    for (const method of ['log', 'info', 'warn', 'error', 'debug'] as const) {
      vi.spyOn(console, method).mockImplementation((...args) => void output.push(args));
    }
    const write = vi.spyOn(process.stdout, 'write');
    let thrown: unknown;
    try {
      readPytorchCheckpoint(read(`malicious/${file}`), { source: file });
    } catch (error) {
      thrown = error;
    }
    expect(InvalidCheckpointError.isInstance(thrown)).toBe(true);
    expect((thrown as InvalidCheckpointError).source).toBe(file);
    expect((thrown as Error).message).toMatch(message);
    expect(output).toEqual([]);
    expect(write).not.toHaveBeenCalled();
  });
});
