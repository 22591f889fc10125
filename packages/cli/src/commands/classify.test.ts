import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { deflateSync } from 'node:zlib';
import { run } from '../run.js';
import { captureIo } from '../test-io.js';

const root = fileURLToPath(new URL('../../../../', import.meta.url));
const testImages = join(root, 'fixtures/digits/test');
const files = readdirSync(testImages).filter((name) => name.endsWith('.png')).sort();
const paths = files.map((name) => `fixtures/digits/test/${name}`);
const vitPredictions = JSON.parse(readFileSync(join(root, 'fixtures/digits/vit/predictions.json'), 'utf8')).predictions as Record<string, number>;
const deitPredictions = JSON.parse(readFileSync(join(root, 'fixtures/digits/deit/predictions.json'), 'utf8')).predictions as Record<string, number>;

let scratch: string;
let savedCache: string | undefined;
beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'vitzoo-classify-'));
  // classify caches built graphs in the hub cache: keep it in the scratch folder
  savedCache = process.env.VITZOO_CACHE;
  process.env.VITZOO_CACHE = join(scratch, 'cache');
});
afterAll(() => {
  if (savedCache === undefined) delete process.env.VITZOO_CACHE;
  else process.env.VITZOO_CACHE = savedCache;
  rmSync(scratch, { recursive: true, force: true });
});

