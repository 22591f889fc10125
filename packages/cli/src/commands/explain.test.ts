import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModel, type Heatmap, type Model } from '@vitzoo/pipeline/node';
import { decodeImage, overlayHeatmap, type RawImage } from '@vitzoo/preprocess/node';
import '@vitzoo/runtime-node';
import { createDefaultRegistry } from 'vitzoo';
import { runCli } from '../test-cli.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const digitFiles = readdirSync(join(root, 'fixtures/digits/test')).filter((name) => name.endsWith('.png')).sort();
const digits = digitFiles.slice(0, 4).map((name) => `fixtures/digits/test/${name}`);
const photo = 'fixtures/images/chelsea.png';

let scratch: string;
let savedCache: string | undefined;
let digitsVit: Model;
let swin: Model;
beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'vitzoo-explain-'));
  savedCache = process.env.VITZOO_CACHE;
  process.env.VITZOO_CACHE = join(scratch, 'cache'); // built graphs are cached in the hub cache: keep it here
  // The library's own models, loaded independently of the command: what the PNGs must equal.
  const registry = createDefaultRegistry();
  digitsVit = await loadModel(join(root, 'models/digits-vit'), { registry, outputs: ['logits', 'rollout'] });
  swin = await loadModel(join(root, 'fixtures/models/swin_tiny'), { registry, outputs: ['logits', 'intermediates.-1'] });
});
afterAll(async () => {
  await digitsVit?.dispose();
  await swin?.dispose();
  if (savedCache === undefined) delete process.env.VITZOO_CACHE;
  else process.env.VITZOO_CACHE = savedCache;
  rmSync(scratch, { recursive: true, force: true });
});

const cli = (args: string[], cwd = root) => runCli(args, cwd);

function jsonLines(text: string): Record<string, unknown>[] {
  return text.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
}

async function decode(path: string): Promise<RawImage> {
  return decodeImage(readFileSync(path), path);
}

function freshFolder(name: string): string {
  const folder = join(scratch, name);
  mkdirSync(folder, { recursive: true });
  return folder;
}

/** Checks a written PNG against the overlay computed through the library: same size, same pixels. */
async function expectOverlay(written: string, image: RawImage, heat: Heatmap, opacity = 0.5) {
  const png = await decode(written);
  expect([png.width, png.height, png.channels]).toEqual([image.width, image.height, 3]);
  const expected = overlayHeatmap(image, heat, { opacity });
  expect(Buffer.from(png.data as Uint8Array).equals(Buffer.from(expected.data as Uint8Array))).toBe(true);
}

