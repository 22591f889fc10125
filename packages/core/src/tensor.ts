import { InvalidArgumentError } from './errors.js';

/** Element types, named as onnxruntime-common names them. */
export type DataType =
  | 'float32'
  | 'float16'
  | 'bfloat16'
  | 'float64'
  | 'int8'
  | 'uint8'
  | 'int16'
  | 'uint16'
  | 'int32'
  | 'uint32'
  | 'int64'
  | 'uint64'
  | 'bool';

export interface TensorDataMap {
  float32: Float32Array;
  /** IEEE half floats as raw 16-bit patterns. */
  float16: Uint16Array;
  /** bfloat16 as raw 16-bit patterns. */
  bfloat16: Uint16Array;
  float64: Float64Array;
  int8: Int8Array;
  uint8: Uint8Array;
  int16: Int16Array;
  uint16: Uint16Array;
  int32: Int32Array;
  uint32: Uint32Array;
  int64: BigInt64Array;
  uint64: BigUint64Array;
  bool: Uint8Array;
}

export type TensorData = TensorDataMap[DataType];

/** A dense, row-major (C order) tensor. */
export interface Tensor<T extends DataType = DataType> {
  readonly dtype: T;
  readonly shape: readonly number[];
  readonly data: TensorDataMap[T];
}

export const bytesPerElement: Record<DataType, number> = {
  float32: 4,
  float16: 2,
  bfloat16: 2,
  float64: 8,
  int8: 1,
  uint8: 1,
  int16: 2,
  uint16: 2,
  int32: 4,
  uint32: 4,
  int64: 8,
  uint64: 8,
  bool: 1,
};

type TypedArrayConstructor = {
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): TensorData;
  new (length: number): TensorData;
  BYTES_PER_ELEMENT: number;
};

const arrayConstructors: Record<DataType, TypedArrayConstructor> = {
  float32: Float32Array as unknown as TypedArrayConstructor,
  float16: Uint16Array as unknown as TypedArrayConstructor,
  bfloat16: Uint16Array as unknown as TypedArrayConstructor,
  float64: Float64Array as unknown as TypedArrayConstructor,
  int8: Int8Array as unknown as TypedArrayConstructor,
  uint8: Uint8Array as unknown as TypedArrayConstructor,
  int16: Int16Array as unknown as TypedArrayConstructor,
  uint16: Uint16Array as unknown as TypedArrayConstructor,
  int32: Int32Array as unknown as TypedArrayConstructor,
  uint32: Uint32Array as unknown as TypedArrayConstructor,
  int64: BigInt64Array as unknown as TypedArrayConstructor,
  uint64: BigUint64Array as unknown as TypedArrayConstructor,
  bool: Uint8Array as unknown as TypedArrayConstructor,
};

export function elementCount(shape: readonly number[]): number {
  let count = 1;
  for (const dim of shape) count *= dim;
  return count;
}

function checkShape(shape: readonly number[]): void {
  for (const dim of shape) {
    if (!Number.isSafeInteger(dim) || dim < 0) {
      throw new InvalidArgumentError('shape', `Tensor shape [${shape.join(', ')}] must hold non-negative integers.`);
    }
  }
}

/** Creates a tensor, checking that the data length matches the shape. */
export function createTensor<T extends DataType>(dtype: T, shape: readonly number[], data?: TensorDataMap[T]): Tensor<T> {
  checkShape(shape);
  const count = elementCount(shape);
  const values = data ?? (new arrayConstructors[dtype](count) as TensorDataMap[T]);
  if (values.length !== count) {
    throw new InvalidArgumentError(
      'data',
      `Tensor of shape [${shape.join(', ')}] needs ${count} elements, got ${values.length}.`,
    );
  }
  return { dtype, shape: [...shape], data: values };
}

/**
 * A typed-array view of `byteLength` bytes at `byteOffset` of `bytes`, as `dtype`. Zero-copy when
 * the offset is aligned to the element size; otherwise the bytes are copied into a fresh array.
 * (Multi-byte values are read in the platform's byte order, little-endian everywhere we run.)
 */
