import { describe, expect, test } from 'vitest';
import { createTensor, float16ToFloat32, float32ToFloat16, graphBytes, roundHalfEven, type Dtype, type StateDict } from '@vitzoo/core';
import { nodeBackend } from '@vitzoo/runtime-node';
import { readModel, type ReadModel } from '@vitzoo/onnx';
import {
  GraphLayers,
  INT8_KERNELS,
  INT8_WEIGHT_LIMIT,
  int8Scales,
  q4Layout,
  q4Parameters,
  quantizeInt8Transposed,
  quantizeQ4,
  type Int8Kernel,
} from '@vitzoo/onnx/layers';
import { dynamicQuantizeReference, matMulReference, quantizedMatMulReference, roundEven } from './kernel-contracts-reference.js';

// The quantized Linears of @vitzoo/onnx/layers (precision.ts) against independent float64
// implementations of what the kernels are documented to compute (ONNX operator specs and
// onnxruntime's contrib operator docs: the kernel probes' references, and a reader of
// MatMulNBits' layout below), and against onnxruntime-node. Nothing here calls the quantizer's
// code to compute an expectation, except where a test says it checks the written graph against it.

/** Deterministic values in [-1, 1) with a few large outliers, as trained weights have. */
function values(count: number, seed: number, outliers = true): Float32Array {
  let state = seed >>> 0;
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = (state / 2 ** 32) * 2 - 1;
    if (outliers && i % 37 === 5) out[i]! *= 4;
  }
  return out;
}

/** y = x · Wᵀ + b in float64; x [M, K], W [N, K] (PyTorch's Linear layout), b [N]. */
function linear64(x: ArrayLike<number>, weight: ArrayLike<number>, bias: ArrayLike<number> | null, m: number, k: number, n: number): Float64Array {
  const transposed = new Float64Array(k * n);
  for (let j = 0; j < n; j++) for (let t = 0; t < k; t++) transposed[t * n + j] = weight[j * k + t]!;
  return matMulReference(x, transposed, m, k, n, bias ?? undefined);
}

/**
 * MatMulNBits' B read as onnxruntime's operator docs describe it: B [N, n_blocks, blob_size] uint8,
 * element k of column n in block ⌊k / block_size⌋, byte (k mod block_size) / 2, low nibble first;
 * scales [N · n_blocks]; zero_points [N · ⌈n_blocks / 2⌉], two per byte, low nibble first, or
 * absent: 2^(bits − 1) = 8. Returns W [N, K] dequantized: (q − zero point) · scale.
 */
function dequantizeMatMulNBits(b: Uint8Array, scales: Float32Array, zeroPoints: Uint8Array | null, n: number, k: number, blockSize: number): Float64Array {
  const blocks = Math.ceil(k / blockSize);
  const blob = blockSize / 2;
  const zeroPointStride = Math.ceil(blocks / 2);
  const out = new Float64Array(n * k);
  for (let column = 0; column < n; column++) {
    for (let index = 0; index < k; index++) {
      const block = Math.floor(index / blockSize);
      const within = index % blockSize;
      const byte = b[column * blocks * blob + block * blob + Math.floor(within / 2)]!;
      const q = within % 2 === 0 ? byte & 15 : byte >> 4;
      const zeroByte = zeroPoints ? zeroPoints[column * zeroPointStride + Math.floor(block / 2)]! : 8;
      const zero = !zeroPoints ? 8 : block % 2 === 0 ? zeroByte & 15 : zeroByte >> 4;
      out[column * k + index] = (q - zero) * scales[column * blocks + block]!;
    }
  }
  return out;
}

type Initializer = ReadModel['initializers'][number];

const decode = readModel;

function optionalInitializer(model: ReadModel, name: string): Initializer | undefined {
  return model.initializers.find((init) => init.name === name);
}

function initializer(model: ReadModel, name: string): Initializer {
  const found = optionalInitializer(model, name);
  if (!found) throw new Error(`no initializer ${name}`);
  return found;
}

const typed = {
  int8: (raw: Uint8Array) => new Int8Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)),
  uint8: (raw: Uint8Array) => Uint8Array.from(raw),
  float32: (raw: Uint8Array) => new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)),
  uint16: (raw: Uint8Array) => new Uint16Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength)),
};