describe('vitzoo explain', () => {
  test('digits ViT (rollout): several images into a new folder; each PNG is the library overlay, --json the library grid and top class', async () => {
    const out = join(scratch, 'digits-out');
    const { code, out: stdout, err } = await cli(['explain', ...digits, '-o', out, '--json']);
    expect(err).toBe('');
    expect(code).toBe(0);
    const lines = jsonLines(stdout);
    expect(lines).toHaveLength(digits.length);
    const images = await Promise.all(digits.map((path) => decode(join(root, path))));
    const heatmaps = await digitsVit.explain(images);
    const predictions = await digitsVit.classify(images, { topK: 1 });
    for (const [index, line] of lines.entries()) {
      const output = join(out, digitFiles[index]!.replace(/\.png$/, '.heatmap.png'));
      expect(Object.keys(line)).toEqual(['version', 'image', 'output', 'method', 'width', 'height', 'grid', 'predictions']);
      expect(line).toMatchObject({ version: 1, image: digits[index], output, method: 'rollout', width: 32, height: 32 });
      await expectOverlay(output, images[index]!, heatmaps[index]!);
      const grid = line.grid as { width: number; height: number; data: number[] };
      const expected = heatmaps[index]!.grid;
      expect([grid.width, grid.height]).toEqual([expected.width, expected.height]);
      expect([grid.width, grid.height]).toEqual([8, 8]); // 32x32 input, 4x4 patches
      expect(grid.data).toHaveLength(64);
      grid.data.forEach((value, i) => expect(Math.abs(value - expected.data[i]!)).toBeLessThan(1e-5 * Math.max(1, Math.abs(expected.data[i]!))));
      const [top] = line.predictions as { index: number; label: string; score: number }[];
      expect((line.predictions as unknown[]).length).toBe(1);
      expect(top!.index).toBe(predictions[index]![0]!.index);
      expect(top!.label).toBe(predictions[index]![0]!.label);
      expect(top!.score).toBeCloseTo(predictions[index]![0]!.score, 6);
    }
    expect(readdirSync(out).sort()).toEqual(digitFiles.slice(0, 4).map((name) => name.replace(/\.png$/, '.heatmap.png')));
  });

  test('the digits ViT rollout is higher on the ink than on the background, on average over the 360 test digits', async () => {
    const images = await Promise.all(digitFiles.map((name) => decode(join(root, 'fixtures/digits/test', name))));
    const heatmaps = await digitsVit.explain(images);
    let [ink, inkCount, background, backgroundCount] = [0, 0, 0, 0];
    for (const [index, image] of images.entries()) {
      for (let p = 0; p < image.width * image.height; p++) {
        const value = image.data[p * image.channels] as number; // three equal channels; 0 is background
        const heat = heatmaps[index]!.data[p]!;
        if (value >= 128) [ink, inkCount] = [ink + heat, inkCount + 1];
        else if (value === 0) [background, backgroundCount] = [background + heat, backgroundCount + 1];
      }
    }
    // Measured: 0.269 on ink (values >= 128), 0.044 on background (0).
    expect(ink / inkCount).toBeGreaterThan(3 * (background / backgroundCount));
  });

  test('Swin (no rollout): auto uses pca on a real photo, written at the photo\'s size; -o names the file; --opacity is used', async () => {
    const folder = freshFolder('swin');
    const output = join(folder, 'cat.png');
    const { code, out, err } = await cli(['explain', photo, '--model', 'fixtures/models/swin_tiny', '-o', output, '--opacity', '0.3']);
    expect(err).toBe('');
    expect(code).toBe(0);
    expect(out).toMatch(/^fixtures\/images\/chelsea\.png -> .*cat\.png \(pca; top class \S+ \d+\.\d\d%\)\n$/);
    const image = await decode(join(root, photo));
    const [heat] = await swin.explain(image);
    expect(heat!.method).toBe('pca');
    await expectOverlay(output, image, heat!, 0.3);
    expect(readdirSync(folder)).toEqual(['cat.png']);
  });

  test('without -o the heat map goes to <name>.heatmap.png in the working directory', async () => {
    const folder = freshFolder('cwd');
    copyFileSync(join(root, digits[0]!), join(folder, 'digit.png'));
    const { code } = await cli(['explain', 'digit.png', '--model', join(root, 'models/digits-vit'), '--method', 'pca', '--json'], folder);
    expect(code).toBe(0);
    const image = await decode(join(folder, 'digit.png'));
    const pcaModel = await loadModel(join(root, 'models/digits-vit'), { registry: createDefaultRegistry(), outputs: ['logits', 'intermediates.-1'] });
    try {
      const [heat] = await pcaModel.explain(image, { method: 'pca' });
      await expectOverlay(join(folder, 'digit.heatmap.png'), image, heat!);
    } finally {
      await pcaModel.dispose();
    }
    expect(readdirSync(folder).sort()).toEqual(['digit.heatmap.png', 'digit.png']);
  });

  test('--dtype fp16: the graph is built in that precision (the overlay of the library model loaded with dtype fp16)', async () => {
    const folder = freshFolder('fp16');
    const { code } = await cli(['explain', digits[0]!, '--dtype', 'fp16', '-o', join(folder, 'x.png')]);
    expect(code).toBe(0);
    const image = await decode(join(root, digits[0]!));
    const fp16 = await loadModel(join(root, 'models/digits-vit'), { registry: createDefaultRegistry(), outputs: ['logits', 'rollout'], dtype: 'fp16' });
    try {
      expect(fp16.details?.dtype).toBe('fp16');
      await expectOverlay(join(folder, 'x.png'), image, (await fp16.explain(image))[0]!);
    } finally {
      await fp16.dispose();
    }
  });

  test('bad input: typed errors, exit 1, nothing written, inputs untouched', async () => {
    const folder = freshFolder('bad');
    copyFileSync(join(root, digits[0]!), join(folder, 'a.png'));
    copyFileSync(join(root, digits[1]!), join(folder, 'b.png'));
    copyFileSync(join(root, digits[2]!), join(folder, 'a.heatmap.png'));
    writeFileSync(join(folder, 'broken.png'), 'not an image');
    writeFileSync(join(folder, 'out.png'), 'an existing file');
    const other = freshFolder('bad-other');
    copyFileSync(join(root, digits[1]!), join(other, 'a.png'));
    const before = Object.fromEntries(readdirSync(folder).map((name) => [name, readFileSync(join(folder, name))]));
    const cases: [string[], RegExp][] = [
      [['a.png', '--method', 'gradcam'], /^error: --method must be one of auto, rollout, pca, got 'gradcam'/],
      [['a.png', '--model', join(root, 'fixtures/models/swin_tiny'), '--method', 'rollout'], /^error: Architecture 'swin' cannot explain with 'rollout': it can do pca\./],
      [['a.png', 'b.png', '-o', 'out.png'], /^error: -o out\.png is a file, but 2 images give 2 heat maps: name a folder/],
      [['a.png', '-o', 'a.png'], /^error: Refusing to write .*a\.png: it is the image a\.png this command reads/],
      [['a.png', 'a.heatmap.png', '-o', '.'], /^error: Refusing to write .*a\.heatmap\.png: it is the image a\.heatmap\.png this command reads/],
      [['a.png', '-o', 'a.jpg'], /^error: -o a\.jpg names neither a folder nor a \.png file/],
      [['a.png', '--opacity', '1.5'], /^error: --opacity must be a number from 0 to 1/],
      [['a.png', join(other, 'a.png'), '-o', 'twice'], /^error: .*a\.png and .* would both be written to .*a\.heatmap\.png/],
      [['broken.png'], /^error: .*broken\.png/],
      [['missing.png'], /^error: .*missing\.png/],
    ];
    for (const [args, message] of cases) {
      const { code, out, err } = await cli(['explain', ...args], folder);
      expect(code, args.join(' ')).toBe(1);
      expect(err, args.join(' ')).toMatch(message);
      expect(out).toBe('');
    }
    const json = await cli(['explain', 'broken.png', '--json'], folder);
    expect(json.code).toBe(1);
    expect(jsonLines(json.out)[0]).toMatchObject({ version: 1, image: 'broken.png', error: { code: expect.any(String) } });
    expect(readdirSync(folder).sort()).toEqual(Object.keys(before).sort()); // nothing written, no folder made
    for (const [name, bytes] of Object.entries(before)) expect(readFileSync(join(folder, name)).equals(bytes), name).toBe(true);
    expect(existsSync(join(folder, 'twice'))).toBe(false);
  });
});
