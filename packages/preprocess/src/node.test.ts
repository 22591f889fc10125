import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { DownloadError, FileNotFoundError, InvalidImageError, UnsupportedError, parseSafetensors, type Tensor } from '@vitzoo/core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_IMAGE_TIMEOUT_MS,
  DEFAULT_MAX_IMAGE_BYTES,
  cmykToRgb,
  createTransform,
  decodeImage,
  loadImage,
  preprocessEach,
  preprocessImages,
  readImageBytes,
  stackImageTensors,
  toRgb,
} from './node.js';

const root = fileURLToPath(new URL('../../../fixtures/', import.meta.url));
const images = `${root}images/`;
const catalogue = JSON.parse(readFileSync(`${root}preprocess/images.json`, 'utf8')).images as Record<
  string,
  { fixture: string; format: string; decoded_hw: [number, number] }
>;
const fixture = (file: string) => parseSafetensors(new Uint8Array(readFileSync(`${root}preprocess/${catalogue[file]!.fixture}`))).tensors;

function compare(actual: Uint8Array, expected: Uint8Array) {
  let exact = 0;
  let within4 = 0;
  let sum = 0;
  let max = 0;
  for (let i = 0; i < expected.length; i++) {
    const diff = Math.abs(actual[i]! - expected[i]!);
    if (diff === 0) exact++;
    if (diff <= 4) within4++;
    sum += diff;
    if (diff > max) max = diff;
  }
  return { exact: exact / expected.length, within4: within4 / expected.length, mean: sum / expected.length, max };
}

const report: string[] = [];

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a rejection');
}

