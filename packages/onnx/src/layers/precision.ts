import { InvalidArgumentError, roundHalfEven, toFloat32, type Dtype } from '@vitzoo/core';
import type { Value } from '../builder.js';
import type { GraphLayers } from './graph-layers.js';

/** A Linear weight [out, in] of the checkpoint: its sizes and its float32 values on demand. */
export interface LinearWeights {
  /** Output features (rows of the PyTorch weight). */
  rows: number;
  /** Input features (columns of the PyTorch weight). */
  columns: number;
  values(): Float32Array;
}

export function linearWeights(layers: GraphLayers, key: string): LinearWeights {
  const tensor = layers.tensor(key);
  if (tensor.shape.length !== 2) throw new InvalidArgumentError(key, `A Linear weight must be [out, in], got [${tensor.shape.join(', ')}].`);
  const [rows, columns] = tensor.shape as [number, number];
  return { rows, columns, values: () => toFloat32(tensor).data };
}

const MICROSOFT = 'com.microsoft';


// ---- int8 ------------------------------------------------------------------------------------

/**
 * The three ways ONNX Runtime computes a float Linear with int8 weights and activations quantized
 * at run time (per tensor, to uint8):
 * - `DynamicQuantizeMatMul` (com.microsoft): one node, the bias included;
 * - `MatMulIntegerToFloat` (com.microsoft) after `DynamicQuantizeLinear` (ONNX Runtime's CPU
 *   provider fuses the pair into DynamicQuantizeMatMul when it loads the model);
 * - `DynamicQuantizeLinear` → `MatMulInteger` → `Cast` → `Mul` by the scales → `Add` the bias (ai.onnx only).
 * `pnpm bench` measures all three; graphs use INT8_KERNEL, the fastest (see the README's speed table).
 */
export type Int8Kernel = 'DynamicQuantizeMatMul' | 'MatMulIntegerToFloat' | 'MatMulInteger';
export const INT8_KERNELS: readonly Int8Kernel[] = ['DynamicQuantizeMatMul', 'MatMulIntegerToFloat', 'MatMulInteger'];
export const INT8_KERNEL: Int8Kernel = 'DynamicQuantizeMatMul';

/**
 * Largest int8 weight magnitude. 127 would use the full int8 range, but on x86 CPUs with AVX2 and
 * without VNNI, ONNX Runtime's u8×s8 kernels add two uint8·int8 products in a saturating 16-bit lane
 * (`vpmaddubsw`): 2·255·127 overflows it, 2·255·63 cannot. Weights are quantized to ±63 so the same
 * graph gives the same numbers on every CPU (the accuracy this costs is measured in the README).
 */
export const INT8_WEIGHT_LIMIT = 63;

/**
 * Per-output-channel symmetric int8 scales of a Linear weight [rows, columns]:
 * scale[r] = max |W[r, :]| / INT8_WEIGHT_LIMIT (1 for an all-zero row).
 */
export function int8Scales(values: Float32Array, rows: number, columns: number): Float32Array {
  const scales = new Float32Array(rows);
  for (let r = 0; r < rows; r++) {
    let max = 0;
    const offset = r * columns;
    for (let c = 0; c < columns; c++) {
      const magnitude = Math.abs(values[offset + c]!);
      if (magnitude > max) max = magnitude;
    }
    scales[r] = max === 0 ? 1 : max / INT8_WEIGHT_LIMIT;
  }
  return scales;
}

/**
 * A Linear weight [rows, columns] quantized with `scales` (one per row) and transposed to the
 * kernels' B layout [columns, rows]: B[c, r] = round(W[r, c] / scale[r]), half to even.
 */
export function quantizeInt8Transposed(values: Float32Array, rows: number, columns: number, scales: Float32Array): Int8Array {
  const out = new Int8Array(rows * columns);
  const block = 32;
  for (let r0 = 0; r0 < rows; r0 += block) {
    const r1 = Math.min(r0 + block, rows);
    for (let c0 = 0; c0 < columns; c0 += block) {
      const c1 = Math.min(c0 + block, columns);
      for (let r = r0; r < r1; r++) {
        const scale = scales[r]!;
        const offset = r * columns;
        for (let c = c0; c < c1; c++) {
          // roundHalfEven, inlined (this loop runs once per weight)
          const value = values[offset + c]! / scale;
          let q = Math.round(value);
          if (q - value === 0.5 && (q & 1) !== 0) q--;
          out[c * rows + r] = q > INT8_WEIGHT_LIMIT ? INT8_WEIGHT_LIMIT : q < -INT8_WEIGHT_LIMIT ? -INT8_WEIGHT_LIMIT : q;
        }
      }
    }
  }
  return out;
}

