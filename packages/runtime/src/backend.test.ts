import { describe, expect, it, test } from 'vitest';
import { BackendUnavailableError } from '@vitzoo/core';
import { registerBackend, resolveBackend, type Backend } from './backend.js';

function backend(name: string, priority: number, failure?: string): Backend & { inits: number } {
  const entry = {
    name,
    priority,
    inits: 0,
    async init() {
      entry.inits++;
      if (failure) throw new Error(failure);
    },
    createSession: () => Promise.reject(new Error('not used')),
  };
  return entry;
}

test('resolveBackend picks by priority, initialises once, and lists every failed attempt', async () => {
  const broken = backend('test-broken', 1000, 'no adapter found');
  const working = backend('test-working', 999);
  registerBackend(broken);
  registerBackend(working);
  expect((await resolveBackend(['test-broken', 'test-working'])).name).toBe('test-working');
  expect((await resolveBackend(['test-working'])).name).toBe('test-working');
  expect(working.inits).toBe(1);
  let error: unknown;
  try {
    await resolveBackend(['test-broken', 'test-missing']);
  } catch (caught) {
    error = caught;
  }
  expect(BackendUnavailableError.isInstance(error)).toBe(true);
  expect((error as BackendUnavailableError).attempts).toEqual([
    { backend: 'test-broken', reason: 'no adapter found' },
    { backend: 'test-missing', reason: expect.stringMatching(/^not registered/) },
  ]);
  expect(broken.inits).toBe(1);
});

describe('tensorData', () => {
  it('keeps float16 outputs as bit patterns whatever typed array the runtime returns', async () => {
    const { tensorData } = await import('./session.js');
    const bits = Uint16Array.of(0x3c00, 0xc000, 0x7bff); // 1, -2, 65504
    // A stand-in for Float16Array (Node 20 has none): another view of the same bytes.
    const other = new Int16Array(bits.buffer);
    const kept = tensorData('float16', other) as Uint16Array;
    expect(kept).toBeInstanceOf(Uint16Array);
    expect(Array.from(kept)).toEqual([0x3c00, 0xc000, 0x7bff]);
    expect(tensorData('float16', bits)).toBe(bits);
    const floats = Float32Array.of(1.5);
    expect(tensorData('float32', floats)).toBe(floats);
  });
});