describe('decoding with sharp matches PIL', () => {
  for (const [file, entry] of Object.entries(catalogue)) {
    it(`${file} decodes like PIL (${entry.format})`, async () => {
      const image = await loadImage(`${images}${file}`);
      const rgb = toRgb(image);
      const expected = fixture(file).decoded!;
      expect([rgb.height, rgb.width]).toEqual(entry.decoded_hw);
      const stats = compare(rgb.data as Uint8Array, expected.data as Uint8Array);
      report.push(`${file}: exact ${(100 * stats.exact).toFixed(3)}%, mean |diff| ${stats.mean.toFixed(4)}, max ${stats.max}`);
      if (entry.format === 'PNG') {
        expect(stats.max).toBe(0);
      } else {
        // The fixtures README's suggested JPEG bound (decoders are not bit-exact in general).
        expect(stats.mean).toBeLessThanOrEqual(1);
        expect(stats.within4).toBeGreaterThanOrEqual(0.99);
      }
    });
  }

  it('16-bit grayscale PNG: one 16-bit channel; clamp = PIL, msb8 = other decoders', async () => {
    const image = await loadImage(`${images}gray16_200x150.png`);
    expect(image.data).toBeInstanceOf(Uint16Array);
    expect(image.channels).toBe(1);
    const tensors = fixture('gray16_200x150.png');
    expect(compare(toRgb(image).data as Uint8Array, tensors.decoded!.data as Uint8Array).max).toBe(0);
    expect(compare(toRgb(image, { sixteenBit: 'msb8' }).data as Uint8Array, tensors.decoded_msb8!.data as Uint8Array).max).toBe(0);
  });

  it('keeps 8-bit grayscale as one channel', async () => {
    const image = await loadImage(`${images}gray_301x200.jpg`);
    expect(image.channels).toBe(1);
    expect(image.data.length).toBe(301 * 200);
  });

  it('applies EXIF orientation 6 (stored 221x330, shown 330x221), or not when asked', async () => {
    const upright = await loadImage(`${images}exif_rot6.jpg`);
    expect([upright.width, upright.height]).toEqual([330, 221]);
    const stored = await loadImage(`${images}exif_rot6.jpg`, { applyOrientation: false });
    expect([stored.width, stored.height]).toEqual([221, 330]);
    // Rotated 90 degrees clockwise: upright pixel (x, y) is stored pixel (column y, row 329 - x).
    const pick = (image: typeof stored, x: number, y: number) => image.data[(y * image.width + x) * 3];
    for (const [x, y] of [[0, 0], [329, 220], [100, 50]] as const) {
      expect(pick(upright, x, y)).toBe(pick(stored, y, 329 - x));
    }
  });

  it('keeps the RGB values under alpha 0 (no premultiplication)', async () => {
    const image = await loadImage(`${images}rgba_180x250.png`);
    expect(image.channels).toBe(4);
    let transparent = 0;
    let informative = 0;
    for (let p = 0; p < image.width * image.height; p++) {
      if (image.data[p * 4 + 3] === 0) {
        transparent++;
        if (image.data[p * 4]! + image.data[p * 4 + 1]! + image.data[p * 4 + 2]! > 0) informative++;
      }
    }
    expect(transparent).toBeGreaterThan(1000);
    expect(informative / transparent).toBeGreaterThan(0.9);
  });

  it('end to end: files to a [N, 3, 224, 224] batch equal to the fixtures', async () => {
    const files = ['chelsea.png', 'rocket.jpg', 'gray16_200x150.png', 'gray_301x200.jpg', 'exif_rot6.jpg', 'rgba_180x250.png'];
    const transform = createTransform({ inputSize: [3, 224, 224], interpolation: 'bicubic', cropPct: 0.9 });
    const batch = await preprocessImages(files.map((file) => `${images}${file}`), transform);
    expect(batch.shape).toEqual([files.length, 3, 224, 224]);
    files.forEach((file, index) => {
      const expected = (fixture(file).timm_bicubic_09 as Tensor<'float32'>).data;
      const actual = batch.data.subarray(index * expected.length, (index + 1) * expected.length);
      expect(actual.every((value, i) => value === expected[i]), file).toBe(true);
    });
  });

  it('CMYK JPEGs, with and without the Adobe marker, decode exactly as PIL (inverted CMYK, Convert.c cmyk2rgb)', async () => {
    // Expected values from Pillow 9.4.0: fixtures/preprocess/cmyk_jpeg.py.
    const expected = parseSafetensors(new Uint8Array(readFileSync(`${root}preprocess/cmyk_jpeg.safetensors`))).tensors;
    for (const file of ['cmyk_adobe.jpg', 'cmyk_no_adobe.jpg']) {
      const image = await loadImage(`${root}preprocess/cmyk/${file}`);
      expect([image.width, image.height, image.channels], file).toEqual([128, 96, 3]);
      const stats = compare(image.data as Uint8Array, expected[`${file}/decoded`]!.data as Uint8Array);
      report.push(`${file}: exact ${(100 * stats.exact).toFixed(3)}%, mean |diff| ${stats.mean.toFixed(4)}, max ${stats.max}`);
      expect(stats.max, file).toBe(0);
    }
  });

  it('cmykToRgb is Pillow\'s Convert.c cmyk2rgb on every value it sees in the fixtures', () => {
    const expected = parseSafetensors(new Uint8Array(readFileSync(`${root}preprocess/cmyk_jpeg.safetensors`))).tensors;
    for (const file of ['cmyk_adobe.jpg', 'cmyk_no_adobe.jpg']) {
      const cmyk = expected[`${file}/cmyk`]!.data as Uint8Array;
      expect(Buffer.from(cmykToRgb(cmyk)).equals(Buffer.from(expected[`${file}/decoded`]!.data as Uint8Array)), file).toBe(true);
    }
    // Hand-computed: nk = 255 - K; R = nk - round-ish(C * nk / 255) with MULDIV255.
    expect([...cmykToRgb(new Uint8Array([0, 0, 0, 0, 255, 255, 255, 255, 128, 64, 0, 100, 10, 20, 30, 255]))]).toEqual([255, 255, 255, 0, 0, 0, 77, 116, 155, 0, 0, 0]);
  });

  it('preprocessEach decodes within the pixel budget and gives exactly applyBatch\'s rows; a bad source is named, the others go on', async () => {
    const files = ['astronaut.png', 'chelsea.png', 'coffee.png', 'rocket.jpg'];
    const transform = createTransform({ inputSize: [3, 64, 64], interpolation: 'bilinear' });
    const expected = transform.applyBatch(await Promise.all(files.map((file) => loadImage(`${images}${file}`))));
    const { images: each, peakDecodedPixels } = await preprocessEach([...files.map((file) => `${images}${file}`), new Uint8Array([1, 2, 3])], transform, { pixelBudget: 300_000, concurrency: 4 });
    expect(peakDecodedPixels).toBeLessThanOrEqual(300_000);
    expect(peakDecodedPixels).toBeGreaterThanOrEqual(512 * 512); // the largest image, alone
    expect(each[4]!.error?.message).toMatch(/^Invalid image <buffer>: /);
    const batch = stackImageTensors(each.slice(0, 4).map((image) => image.tensor!));
    expect(Buffer.from((batch.data as Float32Array).buffer).equals(Buffer.from((expected.data as Float32Array).buffer))).toBe(true);
    const first = await rejection(preprocessImages([`${images}chelsea.png`, `${images}nope.png`], transform));
    expect(FileNotFoundError.isInstance(first)).toBe(true);
  });

  it('prints the decode report', () => {
    console.log(report.join('\n'));
    expect(report.length).toBe(Object.keys(catalogue).length + 2);
  });
});

