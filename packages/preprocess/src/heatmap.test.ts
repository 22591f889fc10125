import { describe, expect, test } from 'vitest';
import { colorize, overlayHeatmap } from './heatmap.js';
import { decodeImage, encodePng } from './node.js';

describe('heat map overlays', () => {
  test('the colormap runs from inferno dark purple (0) to pale yellow (1), linear between its stops', () => {
    expect(colorize(0)).toEqual([0, 0, 4]);
    expect(colorize(1)).toEqual([252, 255, 164]);
    expect(colorize(0.5)).toEqual([186, 54, 85]);
    // halfway between the stops at 0 and 1/8
    expect(colorize(1 / 16)).toEqual([Math.round(15.5), 6, 38]);
    expect(colorize(-3)).toEqual(colorize(0));
    expect(colorize(Number.NaN)).toEqual(colorize(0));
    expect(colorize(0.25, 'gray')).toEqual([64, 64, 64]);
  });

  test('blends (1 - opacity)·image + opacity·colour per pixel, grayscale and RGBA images as RGB', () => {
    const gray = { data: Uint8Array.of(0, 100, 200, 255), width: 2, height: 2, channels: 1 as const };
    const heat = { width: 2, height: 2, data: [0, 1, 0.5, 0] };
    const out = overlayHeatmap(gray, heat, { opacity: 0.25 });
    expect(out.channels).toBe(3);
    const expected = [0, 100, 200, 255].flatMap((level, p) => colorize(heat.data[p]!).map((c) => Math.round(0.75 * level + 0.25 * c)));
    expect(Array.from(out.data)).toEqual(expected);
    const rgba = { data: Uint8Array.of(10, 20, 30, 0), width: 1, height: 1, channels: 4 as const };
    expect(Array.from(overlayHeatmap(rgba, { width: 1, height: 1, data: [1] }, { opacity: 0 }).data)).toEqual([10, 20, 30]);
    expect(() => overlayHeatmap(gray, { width: 3, height: 2, data: new Array(6).fill(0) })).toThrow(/heat map is 3×2; the image is 2×2/);
    expect(() => overlayHeatmap(gray, heat, { opacity: 2 })).toThrow(/opacity/);
  });

  test('encodePng writes a PNG that decodes to the same pixels', async () => {
    const image = { data: Uint8Array.from({ length: 5 * 3 * 3 }, (_, i) => (i * 37) % 256), width: 5, height: 3, channels: 3 as const };
    const png = await encodePng(image);
    expect(Array.from(png.subarray(0, 4))).toEqual([0x89, 0x50, 0x4e, 0x47]);
    const decoded = await decodeImage(png, 'round trip');
    expect(decoded.width).toBe(5);
    expect(Array.from(decoded.data)).toEqual(Array.from(image.data));
  });
});