/** A graph of one Linear (`fc`, [n, k], with bias) on x [2, 3, k], built by the layers with `dtype`. */
function linearGraph(k: number, n: number, dtype: Dtype, options: { q4BlockSize?: number; int8Kernel?: Int8Kernel; seed?: number } = {}) {
  const weight = values(n * k, options.seed ?? 7);
  const bias = values(n, 11, false);
  const stateDict: StateDict = { 'fc.weight': createTensor('float32', [n, k], weight), 'fc.bias': createTensor('float32', [n], bias) };
  const layers = new GraphLayers(stateDict, { architecture: 'test', dtype, ...options });
  const x = layers.g.input('pixel_values', 'float32', [2, 3, k]);
  layers.produce('logits', layers.linear(x, 'fc'), [2, 3, n]);
  const graph = layers.finish();
  return { weight, bias, graph, bytes: graphBytes(graph) };
}

async function run(bytes: Uint8Array, input: Float32Array, k: number): Promise<{ data: Float32Array }> {
  const session = await nodeBackend.createSession(bytes);
  try {
    return { data: (await session.run({ pixel_values: createTensor('float32', [2, 3, k], input) })).logits!.data as Float32Array };
  } finally {
    await session.dispose();
  }
}

function maxRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]!));
  let max = 0;
  for (let i = 0; i < expected.length; i++) max = Math.max(max, Math.abs(actual[i]! - expected[i]!));
  return max / scale;
}

test('roundHalfEven rounds halves to the even neighbour, everything else to the nearest', () => {
  const cases = [[0.5, 0], [1.5, 2], [2.5, 2], [-0.5, 0], [-1.5, -2], [-2.5, -2], [2.4, 2], [2.6, 3], [-2.6, -3], [-2.4, -2], [7.5, 8], [-7.5, -8], [126.5, 126], [0, 0]];
  for (const [value, expected] of cases) expect(roundHalfEven(value!) + 0, String(value)).toBe(expected);
  for (let i = 0; i < 200; i++) {
    const value = (i - 100) / 7;
    expect(roundHalfEven(value) + 0).toBe(roundEven(value) + 0);
  }
});