export function typedView<T extends DataType>(
  dtype: T,
  bytes: Uint8Array,
  byteOffset: number,
  byteLength: number,
): TensorDataMap[T] {
  const ctor = arrayConstructors[dtype];
  const size = ctor.BYTES_PER_ELEMENT;
  const absolute = bytes.byteOffset + byteOffset;
  const length = byteLength / size;
  if (absolute % size === 0) return new ctor(bytes.buffer, absolute, length) as TensorDataMap[T];
  const copy = new Uint8Array(byteLength);
  copy.set(bytes.subarray(byteOffset, byteOffset + byteLength));
  return new ctor(copy.buffer, 0, length) as TensorDataMap[T];
}

/** The raw little-endian bytes of a tensor's data (a view, not a copy). */
export function tensorBytes(tensor: Tensor): Uint8Array {
  const data = tensor.data;
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

const conversionView = new DataView(new ArrayBuffer(4));

/** IEEE 754 half → single precision. */
export function float16ToFloat32(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction === 0 ? sign * Infinity : Number.NaN;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** Single → IEEE 754 half precision, round to nearest even (as numpy and torch do). */
export function float32ToFloat16(value: number): number {
  conversionView.setFloat32(0, value);
  return float32BitsToFloat16(conversionView.getUint32(0));
}

/** `float32ToFloat16` of a float32 given by its bit pattern (read many at once through a Uint32Array view). */
export function float32BitsToFloat16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exponent = (x >>> 23) & 0xff;
  let mantissa = x & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00 | (mantissa !== 0 ? 0x200 : 0);
  const halfExponent = exponent - 127 + 15;
  if (halfExponent >= 0x1f) return sign | 0x7c00;
  if (halfExponent <= 0) {
    if (halfExponent < -10) return sign;
    mantissa |= 0x800000;
    const shift = 14 - halfExponent;
    const half = mantissa >> shift;
    const remainder = mantissa & ((1 << shift) - 1);
    const midpoint = 1 << (shift - 1);
    const rounded = remainder > midpoint || (remainder === midpoint && (half & 1) === 1) ? half + 1 : half;
    return sign | rounded;
  }
  const half = (halfExponent << 10) | (mantissa >> 13);
  const remainder = mantissa & 0x1fff;
  const rounded = remainder > 0x1000 || (remainder === 0x1000 && (half & 1) === 1) ? half + 1 : half;
  return sign | rounded;
}

export function bfloat16ToFloat32(bits: number): number {
  conversionView.setUint32(0, bits << 16);
  return conversionView.getFloat32(0);
}

/** Returns the tensor as float32 (the same object when it already is). */
export function toFloat32(tensor: Tensor): Tensor<'float32'> {
  if (tensor.dtype === 'float32') return tensor as Tensor<'float32'>;
  const count = elementCount(tensor.shape);
  const out = new Float32Array(count);
  const data = tensor.data;
  switch (tensor.dtype) {
    case 'float16':
      for (let i = 0; i < count; i++) out[i] = float16ToFloat32((data as Uint16Array)[i]!);
      break;
    case 'bfloat16':
      for (let i = 0; i < count; i++) out[i] = bfloat16ToFloat32((data as Uint16Array)[i]!);
      break;
    case 'int64':
    case 'uint64':
      for (let i = 0; i < count; i++) out[i] = Number((data as BigInt64Array)[i]!);
      break;
    default:
      for (let i = 0; i < count; i++) out[i] = (data as Float64Array)[i]!;
  }
  return { dtype: 'float32', shape: tensor.shape, data: out };
}

export function shapesEqual(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((dim, i) => dim === b[i]);
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

/**
 * Largest absolute element-wise difference between two same-shaped numeric tensors; NaN when
 * either holds a NaN where the other does not agree (a NaN is never "close").
 */
export function maxAbsDifference(a: Tensor, b: Tensor): number {
  if (!shapesEqual(a.shape, b.shape)) {
    throw new InvalidArgumentError(
      'shape',
      `Cannot compare tensors of shapes ${formatShape(a.shape)} and ${formatShape(b.shape)}.`,
    );
  }
  const x = toFloat32(a).data;
  const y = toFloat32(b).data;
  let max = 0;
  for (let i = 0; i < x.length; i++) {
    const diff = Math.abs(x[i]! - y[i]!);
    if (Number.isNaN(diff)) return Number.NaN;
    if (diff > max) max = diff;
  }
  return max;
}

/** Counts of NaN and ±Inf values in a float tensor, and the first index of one; undefined when all are finite. */
export function nonFiniteCount(tensor: Tensor): { nan: number; infinite: number; first: number } | undefined {
  if (tensor.dtype !== 'float32' && tensor.dtype !== 'float64' && tensor.dtype !== 'float16' && tensor.dtype !== 'bfloat16') return undefined;
  const values = tensor.dtype === 'float32' || tensor.dtype === 'float64' ? (tensor.data as Float32Array | Float64Array) : toFloat32(tensor).data;
  let nan = 0;
  let infinite = 0;
  let first = -1;
  for (let i = 0; i < values.length; i++) {
    const value = values[i]!;
    if (value - value !== 0) {
      if (Number.isNaN(value)) nan++;
      else infinite++;
      if (first < 0) first = i;
    }
  }
  return first < 0 ? undefined : { nan, infinite, first };
}

/** Rows `start .. start + count` of a `[N, …]` tensor (a view, no copy); out of range is an InvalidArgumentError. */
export function sliceRows<T extends DataType>(tensor: Tensor<T>, start: number, count: number): Tensor<T> {
  const rows = tensor.shape[0] ?? 0;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(count) || start < 0 || count < 0 || start + count > rows) {
    throw new InvalidArgumentError('rows', `Cannot take rows ${start}..${start + count} of ${rows}.`);
  }
  const perRow = rows === 0 ? 0 : tensor.data.length / rows;
  return {
    dtype: tensor.dtype,
    shape: [count, ...tensor.shape.slice(1)],
    data: tensor.data.subarray(start * perRow, (start + count) * perRow) as TensorDataMap[T],
  };
}

/** Rows of a [rows, …] tensor as [rows, columns] with columns = the rest (a check for comparisons). */
function rowsOf(tensor: Tensor): { rows: number; columns: number; data: Float32Array } {
  const rows = tensor.shape[0];
  if (rows === undefined || tensor.shape.length < 2) throw new InvalidArgumentError('shape', `Expected a [rows, …] tensor, got ${formatShape(tensor.shape)}.`);
  const data = toFloat32(tensor).data;
  return { rows, columns: rows === 0 ? 0 : data.length / rows, data };
}

/** The index of the largest value of each row of a [rows, …] tensor (the first of ties; NaN never wins). */
export function argmaxRows(tensor: Tensor): number[] {
  const { rows, columns, data } = rowsOf(tensor);
  const out: number[] = [];
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < columns; c++) if (data[r * columns + c]! > data[r * columns + best]! || Number.isNaN(data[r * columns + best]!)) best = c;
    out.push(best);
  }
  return out;
}