describe('sources', () => {
  let server: ReturnType<typeof createServer>;
  let base = '';
  beforeAll(async () => {
    server = createServer((request, response) => {
      if (request.url === '/chelsea.png') {
        response.writeHead(200, { 'content-type': 'image/png' });
        response.end(readFileSync(`${images}chelsea.png`));
      } else if (request.url === '/slow.png') {
        // Headers at once, then a byte now and then: never idle long, never done.
        response.writeHead(200, { 'content-type': 'image/png' });
        const timer = setInterval(() => response.write(Buffer.from([0])), 20);
        response.on('close', () => clearInterval(timer));
      } else if (request.url === '/endless.png') {
        response.writeHead(200, { 'content-type': 'image/png' });
        const chunk = Buffer.alloc(64 * 1024);
        const pump = () => {
          while (!response.destroyed && response.write(chunk));
          if (!response.destroyed) response.once('drain', pump);
        };
        pump();
      } else if (request.url === '/announced.png') {
        response.writeHead(200, { 'content-type': 'image/png', 'content-length': String(2 * 1024 ** 3) });
        response.write(Buffer.alloc(10));
      } else if (request.url === '/text') {
        response.writeHead(200, { 'content-type': 'text/plain' });
        response.end('not an image');
      } else {
        response.writeHead(404);
        response.end();
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it('reads paths, file: URLs, buffers and http URLs to the same pixels', async () => {
    const path = `${images}chelsea.png`;
    const fromPath = await loadImage(path);
    const fromFileUrl = await loadImage(pathToFileURL(path));
    const fromBuffer = await loadImage(readFileSync(path));
    const fromHttp = await loadImage(`${base}/chelsea.png`);
    for (const other of [fromFileUrl, fromBuffer, fromHttp]) {
      expect(other.width).toBe(fromPath.width);
      expect(Buffer.from(other.data.buffer, other.data.byteOffset, other.data.byteLength).equals(Buffer.from(fromPath.data.buffer, fromPath.data.byteOffset, fromPath.data.byteLength))).toBe(true);
    }
  });

  it('uses an injected fetch', async () => {
    const requested: string[] = [];
    const fetch = (async (url: string) => {
      requested.push(url);
      return new Response(readFileSync(`${images}coffee.png`));
    }) as unknown as typeof globalThis.fetch;
    const image = await loadImage('https://example.test/coffee.png', { fetch });
    expect(requested).toEqual(['https://example.test/coffee.png']);
    expect([image.width, image.height]).toEqual([600, 400]);
  });

  it('URLs are bounded: a total timeout, and a size limit announced or not', async () => {
    const started = Date.now();
    const slow = await rejection(loadImage(`${base}/slow.png`, { timeoutMs: 300 }));
    expect(DownloadError.isInstance(slow)).toBe(true);
    expect(slow.message).toMatch(/slow\.png failed: not finished within 300 ms \(timeout/);
    expect(Date.now() - started).toBeLessThan(5000);
    const endless = await rejection(loadImage(`${base}/endless.png`, { maxBytes: 1_000_000 }));
    expect(InvalidImageError.isInstance(endless)).toBe(true);
    expect(endless.message).toMatch(/the body passed the limit of 1000000 bytes for an image; cut off there/);
    const announced = await rejection(loadImage(`${base}/announced.png`));
    expect(announced.message).toMatch(/the server announces 2147483648 bytes, more than the limit of 536870912 bytes/);
    expect(DEFAULT_IMAGE_TIMEOUT_MS).toBe(30_000);
  });

  it('HTTP errors are DownloadError; a non-image response is InvalidImageError naming the URL', async () => {
    const missing = await rejection(loadImage(`${base}/missing.png`));
    expect(DownloadError.isInstance(missing)).toBe(true);
    expect((missing as DownloadError).status).toBe(404);
    const text = await rejection(loadImage(`${base}/text`));
    expect(InvalidImageError.isInstance(text)).toBe(true);
    expect(text.message).toContain(`${base}/text`);
  });
});

describe('bad input is InvalidImageError naming the input and the reason', () => {
  const rocket = readFileSync(`${images}rocket.jpg`);
  const png = readFileSync(`${images}chelsea.png`);

  const cases: [string, () => Promise<unknown>, RegExp][] = [
    ['empty', () => decodeImage(new Uint8Array(0)), /<buffer>: it is empty \(0 bytes\)/],
    ['truncated JPEG', () => decodeImage(rocket.subarray(0, rocket.length >> 1)), /<buffer>: the data is truncated/],
    [
      'corrupt PNG header',
      () => {
        const bytes = Buffer.from(png);
        bytes[20] = bytes[20]! ^ 0xff;
        return decodeImage(bytes);
      },
      /<buffer>: it is corrupt or cannot be decoded/,
    ],
    ['truncated PNG', () => decodeImage(png.subarray(0, png.length >> 1)), /<buffer>: .*(truncated|corrupt)/],
    ['unsupported (a text file)', () => loadImage(`${root}preprocess/transforms.json`), /transforms\.json: unrecognised or unsupported image format/],
    [
      'unsupported (SVG, which libvips could render)',
      () => decodeImage(Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"/>')),
      /unsupported image format 'svg'/,
    ],
    ['over the pixel limit', () => loadImage(`${images}astronaut.png`, { maxPixels: 100_000 }), /astronaut\.png: it has 262144 pixels \(512x512\), more than the limit of 100000/],
  ];
  for (const [name, run, pattern] of cases) {
    it(name, async () => {
      const error = await rejection(run());
      expect(InvalidImageError.isInstance(error), String(error)).toBe(true);
      expect(error.message).toMatch(pattern);
      expect(error.message).not.toMatch(/\n|at .*\.js/);
    });
  }

  it('a missing file is FileNotFoundError', async () => {
    const error = await rejection(loadImage(`${images}nope.png`));
    expect(FileNotFoundError.isInstance(error)).toBe(true);
  });

  it('only regular files are read, and only up to maxBytes: /dev/zero, a FIFO, a file too large', async () => {
    const scratch = mkdtempSync(join(tmpdir(), 'vitzoo-image-'));
    try {
      const fifo = join(scratch, 'pipe.png');
      execFileSync('mkfifo', [fifo]);
      const started = Date.now();
      for (const [path, pattern] of [
        ['/dev/zero', /\/dev\/zero: it is a character device, not an image file/],
        [fifo, /pipe\.png: it is a FIFO \(named pipe\), not an image file/],
      ] as const) {
        const error = await rejection(loadImage(path));
        expect(InvalidImageError.isInstance(error), path).toBe(true);
        expect(error.message).toMatch(pattern);
      }
      expect(Date.now() - started).toBeLessThan(5000);
      const large = await rejection(readImageBytes(`${images}chelsea.png`, { maxBytes: 1000, name: 'chelsea.png' }));
      expect(large.message).toMatch(/chelsea\.png: it is \d+ bytes, more than the limit of 1000 bytes for an image file/);
      expect(DEFAULT_MAX_IMAGE_BYTES).toBe(512 * 1024 ** 2);
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
  });

  it('a directory is InvalidImageError', async () => {
    const error = await rejection(loadImage(images));
    expect(InvalidImageError.isInstance(error)).toBe(true);
    expect(error.message).toMatch(/directory/);
  });
});

describe('sharp is an optional peer dependency', () => {
  it('a missing sharp is a typed error naming the install command', async () => {
    const { sharpMissingError } = await import('./node.js');
    const error = sharpMissingError(new Error("Cannot find package 'sharp' imported from …"));
    expect(UnsupportedError.isInstance(error)).toBe(true);
    expect(error.message).toMatch(/`npm install sharp`/);
    expect(error.message).toMatch(/Cannot find package 'sharp'/);
  });
});