describe('q4: MatMulNBits packing', () => {
  test('block size: the requested one, halved until it divides K rounded up to 16 (WebGPU cannot pad a block); K < 16 stays float32', () => {
    expect(q4Layout(8, 768, 32)).toEqual({ rows: 8, columns: 768, paddedColumns: 768, blockSize: 32, blocks: 24, zeroPoints: true });
    expect(q4Layout(8, 48, 32)).toEqual({ rows: 8, columns: 48, paddedColumns: 48, blockSize: 16, blocks: 3, zeroPoints: true });
    expect(q4Layout(8, 192, 128)).toEqual({ rows: 8, columns: 192, paddedColumns: 192, blockSize: 64, blocks: 3, zeroPoints: true });
    // zero-point bytes N·⌈blocks/2⌉ must be a multiple of 4 (WebGPU reads them as 32-bit words), else symmetric
    expect(q4Layout(10, 64, 32)).toEqual({ rows: 10, columns: 64, paddedColumns: 64, blockSize: 32, blocks: 2, zeroPoints: false });
    expect(q4Layout(10, 128, 32)).toEqual({ rows: 10, columns: 128, paddedColumns: 128, blockSize: 32, blocks: 4, zeroPoints: true });
    expect(q4Layout(1000, 768, 32)!.zeroPoints).toBe(true);
    // FDViT's widths: padded with zero columns to a multiple of 16
    expect(q4Layout(8, 92, 32)).toEqual({ rows: 8, columns: 92, paddedColumns: 96, blockSize: 32, blocks: 3, zeroPoints: true });
    expect(q4Layout(8, 204, 32)).toEqual({ rows: 8, columns: 204, paddedColumns: 208, blockSize: 16, blocks: 13, zeroPoints: true });
    expect(q4Layout(8, 4, 16)).toBeNull();
    expect(q4Layout(8, 15, 32)).toBeNull();
  });

  test('the written B, scales and zero points, read as the operator docs describe them, dequantize to within half a step of every weight', () => {
    // asymmetric blocks of 16, 32 and 64, symmetric ones (10 outputs × 1 zero-point byte), padded K (92, 21)
    for (const [n, k, requested] of [[5, 48, 32], [4, 96, 32], [4, 256, 64], [2, 160, 32], [10, 64, 32], [3, 32, 32], [4, 92, 32], [10, 21, 32]] as const) {
      const { weight, bytes } = linearGraph(k, n, 'q4', { q4BlockSize: requested });
      const model = decode(bytes);
      const node = model.nodes.find((candidate) => candidate.opType === 'MatMulNBits')!;
      const attribute = (name: string) => node.attributes[name] as number;
      const blockSize = attribute('block_size');
      const layout = q4Layout(n, k, requested)!;
      expect(blockSize).toBe(layout.blockSize);
      const kernelK = layout.paddedColumns;
      expect(kernelK % 16).toBe(0);
      expect([attribute('K'), attribute('N'), attribute('bits')]).toEqual([kernelK, n, 4]);
      const blocks = kernelK / blockSize;
      const b = initializer(model, 'fc.weight');
      expect(b.dims).toEqual([n, blocks, blockSize / 2]);
      const scales = typed.float32(initializer(model, 'fc.weight_scale').rawData);
      const zeroPointTensor = optionalInitializer(model, 'fc.weight_zero_point');
      expect(zeroPointTensor !== undefined).toBe((n * Math.ceil(blocks / 2)) % 4 === 0);
      expect(node.inputs).toHaveLength(zeroPointTensor ? 4 : 3);
      const zeroPoints = zeroPointTensor ? typed.uint8(zeroPointTensor.rawData) : null;
      expect(scales).toHaveLength(n * blocks);
      if (zeroPoints) expect(zeroPoints).toHaveLength(n * Math.ceil(blocks / 2));
      const dequantized = dequantizeMatMulNBits(typed.uint8(b.rawData), scales, zeroPoints, n, kernelK, blockSize);
      // W padded with zero columns to the kernel's K, computed here
      const padded = (column: number, index: number) => (index < k ? weight[column * k + index]! : 0);
      for (let column = 0; column < n; column++) {
        for (let index = k; index < kernelK; index++) expect(Math.abs(dequantized[column * kernelK + index]!)).toBe(0);
        for (let block = 0; block < blocks; block++) {
          // The range each block must cover, computed here in float64: [min(0, min w), max(0, max w)].
          let min = 0;
          let max = 0;
          for (let i = 0; i < blockSize; i++) {
            const w = padded(column, block * blockSize + i);
            min = Math.min(min, w);
            max = Math.max(max, w);
          }
          const scale = scales[column * blocks + block]!;
          // symmetric: the weight of largest magnitude, m, is exactly −8 steps: scale = m / −8
          expect(scale).toBeCloseTo(zeroPoints ? (max - min) / 15 : (-min >= max ? min : max) / -8, 6);
          for (let i = 0; i < blockSize; i++) {
            const w = padded(column, block * blockSize + i);
            // a symmetric block reaches only +7 steps on the side opposite m: one step there
            const clipped = !zeroPoints && w / scale > 7.5;
            expect(Math.abs(dequantized[column * kernelK + block * blockSize + i]! - w)).toBeLessThanOrEqual(Math.abs(scale) * (clipped ? 1 : 0.5) + 1e-6);
          }
        }
      }
    }
  });

  test('the exported quantizer is the one written into the graph (memoised parameters, produced while writing)', () => {
    const [n, k] = [8, 64];
    const { weight, bytes } = linearGraph(k, n, 'q4');
    const layout = q4Layout(n, k, 32)!;
    expect(layout.zeroPoints).toBe(true);
    const parameters = q4Parameters(weight, layout);
    const model = decode(bytes);
    expect(typed.uint8(initializer(model, 'fc.weight').rawData)).toEqual(quantizeQ4(weight, layout, parameters));
    expect(typed.float32(initializer(model, 'fc.weight_scale').rawData)).toEqual(parameters.scales);
    expect(typed.uint8(initializer(model, 'fc.weight_zero_point').rawData)).toEqual(parameters.zeroPoints);
    const symmetric = q4Layout(10, 64, 32)!;
    const { bytes: symmetricBytes } = linearGraph(64, 10, 'q4');
    expect(typed.uint8(initializer(decode(symmetricBytes), 'fc.weight').rawData)).toEqual(quantizeQ4(values(640, 7), symmetric, q4Parameters(values(640, 7), symmetric)));
    expect(model.metadata).toMatchObject({ 'vitzoo.dtype': 'q4', 'vitzoo.q4_block_size': '32' });
  });

  test('onnxruntime-node computes x · dequantized(W)ᵀ + b (float64 reference from the documented layout), padded K included', async () => {
    for (const [n, k] of [[10, 48], [12, 64], [10, 64], [6, 20], [8, 92]] as const) {
      const { weight, bias, bytes } = linearGraph(k, n, 'q4');
      const model = decode(bytes);
      const layout = q4Layout(n, k, 32)!;
      const zeroPoints = optionalInitializer(model, 'fc.weight_zero_point');
      const kernelK = layout.paddedColumns;
      const dequantizedPadded = dequantizeMatMulNBits(
        typed.uint8(initializer(model, 'fc.weight').rawData),
        typed.float32(initializer(model, 'fc.weight_scale').rawData),
        zeroPoints ? typed.uint8(zeroPoints.rawData) : null,
        n,
        kernelK,
        layout.blockSize,
      );
      // the padding columns multiply the activations' zero padding: W's own K columns are what counts
      const dequantized = new Float64Array(n * k);
      for (let column = 0; column < n; column++) for (let index = 0; index < k; index++) dequantized[column * k + index] = dequantizedPadded[column * kernelK + index]!;
      expect(model.nodes.map((node) => node.opType).includes('Concat')).toBe(kernelK !== k);
      const x = values(6 * k, 3);
      const output = await run(bytes, x, k);
      expect(maxRelativeError(output.data, linear64(x, dequantized, bias, 6, k, n))).toBeLessThan(1e-5);
      expect(maxRelativeError(dequantized, weight)).toBeLessThan(1 / 8);
    }
  });

  test('a Linear narrower than one block (K < 16) stays float32 (MatMul), and still computes x · Wᵀ + b', async () => {
    const [n, k] = [5, 12];
    const { weight, bias, bytes } = linearGraph(k, n, 'q4');
    const model = decode(bytes);
    expect(model.nodes.map((node) => node.opType)).not.toContain('MatMulNBits');
    expect(model.nodes.map((node) => node.opType)).toContain('MatMul');
    const x = values(6 * k, 5);
    expect(maxRelativeError((await run(bytes, x, k)).data, linear64(x, weight, bias, 6, k, n))).toBeLessThan(1e-6);
  });
});