/** How many rows of `actual` have the top-1 class (argmax) of the same row of `expected`. */
export function topOneAgreement(actual: Tensor, expected: Tensor): { equal: number; total: number } {
  const a = argmaxRows(actual);
  const b = argmaxRows(expected);
  if (a.length !== b.length) throw new InvalidArgumentError('shape', `Cannot compare ${a.length} rows with ${b.length}.`);
  return { equal: a.filter((index, row) => index === b[row]).length, total: b.length };
}

/** The cosine similarity of each row of two same-shaped [rows, …] tensors, in float64 (1 for two zero rows, 0 for one). */
export function rowCosines(a: Tensor, b: Tensor): number[] {
  if (!shapesEqual(a.shape, b.shape)) {
    throw new InvalidArgumentError('shape', `Cannot compare tensors of shapes ${formatShape(a.shape)} and ${formatShape(b.shape)}.`);
  }
  const x = rowsOf(a);
  const y = toFloat32(b).data;
  const out: number[] = [];
  for (let r = 0; r < x.rows; r++) {
    let dot = 0;
    let xx = 0;
    let yy = 0;
    for (let c = r * x.columns; c < (r + 1) * x.columns; c++) {
      dot += x.data[c]! * y[c]!;
      xx += x.data[c]! ** 2;
      yy += y[c]! ** 2;
    }
    out.push(xx === 0 && yy === 0 ? 1 : xx === 0 || yy === 0 ? 0 : dot / Math.sqrt(xx * yy));
  }
  return out;
}
