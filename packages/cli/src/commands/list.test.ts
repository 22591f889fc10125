import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, test } from 'vitest';
import { catalogueEntries, countParameters } from '@vitzoo/hub';
import { createDefaultRegistry } from 'vitzoo';
import { run } from '../run.js';
import { captureIo } from '../test-io.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const catalogue = join(root, 'models', 'catalogue');

function manifests(): Map<string, Record<string, unknown>> {
  const out = new Map<string, Record<string, unknown>>();
  for (const architecture of readdirSync(catalogue, { withFileTypes: true })) {
    if (!architecture.isDirectory()) continue;
    for (const file of readdirSync(join(catalogue, architecture.name))) {
      const { $comment, ...entry } = JSON.parse(readFileSync(join(catalogue, architecture.name, file), 'utf8')) as Record<string, unknown>;
      expect($comment).toMatch(/generate-catalogue\.mjs/);
      out.set(`${architecture.name}/${file}`, entry);
    }
  }
  return out;
}

describe('models/catalogue', () => {
  test('is in sync with the registry (regenerate: pnpm build && node packages/hub/scripts/generate-catalogue.mjs)', () => {
    const registry = createDefaultRegistry();
    const expected = catalogueEntries(registry);
    const stored = manifests();
    expect([...stored.keys()].sort()).toEqual(expected.map((entry) => `${entry.architecture}/${entry.name}.json`).sort());
    for (const entry of expected) expect(stored.get(`${entry.architecture}/${entry.name}.json`), entry.name).toEqual(JSON.parse(JSON.stringify(entry)));
    // Every pretrained tag of all six families is there.
    expect(new Set(expected.map((entry) => entry.architecture))).toEqual(new Set(['vit', 'deit', 'swin', 'cait', 'cswin', 'fdvit']));
    expect(expected.length).toBe(registry.list('*', { pretrained: true }).length);
  });

  test("parameter counts are timm's (and the authors') published numbers", () => {
    const byName = new Map(catalogueEntries(createDefaultRegistry()).map((entry) => [entry.name, entry]));
    // timm: sum(p.numel() for p in model.parameters()).
    expect(byName.get('vit_base_patch16_224.augreg2_in21k_ft_in1k')?.parameters).toBe(86_567_656);
    expect(byName.get('vit_base_patch16_224.augreg_in21k')?.parameters).toBe(102_595_923); // 21843-class head
    expect(byName.get('deit_base_distilled_patch16_224.fb_in1k')?.parameters).toBe(87_338_192);
    expect(byName.get('swin_tiny_patch4_window7_224.ms_in1k')?.parameters).toBe(28_288_354);
    const vit = byName.get('vit_tiny_patch16_224.augreg_in21k_ft_in1k')!;
    expect(vit.parameters).toBe(5_717_416);
    expect(vit.fileSize).toBe(vit.parameters * 4);
    expect(vit.source).toEqual({ kind: 'hub', repo: 'timm/vit_tiny_patch16_224.augreg_in21k_ft_in1k' });
    expect(vit.preprocessing).toEqual({ interpolation: 'bicubic', cropPct: 0.9, cropMode: 'center', mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] });
    const cswin = byName.get('cswin_tiny_224.in1k')!;
    expect(cswin.source).toEqual({ kind: 'url', url: 'https://github.com/microsoft/CSWin-Transformer/releases/download/v0.1.0/cswin_tiny_224.pth', file: 'cswin_tiny_224.pth' });
    expect(byName.get('fdvit_ti.in1k')?.source.kind).toBe('none');
  });

  test('countParameters sums the checkpoint shapes', () => {
    const registry = createDefaultRegistry();
    const vit = registry.architecture('vit');
    // Hand count for patch 8, dim 48, depth 2, 10 classes, 32x32 (16 patches + cls).
    const dim = 48;
    const perBlock = 2 * 2 * dim + (3 * dim * dim + 3 * dim) + (dim * dim + dim) + (4 * dim * dim + 4 * dim) + (4 * dim * dim + dim);
    const expected = 3 * 8 * 8 * dim + dim + dim + 17 * dim + 2 * perBlock + 2 * dim + 10 * dim + 10;
    expect(countParameters(vit, { img_size: 32, patch_size: 8, embed_dim: 48, depth: 2, num_heads: 3, num_classes: 10 })).toBe(expected);
  });
});

describe('vitzoo list', () => {
  test('shows name, parameters, input size and source', async () => {
    const io = captureIo(root);
    expect(await run(['list', 'vit_tiny_patch16_*'], io)).toBe(0);
    const lines = io.out.trim().split('\n');
    expect(lines[0]).toMatch(/^NAME\s+PARAMS\s+INPUT\s+SOURCE$/);
    expect(lines).toContainEqual(expect.stringMatching(/^vit_tiny_patch16_224\.augreg_in21k_ft_in1k\s+5\.7M\s+224x224\s+hf-hub:timm\/vit_tiny_patch16_224\.augreg_in21k_ft_in1k$/));
    expect(lines).toContainEqual(expect.stringMatching(/^vit_tiny_patch16_384\.augreg_in21k_ft_in1k\s+5\.8M\s+384x384\s+hf-hub:/));
    expect(lines).toHaveLength(4);
  });

  test('--json names exactly what the table shows', async () => {
    for (const pattern of ['vit_tiny_patch16_*', 'deit_*distilled*', 'cswin_*']) {
      const table = captureIo(root);
      await run(['list', pattern], table);
      const names = table.out.trim().split('\n').slice(1).map((line) => line.split(/\s+/)[0]);
      const json = captureIo(root);
      await run(['list', pattern, '--json'], json);
      expect(JSON.parse(json.out), pattern).toEqual(names);
      expect(names.length).toBeGreaterThan(1);
    }
  });

  test('release files for CSWin; --json --details gives the catalogue entries', async () => {
    const io = captureIo(root);
    expect(await run(['list', 'cswin_tiny_224', '--json', '--details'], io)).toBe(0);
    const [entry] = JSON.parse(io.out) as { name: string; source: { url: string } }[];
    expect(entry?.name).toBe('cswin_tiny_224.in1k');
    expect(entry?.source.url).toMatch(/cswin_tiny_224\.pth$/);
    const text = captureIo(root);
    await run(['list', 'cswin_tiny_*'], text);
    expect(text.out).toContain('https://github.com/microsoft/CSWin-Transformer/releases/download/v0.1.0/cswin_tiny_224.pth');
  });

  test('--names keeps the plain name list; no match says so', async () => {
    const io = captureIo(root);
    await run(['list', 'swin_tiny*', '--names', '--pretrained'], io);
    const names = createDefaultRegistry().list('swin_tiny*', { pretrained: true });
    expect(names.length).toBeGreaterThan(0);
    expect(names.every((name) => name.startsWith('swin_tiny_patch4_window7_224.'))).toBe(true);
    expect(io.out).toBe(`${names.join('\n')}\n`);
    const none = captureIo(root);
    await run(['list', 'nothing_like_this*'], none);
    expect(none.out).toBe("no model matches 'nothing_like_this*'\n");
  });
});