function int8MatMul(layers: GraphLayers, x: Value, key: string, bias: Value | null): Value {
  const { g } = layers;
  const { rows, columns, values } = linearWeights(layers, key);
  let scales: Float32Array | undefined;
  const rowScales = () => (scales ??= int8Scales(values(), rows, columns));
  // Written in this order, each produced while the model is written: the int8 weight under the
  // checkpoint key, then its per-column scales (B is [in, out], so a column is an output channel).
  const weight = g.derivedWeight(key, 'int8', [columns, rows], () => quantizeInt8Transposed(values(), rows, columns, rowScales()));
  const scale = g.derivedWeight(`${key}_scale`, 'float32', [rows], rowScales);
  switch (layers.int8Kernel) {
    case 'DynamicQuantizeMatMul': {
      const inputs: (Value | null)[] = [x, weight, scale];
      if (bias) inputs.push(null, bias); // no zero point: symmetric weights
      return g.op('DynamicQuantizeMatMul', inputs, {}, { domain: MICROSOFT });
    }
    case 'MatMulIntegerToFloat': {
      const [quantized, xScale, xZeroPoint] = g.opMulti('DynamicQuantizeLinear', [x], {}, { outputs: 3 }) as [Value, Value, Value];
      const inputs: (Value | null)[] = [quantized, weight, xScale, scale, xZeroPoint];
      if (bias) inputs.push(null, bias);
      return g.op('MatMulIntegerToFloat', inputs, {}, { domain: MICROSOFT });
    }
    case 'MatMulInteger': {
      const [quantized, xScale, xZeroPoint] = g.opMulti('DynamicQuantizeLinear', [x], {}, { outputs: 3 }) as [Value, Value, Value];
      const integer = g.op('MatMulInteger', [quantized, weight, xZeroPoint]);
      const product = g.mul(g.op('Cast', [integer], { to: 1 }), g.mul(xScale, scale));
      return bias ? g.add(product, bias) : product;
    }
  }
}

// ---- q4 --------------------------------------------------------------------------------------

/** Where a Linear's 4-bit weights go: MatMulNBits' B [N, blocks, blockSize / 2] (see quantizeQ4). */
export interface Q4Layout {
  /** Output features N (rows of the PyTorch weight). */
  rows: number;
  /** Input features K (columns of the PyTorch weight). */
  columns: number;
  /**
   * The kernel's K: `columns` rounded up to a multiple of 16. Where they differ, the weight is
   * padded with zero columns and the activations with zeros (WebGPU's MatMulNBits gives wrong
   * numbers for a padded last block, KERNELS.md rule 6, so the padding is explicit).
   */
  paddedColumns: number;
  blockSize: number;
  /** Blocks per output feature: paddedColumns / blockSize. */
  blocks: number;
  /**
   * Whether the blocks are asymmetric, with a zero point each (packed two per byte, N·⌈blocks/2⌉
   * bytes). WebGPU's MatMulNBits reads the zero points as 32-bit words and fails ("cannot convert
   * shape") unless their byte count is a multiple of 4 (a 10-class head with 2 blocks has 10): such
   * a Linear gets symmetric blocks and the kernel's default zero point, 8.
   */
  zeroPoints: boolean;
}

/** Smallest block MatMulNBits takes. */
const MIN_Q4_BLOCK_SIZE = 16;

/** The zero point MatMulNBits uses when none is given (2^(bits−1)). */
export const Q4_DEFAULT_ZERO_POINT = 8;

/**
 * The layout of a Linear [rows, columns] in a q4 graph: K rounded up to a multiple of 16, then the
 * requested block size halved (down to 16) until it divides that (WebGPU runs blocks of 16 and 32
 * and no padded last block). Null for a Linear narrower than one block (K < 16, e.g. CaiT's
 * talking-heads projections over 4 heads): padding would cost more than it saves, so it stays float32.
 */