describe('int8: per-output-channel symmetric weights, activations quantized at run time', () => {
  test('B [K, N] int8 with scale[n] = max |W[n, :]| / 63, every weight within half a step', () => {
    const [n, k] = [7, 40];
    const { weight, bytes } = linearGraph(k, n, 'int8');
    const model = decode(bytes);
    const b = initializer(model, 'fc.weight');
    expect(b.dims).toEqual([k, n]);
    expect(b.dataType).toBe(3); // INT8
    const q = typed.int8(b.rawData);
    const scales = typed.float32(initializer(model, 'fc.weight_scale').rawData);
    for (let column = 0; column < n; column++) {
      let max = 0;
      for (let i = 0; i < k; i++) max = Math.max(max, Math.abs(weight[column * k + i]!));
      expect(scales[column]).toBeCloseTo(max / INT8_WEIGHT_LIMIT, 7);
      let extreme = 0;
      for (let i = 0; i < k; i++) {
        const value = q[i * n + column]!;
        extreme = Math.max(extreme, Math.abs(value));
        expect(Math.abs(value * scales[column]! - weight[column * k + i]!)).toBeLessThanOrEqual(scales[column]! / 2 + 1e-7);
      }
      expect(extreme).toBe(INT8_WEIGHT_LIMIT); // the largest weight uses the whole range
    }
    expect(q).toEqual(quantizeInt8Transposed(weight, n, k, int8Scales(weight, n, k)));
  });

  test.each(INT8_KERNELS)('%s: onnxruntime-node computes the spec (x quantized to uint8 per tensor) to float rounding', async (int8Kernel) => {
    const [n, k] = [9, 48];
    const { weight, bias, bytes } = linearGraph(k, n, 'int8', { int8Kernel });
    const model = decode(bytes);
    expect(model.nodes.map((node) => node.opType)).toContain(int8Kernel);
    const q = typed.int8(initializer(model, 'fc.weight').rawData);
    const scales = typed.float32(initializer(model, 'fc.weight_scale').rawData);
    const x = values(6 * k, 9);
    // Σ (x_q − zero point) · B[t, n] · x_scale · scale[n] + b[n], in float64
    const quantized = dynamicQuantizeReference(x);
    const expected = quantizedMatMulReference(quantized.values, quantized.zeroPoint, quantized.scale, q, [0], scales, 6, k, n, bias);
    const output = (await run(bytes, x, k)).data as Float32Array;
    expect(maxRelativeError(output, expected)).toBeLessThan(1e-5);
    expect(maxRelativeError(output, linear64(x, weight, bias, 6, k, n))).toBeLessThan(0.05);
  });
});

