import { createRegistry } from '@vitzoo/core';
import { verifyCase } from '@vitzoo/conformance';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cait } from './index.js';

const fixture = fileURLToPath(new URL('../../../fixtures/models/cait_tiny', import.meta.url));

describe('cait fixture', () => {
  it('matches timm on cait_tiny (logits, pre_logits, features; batch 2 and 1)', async () => {
    const report = await verifyCase(fixture, { registry: createRegistry([cait]) });
    console.log(JSON.stringify(report.comparisons.map((c) => [c.output, c.batch, c.maxAbsDiff])), report.error);
    expect(report.status).toBe('pass');
  });
});
