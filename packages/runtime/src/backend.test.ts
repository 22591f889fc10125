import { expect, test } from 'vitest';
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