export function q4Layout(rows: number, columns: number, requestedBlockSize: number): Q4Layout | null {
  if (columns < MIN_Q4_BLOCK_SIZE) return null;
  const paddedColumns = Math.ceil(columns / MIN_Q4_BLOCK_SIZE) * MIN_Q4_BLOCK_SIZE;
  let blockSize = requestedBlockSize;
  while (paddedColumns % blockSize !== 0) blockSize /= 2;
  const blocks = paddedColumns / blockSize;
  return { rows, columns, paddedColumns, blockSize, blocks, zeroPoints: (rows * Math.ceil(blocks / 2)) % 4 === 0 };
}

/** Per-block quantization parameters of a q4 weight: `scales` [N·blocks] and, for asymmetric layouts, packed `zeroPoints` [N·⌈blocks/2⌉]. */
export interface Q4Parameters {
  scales: Float32Array;
  zeroPoints: Uint8Array | null;
}

/**
 * 4-bit parameters per block of `blockSize` weights along K (as ONNX Runtime's
 * MatMul4BitsQuantizer / MlasQuantizeBlockwise), padding columns counting as zeros:
 * - asymmetric (`layout.zeroPoints`): the range [min(0, min w), max(0, max w)] is mapped onto
 *   0…15: scale = (max − min) / 15, zero point = round(−min / scale); zero points packed two per
 *   byte, the even block in the low nibble, each output feature starting a new byte;
 * - symmetric: scale = m / −8 for the weight m of largest magnitude (m is then exactly q = 0),
 *   zero point 8 (not stored).
 * Either way 0 is exactly representable, so padding dequantizes to 0.
 */
export function q4Parameters(values: Float32Array, layout: Q4Layout): Q4Parameters {
  const { rows, columns, blockSize, blocks } = layout;
  const scales = new Float32Array(rows * blocks);
  const zeroPointBytes = Math.ceil(blocks / 2);
  const zeroPoints = layout.zeroPoints ? new Uint8Array(rows * zeroPointBytes) : null;
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < blocks; b++) {
      let min = 0;
      let max = 0;
      const start = r * columns + b * blockSize;
      const valid = Math.min(blockSize, columns - b * blockSize);
      for (let i = 0; i < valid; i++) {
        const w = values[start + i]!;
        if (w < min) min = w;
        if (w > max) max = w;
      }
      if (zeroPoints) {
        const scale = Math.fround((max - min) / 15);
        const zeroPoint = scale === 0 ? 0 : Math.min(15, Math.max(0, roundHalfEven(-min / scale)));
        scales[r * blocks + b] = scale;
        zeroPoints[r * zeroPointBytes + (b >> 1)]! |= b % 2 === 0 ? zeroPoint : zeroPoint << 4;
      } else {
        scales[r * blocks + b] = Math.fround((-min >= max ? min : max) / -Q4_DEFAULT_ZERO_POINT);
      }
    }
  }
  return { scales, zeroPoints };
}

/** The zero point of block `block` of output feature `row` (8 for symmetric layouts). */
export function q4ZeroPoint(parameters: Q4Parameters, layout: Q4Layout, row: number, block: number): number {
  if (!parameters.zeroPoints) return Q4_DEFAULT_ZERO_POINT;
  const byte = parameters.zeroPoints[row * Math.ceil(layout.blocks / 2) + (block >> 1)]!;
  return block % 2 === 0 ? byte & 0x0f : byte >> 4;
}

/**
 * MatMulNBits' B: for output feature n and block b, blockSize / 2 bytes holding the 4-bit values
 * q = clamp(round(w / scale) + zero point, 0, 15) of W[n, b·blockSize …] (padding columns: the
 * zero point), two per byte, the even one in the low nibble. Dequantized: (q − zero point) · scale.
 */