async function cli(args: string[], cwd = root) {
  const io = captureIo(cwd);
  const code = await run(args, io);
  expect(io.err).not.toMatch(/\n\s+at .*\(/); // never a stack trace
  expect(io.err).not.toMatch(/internal error/);
  return { code, out: io.out, err: io.err };
}

function jsonLines(text: string): Record<string, unknown>[] {
  return text.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
}

/** A PNG of `width` x `height` 8-bit RGB pixels with the given IDAT payload. */
function png(width: number, height: number, idat: Uint8Array): Uint8Array {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (bytes: Uint8Array) => {
    let c = 0xffffffff;
    for (const byte of bytes) c = crcTable[(c ^ byte) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Uint8Array) => {
    const out = Buffer.alloc(12 + data.length);
    out.writeUInt32BE(data.length, 0);
    out.write(type, 4, 'ascii');
    Buffer.from(data).copy(out, 8);
    out.writeUInt32BE(crc(out.subarray(4, 8 + data.length)), 8 + data.length);
    return out;
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', new Uint8Array(0))]);
}

/** A PNG whose header announces width x height, with a few bytes of pixel data (a decompression bomb's shape). */
function pngHeader(width: number, height: number): Uint8Array {
  return png(width, height, deflateSync(Buffer.alloc(1000)));
}

/** A valid PNG of one colour: tiny on disk, width x height x 3 bytes decoded. */
function solidPng(width: number, height: number, rgb: [number, number, number]): Uint8Array {
  const row = Buffer.alloc(1 + 3 * width);
  for (let x = 0; x < width; x++) row.set(rgb, 1 + 3 * x); // filter byte 0, then the pixels
  return png(width, height, deflateSync(Buffer.concat(Array.from({ length: height }, () => row)), { level: 9 }));
}

describe('vitzoo classify', () => {
  test('default model (models/digits-vit) on the 360 digit PNGs: torch\'s argmax on every image, accuracy 348/360', async () => {
    const { code, out, err } = await cli(['classify', ...paths, '--json']);
    expect(err).toBe('');
    expect(code).toBe(0);
    const lines = jsonLines(out);
    expect(lines).toHaveLength(361);
    lines.slice(0, 360).forEach((line, index) => {
      expect(line.image).toBe(paths[index]);
      const predictions = line.predictions as { index: number; label: string; score: number }[];
      expect(predictions).toHaveLength(5);
      expect(predictions[0]!.index, files[index]).toBe(vitPredictions[files[index]!]);
      expect(predictions[0]!.label).toBe(String(predictions[0]!.index));
      for (let i = 1; i < 5; i++) expect(predictions[i]!.score).toBeLessThanOrEqual(predictions[i - 1]!.score);
      expect(Object.keys(line)).toEqual(['version', 'image', 'predictions']);
      expect(line.version).toBe(1);
    });
    expect(lines[360]).toEqual({ version: 1, accuracy: 348 / 360, correct: 348, total: 360 });
  });

  test('--model digits-deit (a bundled name) on the test folder gives 342/360; human output marks each verdict', async () => {
    const json = await cli(['classify', 'fixtures/digits/test', '--model', 'digits-deit', '--json', '--top-k', '1']);
    const lines = jsonLines(json.out);
    expect(lines.slice(0, 360).map((line) => line.image)).toEqual(paths); // a folder expands to its images, sorted
    lines.slice(0, 360).forEach((line, index) => expect((line.predictions as { index: number }[])[0]!.index).toBe(deitPredictions[files[index]!]));
    expect(lines[360]).toEqual({ version: 1, accuracy: 342 / 360, correct: 342, total: 360 });

    const wrong = files.find((file) => deitPredictions[file] !== Number(file[5]))!; // <index>_<label>.png
    const human = await cli(['classify', 'fixtures/digits/test/0021_1.png', `fixtures/digits/test/${wrong}`, '-m', 'models/digits-deit', '-k', '2']);
    expect(human.code).toBe(0);
    const [first, second, , accuracy] = human.out.split('\n');
    expect(first).toMatch(/^fixtures\/digits\/test\/0021_1\.png: 1 \d+\.\d\d%, \d \d+\.\d\d%  \(correct\)$/);
    expect(second).toMatch(new RegExp(`^fixtures/digits/test/${wrong.replace('.', '\\.')}: ${deitPredictions[wrong]} .*\\(WRONG: labelled ${wrong[5]}\\)$`));
    expect(accuracy).toMatch(/^accuracy: 1\/2 = 50\.00% /);
  });

  test('labels from a labels.json beside the images; no accuracy when labels are unknown', async () => {
    const folder = join(scratch, 'renamed');
    mkdirSync(folder);
    copyFileSync(join(testImages, '0021_1.png'), join(folder, 'a.png'));
    copyFileSync(join(testImages, '0024_4.png'), join(folder, 'b.png'));
    const unknown = await cli(['classify', 'a.png', 'b.png', '--json'], folder);
    expect(jsonLines(unknown.out).map((line) => Object.keys(line))).toEqual([['version', 'image', 'predictions'], ['version', 'image', 'predictions']]);
    expect(jsonLines(unknown.out)[0]!.image).toBe('a.png');
    writeFileSync(join(folder, 'labels.json'), JSON.stringify({ 'a.png': 1, 'b.png': '7' }));
    const known = await cli(['classify', 'a.png', 'b.png', '--json'], folder);
    expect(jsonLines(known.out)[2]).toEqual({ version: 1, accuracy: 0.5, correct: 1, total: 2 });
  });

  test('--threshold leaves out unlikely classes; options are checked', async () => {
    const { out } = await cli(['classify', 'fixtures/digits/test/0021_1.png', '--threshold', '0.05', '--json']);
    const [line] = jsonLines(out);
    expect((line!.predictions as { score: number }[]).every((p) => p.score >= 0.05)).toBe(true);
    expect((line!.predictions as unknown[]).length).toBeGreaterThan(0);
    for (const args of [['--top-k', '0'], ['--threshold', '2'], ['--batch-size', 'x'], ['--max-pixels', '-1']]) {
      const result = await cli(['classify', 'fixtures/digits/test/0021_1.png', ...args]);
      expect(result.code, args.join(' ')).toBe(1);
      expect(result.err).toMatch(new RegExp(`^error: ${args[0]} must be`));
    }
    const backend = await cli(['classify', 'fixtures/digits/test/0021_1.png', '--backend', 'gpu-magic']);
    expect(backend.err).toMatch(/gpu-magic: not registered/);
    expect(backend.code).toBe(1);
    const model = await cli(['classify', 'fixtures/digits/test/0021_1.png', '--model', 'models/digits-vit/config.json']);
    expect(model.err).toMatch(/config\.json is a file; give the folder/);
    const empty = await cli(['classify', 'models'], root);
    expect(empty.err).toMatch(/^error: The folder models holds no image files/);
    expect(model.code).toBe(1);
  });

  test('corrupt, truncated, empty, unsupported and oversized images: InvalidImageError naming the input, exit 1, the others still classified', async () => {
    const bad = join(scratch, 'bad');
    mkdirSync(bad);
    const photo = readFileSync(join(root, 'fixtures/images/chelsea.png'));
    writeFileSync(join(bad, 'truncated.png'), photo.subarray(0, Math.floor(photo.length / 3)));
    const corrupt = Buffer.from(photo);
    corrupt.fill(0x5a, 2000, 60_000); // inside the compressed pixel data
    writeFileSync(join(bad, 'corrupt.png'), corrupt);
    writeFileSync(join(bad, 'empty.png'), new Uint8Array(0));
    writeFileSync(join(bad, 'text.png'), 'this is not an image');
    writeFileSync(join(bad, 'image.bmp'), Buffer.concat([Buffer.from('BM'), Buffer.alloc(60)]));
    writeFileSync(join(bad, 'bomb.png'), pngHeader(30_000, 30_000));
    copyFileSync(join(testImages, '0021_1.png'), join(bad, '0021_1.png'));
    const names = ['truncated.png', 'corrupt.png', 'empty.png', 'text.png', 'image.bmp', 'bomb.png', 'missing.png', '0021_1.png'];
    const { code, out, err } = await cli(['classify', ...names, '--json'], bad);
    expect(code).toBe(1);
    const lines = jsonLines(out);
    expect(lines.map((line) => line.image)).toEqual(names);
    const reasons = Object.fromEntries(lines.slice(0, 7).map((line) => [line.image, (line.error as { code: string; message: string })]));
    for (const name of names.slice(0, 6)) {
      expect(reasons[name]!.code, name).toBe('invalid-image');
      expect(reasons[name]!.message).toMatch(new RegExp(`^Invalid image ${name.replace('.', '\\.')}: `));
      expect(err).toContain(`error: Invalid image ${name}: `);
    }
    expect(reasons['truncated.png']!.message).toMatch(/truncated|corrupt/);
    expect(reasons['empty.png']!.message).toMatch(/empty \(0 bytes\)/);
    expect(reasons['text.png']!.message).toMatch(/unsupported image format/);
    expect(reasons['image.bmp']!.message).toMatch(/unsupported image format/);
    expect(reasons['bomb.png']!.message).toMatch(/900000000 pixels \(30000x30000\), more than the limit of 89478485/);
    expect(reasons['missing.png']).toMatchObject({ code: 'file-not-found', message: 'Image file not found: missing.png.' });
    expect((lines[7]!.predictions as { index: number }[])[0]!.index).toBe(1);
    expect(lines).toHaveLength(8); // no accuracy line when images failed

    const limited = await cli(['classify', '0021_1.png', '--max-pixels', '1000'], bad);
    expect(limited.err).toMatch(/^error: Invalid image 0021_1\.png: it has 1024 pixels \(32x32\), more than the limit of 1000/);
    expect(limited.code).toBe(1);
  });

  test('paths are printed as given, relative or absolute', async () => {
    const absolute = join(testImages, '0024_4.png');
    const { out } = await cli(['classify', absolute, relative(scratch, absolute), '--json'], scratch);
    expect(jsonLines(out).slice(0, 2).map((line) => line.image)).toEqual([absolute, relative(scratch, absolute)]);
  });
});

describe('memory: a batch of images that decode huge', () => {
  test('is decoded within the pixel budget (here --max-pixels), not all at once', async () => {
    // A solid 4000x4000 PNG is about 50 KB on disk and 48 MB decoded; eight of them in one batch.
    const large = solidPng(4000, 4000, [200, 30, 90]);
    expect(large.byteLength).toBeLessThan(200_000);
    const folder = join(scratch, 'large');
    mkdirSync(folder);
    for (let i = 0; i < 8; i++) writeFileSync(join(folder, `large_${i}.png`), large);
    // The digits model with nearest-neighbour resizing: the memory is the decoder's, the resizing stays cheap.
    const model = join(scratch, 'digits-nearest');
    mkdirSync(model);
    const config = JSON.parse(readFileSync(join(root, 'models/digits-vit/config.json'), 'utf8'));
    config.pretrained_cfg.interpolation = 'nearest';
    writeFileSync(join(model, 'config.json'), JSON.stringify(config));
    copyFileSync(join(root, 'models/digits-vit/model.safetensors'), join(model, 'model.safetensors'));
    const args = ['classify', folder, '--model', model, '--batch-size', '8', '--max-pixels', '20000000', '--json', '--top-k', '1'];
    await cli(['classify', 'fixtures/digits/test/0021_1.png', '--model', model]); // warm up: model, graph cache, sharp
    global.gc?.();
    const baseline = process.memoryUsage.rss();
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 2);
    let result;
    try {
      result = await cli(args);
    } finally {
      clearInterval(sampler);
    }
    peak = Math.max(peak, process.memoryUsage.rss());
    expect(result.code).toBe(0);
    const lines = jsonLines(result.out);
    expect(lines).toHaveLength(8);
    // Every image is the same solid colour: the same prediction for each.
    expect(new Set(lines.map((line) => JSON.stringify(line.predictions))).size).toBe(1);
    // All eight decoded at once would be 384 MB; one at a time (20 M pixels) about 48 MB plus the decoder's buffers.
    expect((peak - baseline) / 1e6).toBeLessThan(250);
  });
});

describe('the default digits model on something that is not a digit', () => {
  test('hints on stderr when an image is not 32x32; not for digits, not when --model is given', async () => {
    const photo = await cli(['classify', 'fixtures/images/chelsea.png', digitPath()]);
    expect(photo.code).toBe(0);
    expect(photo.err).toMatch(/^hint: the default model \(models\/digits-vit\) knows only 32x32 images of handwritten digits .*1 image\(s\) here are not 32x32 \(fixtures\/images\/chelsea\.png \(451x300\)\).*--model deit_small_patch16_224\.fb_in1k/);
    expect((await cli(['classify', digitPath()])).err).toBe('');
    expect((await cli(['classify', 'fixtures/images/chelsea.png', '--model', 'digits-vit'])).err).toBe('');
  });
});

function digitPath(): string {
  return 'fixtures/digits/test/0021_1.png';
}