describe('fp16: half-precision storage, float32 compute', () => {
  test('matrices are stored as float16 and cast back; vectors (the bias) stay float32', async () => {
    const [n, k] = [6, 24];
    const { weight, bias, bytes } = linearGraph(k, n, 'fp16');
    const model = decode(bytes);
    const stored = initializer(model, 'fc.weight');
    expect(stored.dataType).toBe(10); // FLOAT16
    expect(stored.dims).toEqual([k, n]);
    expect(initializer(model, 'fc.bias').dataType).toBe(1);
    const half = typed.uint16(stored.rawData);
    const rounded = new Float64Array(n * k);
    for (let j = 0; j < n; j++) {
      for (let t = 0; t < k; t++) {
        expect(half[t * n + j]).toBe(float32ToFloat16(weight[j * k + t]!));
        rounded[j * k + t] = float16ToFloat32(half[t * n + j]!);
      }
    }
    const x = values(6 * k, 13);
    expect(maxRelativeError((await run(bytes, x, k)).data as Float32Array, linear64(x, rounded, bias, 6, k, n))).toBeLessThan(1e-6);
  });
});

test('quantized weights are produced while the graph is written, from the checkpoint tensor (no copy held by the built graph)', () => {
  for (const dtype of ['fp16', 'int8', 'q4'] as const) {
    const weight = values(8 * 64, 17);
    const stateDict: StateDict = { 'fc.weight': createTensor('float32', [8, 64], weight) };
    const layers = new GraphLayers(stateDict, { architecture: 'test', dtype });
    layers.produce('logits', layers.linear(layers.g.input('pixel_values', 'float32', [1, 64]), 'fc'), [1, 8]);
    const graph = layers.finish();
    // Changing the checkpoint after building changes what is written: nothing was quantized yet.
    weight.fill(0.25);
    const stored = initializer(decode(graphBytes(graph)), 'fc.weight');
    const expected = { fp16: [float32ToFloat16(0.25)], int8: [INT8_WEIGHT_LIMIT], q4: [0xff] }[dtype];
    const written = dtype === 'fp16' ? typed.uint16(stored.rawData) : dtype === 'int8' ? typed.int8(stored.rawData) : typed.uint8(stored.rawData);
    expect(new Set(written), dtype).toEqual(new Set(expected));
  }
});

test('every dtype is written in the graph metadata and on the built graph', () => {
  for (const dtype of ['fp32', 'fp16', 'int8', 'q4'] as const) {
    const { graph, bytes } = linearGraph(32, 4, dtype);
    expect(graph.dtype).toBe(dtype);
    expect(decode(bytes).metadata['vitzoo.dtype']).toBe(dtype);
  }
});