export function quantizeQ4(values: Float32Array, layout: Q4Layout, parameters: Q4Parameters): Uint8Array {
  const { rows, columns, blockSize, blocks } = layout;
  const blob = blockSize / 2;
  const out = new Uint8Array(rows * blocks * blob);
  for (let r = 0; r < rows; r++) {
    for (let b = 0; b < blocks; b++) {
      const scale = parameters.scales[r * blocks + b]!;
      const zeroPoint = q4ZeroPoint(parameters, layout, r, b);
      const start = r * columns + b * blockSize;
      const target = (r * blocks + b) * blob;
      const valid = Math.min(blockSize, columns - b * blockSize);
      if (scale === 0 || valid < blockSize) out.fill(zeroPoint | (zeroPoint << 4), target, target + blob);
      if (scale === 0) continue;
      for (let i = 0; i + 1 < valid; i += 2) {
        // roundHalfEven, inlined (this loop runs once per pair of weights)
        const low = values[start + i]! / scale;
        let qLow = Math.round(low);
        if (qLow - low === 0.5 && (qLow & 1) !== 0) qLow--;
        qLow += zeroPoint;
        const high = values[start + i + 1]! / scale;
        let qHigh = Math.round(high);
        if (qHigh - high === 0.5 && (qHigh & 1) !== 0) qHigh--;
        qHigh += zeroPoint;
        out[target + (i >> 1)] = (qLow < 0 ? 0 : qLow > 15 ? 15 : qLow) | ((qHigh < 0 ? 0 : qHigh > 15 ? 15 : qHigh) << 4);
      }
      if (valid % 2 === 1) {
        // an odd last weight before the padding: its high nibble is a padding zero
        const q = Math.min(15, Math.max(0, roundHalfEven(values[start + valid - 1]! / scale) + zeroPoint));
        out[target + ((valid - 1) >> 1)] = q | (zeroPoint << 4);
      }
    }
  }
  return out;
}

/** `x` [..., columns] with `padding` zeros appended on the last axis (any rank; Expand and Concat run on every provider). */
function padLastAxis(layers: GraphLayers, x: Value, padding: number): Value {
  const { g } = layers;
  const leading = g.slice(g.shape(x), [0], [-1], [0]);
  const zeros = g.op('Expand', [g.constant('float32', [1], Float32Array.of(0), 'zero'), g.concat([leading, g.ints([padding], 'padding')], 0)]);
  return g.concat([x, zeros], -1);
}

function q4MatMul(layers: GraphLayers, x: Value, key: string, bias: Value | null): Value | null {
  const { g } = layers;
  const { rows, columns, values } = linearWeights(layers, key);
  const layout = q4Layout(rows, columns, layers.q4BlockSize);
  if (!layout) return null;
  // The parameters are computed once for the initializers, written in this order, and let go
  // after the last one (computed again if the model is written again).
  let memo: Q4Parameters | undefined;
  const parameters = () => (memo ??= q4Parameters(values(), layout));
  const release = <T>(value: T): T => {
    memo = undefined;
    return value;
  };
  const weight = g.derivedWeight(key, 'uint8', [rows, layout.blocks, layout.blockSize / 2], () => quantizeQ4(values(), layout, parameters()));
  const scales = g.derivedWeight(`${key}_scale`, 'float32', [rows * layout.blocks], () => (layout.zeroPoints ? parameters().scales : release(parameters().scales)));
  const input = layout.paddedColumns === columns ? x : padLastAxis(layers, x, layout.paddedColumns - columns);
  const inputs = [input, weight, scales];
  if (layout.zeroPoints) inputs.push(g.derivedWeight(`${key}_zero_point`, 'uint8', [rows * Math.ceil(layout.blocks / 2)], () => release(parameters().zeroPoints!)));
  // No bias input: WebGPU's MatMulNBits refuses it (KERNELS.md, rule 6).
  const product = g.op('MatMulNBits', inputs, { K: layout.paddedColumns, N: rows, bits: 4, block_size: layout.blockSize }, { domain: MICROSOFT });
  return bias ? g.add(product, bias) : product;
}

/**
 * x · Wᵀ (+ bias) with a quantized weight: the kernels for `int8` and `q4` graphs (one place for
 * every architecture's Linear layers). Returns null when this Linear is not quantized (q4 with
 * K < 16): the caller keeps it float32.
 */
export function quantizedMatMul(layers: GraphLayers, x: Value, key: string, bias: Value | null, dtype: Extract<Dtype, 'int8' | 'q4'>): Value | null {
  return dtype === 'int8' ? int8MatMul(layers, x, key, bias) : q4MatMul(layers, x, key, bias);
}
