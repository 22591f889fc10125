import { describe, expect, test } from 'vitest';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSafetensors } from '@vitzoo/core';
import { readFileSync } from 'node:fs';
import { createDefaultRegistry } from './index.js';
import { createIsolatedNodeBackend } from '@vitzoo/runtime-node/isolated';
import { afterAll } from 'vitest';
import { verifyCase } from '@vitzoo/conformance';

const fixtures = fileURLToPath(new URL('../../../fixtures/models/', import.meta.url));
const cases = readdirSync(fixtures).filter((name) => existsSync(join(fixtures, name, 'config.json'))).sort();
const registry = createDefaultRegistry();
const backend = createIsolatedNodeBackend();
afterAll(() => backend.close());

/**
 * Every model case in fixtures/models, whatever its architecture: the head outputs of the
 * production graph and, where the case has them, the attention maps, rollout and intermediates,
 * at the stored batch and for each sample alone, within the case's tolerances.
 */
describe('fixture cases', () => {
  test.each(cases)('%s matches the reference on every stored output', async (name) => {
    const dir = join(fixtures, name);
    const report = await verifyCase(dir, { registry, backend });
    expect(report.error).toBeUndefined();
    const stored = [
      ...Object.keys(parseSafetensors(readFileSync(join(dir, 'io.safetensors'))).tensors).filter((key) => key !== 'pixel_values'),
      ...(existsSync(join(dir, 'extras.safetensors')) ? Object.keys(parseSafetensors(readFileSync(join(dir, 'extras.safetensors'))).tensors) : []),
    ];
    const batch = parseSafetensors(readFileSync(join(dir, 'io.safetensors'))).tensors.pixel_values!.shape[0]!;
    // Every stored output is compared at the stored batch and for each sample alone.
    expect(new Set(report.comparisons.map((c) => `${c.output}@${c.sample ?? 'all'}`))).toEqual(
      new Set(stored.flatMap((output) => ['all', ...Array.from({ length: batch }, (_, i) => i)].map((sample) => `${output}@${sample}`))),
    );
    for (const comparison of report.comparisons) expect(comparison.maxAbsDiff, `${comparison.output} batch ${comparison.batch}`).toBeLessThanOrEqual(comparison.tolerance);
    expect(report.status).toBe('pass');
  });
});
