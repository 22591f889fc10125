import { describe, expect, test } from 'vitest';
import { InvalidSafetensorsError } from './errors.js';
import { MAX_SAFETENSORS_HEADER_BYTES, parseSafetensors, parseSafetensorsHeader, safetensorsHeaderLength, safetensorsLayout, serializeSafetensors, tensorInfos } from './safetensors.js';
import { createTensor, float16ToFloat32, float32ToFloat16, bfloat16ToFloat32, toFloat32, type Tensor } from './tensor.js';

function fileWithHeader(header: unknown, data: Uint8Array = new Uint8Array()): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.byteLength + data.byteLength);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  out.set(data, 8 + json.byteLength);
  return out;
}

function expectInvalid(bytes: Uint8Array, pattern: RegExp): void {
  let error: unknown;
  try {
    parseSafetensors(bytes, { source: 'test.safetensors' });
  } catch (caught) {
    error = caught;
  }
  expect(InvalidSafetensorsError.isInstance(error)).toBe(true);
  expect((error as Error).message).toMatch(/test\.safetensors/);
  expect((error as Error).message).toMatch(pattern);
}

describe('safetensors', () => {
  test('round-trips every dtype with metadata, names sorted, header padded to 8 bytes', () => {
    const tensors: Record<string, Tensor> = {
      f32: createTensor('float32', [2, 3], Float32Array.of(1, -2, 3.5, 0, 1e-8, -0)),
      f16: createTensor('float16', [2], Uint16Array.of(0x3c00, 0xc000)),
      bf16: createTensor('bfloat16', [1], Uint16Array.of(0x3f80)),
      f64: createTensor('float64', [1], Float64Array.of(Math.PI)),
      i8: createTensor('int8', [2], Int8Array.of(-128, 127)),
      u8: createTensor('uint8', [3], Uint8Array.of(0, 128, 255)),
      i16: createTensor('int16', [1], Int16Array.of(-300)),
      u16: createTensor('uint16', [1], Uint16Array.of(65535)),
      i32: createTensor('int32', [1], Int32Array.of(-70000)),
      u32: createTensor('uint32', [1], Uint32Array.of(4000000000)),
      i64: createTensor('int64', [2], BigInt64Array.of(-(2n ** 40n), 7n)),
      u64: createTensor('uint64', [1], BigUint64Array.of(2n ** 63n)),
      bool: createTensor('bool', [2], Uint8Array.of(1, 0)),
      empty: createTensor('float32', [0, 4]),
      scalar: createTensor('float32', [], Float32Array.of(42)),
    };
    const bytes = serializeSafetensors(tensors, { format: 'pt' });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
    expect(Object.keys(header).filter((k) => k !== '__metadata__')).toEqual(Object.keys(tensors).sort());
    expect(header.f16.dtype).toBe('F16');
    expect(header.bf16.dtype).toBe('BF16');
    const parsed = parseSafetensors(bytes);
    expect(parsed.metadata).toEqual({ format: 'pt' });
    for (const [name, tensor] of Object.entries(tensors)) {
      expect(parsed.tensors[name]!.dtype).toBe(tensor.dtype);
      expect(parsed.tensors[name]!.shape).toEqual(tensor.shape);
      expect(Array.from(parsed.tensors[name]!.data as ArrayLike<unknown>)).toEqual(Array.from(tensor.data as ArrayLike<unknown>));
    }
  });

  test('aligned tensors are zero-copy views of the buffer; unaligned ones are copied', () => {
    const bytes = serializeSafetensors({ a: createTensor('float32', [4], Float32Array.of(1, 2, 3, 4)) });
    const parsed = parseSafetensors(bytes);
    expect(parsed.tensors.a!.data.buffer).toBe(bytes.buffer);
    const shifted = new Uint8Array(bytes.byteLength + 1);
    shifted.set(bytes, 1);
    const unaligned = parseSafetensors(shifted.subarray(1));
    expect(Array.from(unaligned.tensors.a!.data as Float32Array)).toEqual([1, 2, 3, 4]);
  });

  test('refuses malformed files with a reason', () => {
    const four = new Uint8Array(16);
    expectInvalid(new Uint8Array(4), /shorter than the 8-byte header length/);
    const huge = new Uint8Array(16);
    new DataView(huge.buffer).setBigUint64(0, BigInt(MAX_SAFETENSORS_HEADER_BYTES + 1), true);
    expectInvalid(huge, /limit/);
    const claims = new Uint8Array(16);
    new DataView(claims.buffer).setBigUint64(0, 100n, true);
    expectInvalid(claims, /truncated/);
    const notJson = fileWithHeader('xy');
    notJson.set(new TextEncoder().encode('{bad'), 8);
    expectInvalid(notJson, /not valid UTF-8 JSON/);
    expectInvalid(fileWithHeader([1, 2]), /not a JSON object/);
    expectInvalid(fileWithHeader({ a: { dtype: 'F8', shape: [1], data_offsets: [0, 1] } }, new Uint8Array(1)), /unsupported dtype "F8"/);
    expectInvalid(fileWithHeader({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, four), /invalid shape/);
    expectInvalid(fileWithHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, four), /invalid data_offsets/);
    expectInvalid(fileWithHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, four.subarray(0, 4)), /needs 8 bytes but its offsets span 4/);
    expectInvalid(fileWithHeader({ a: { dtype: 'F32', shape: [8], data_offsets: [0, 32] } }, four), /ends at byte 32 .*truncated/);
    expectInvalid(
      fileWithHeader({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, four),
      /overlaps/,
    );
    expectInvalid(fileWithHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [4, 8] } }, new Uint8Array(8)), /bytes 0\.\.4 .* belong to no tensor/);
    expectInvalid(fileWithHeader({ a: { dtype: 'F32', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(8)), /cover only 4/);
    expectInvalid(fileWithHeader({ __metadata__: { a: 1 } }), /__metadata__\.a is not a string/);
  });

  test('truncating a real file anywhere is refused, never a crash', () => {
    const bytes = serializeSafetensors({ w: createTensor('float32', [3, 5], new Float32Array(15).fill(0.5)), b: createTensor('int64', [2]) });
    for (let length = 0; length < bytes.byteLength; length += 3) {
      expect(() => parseSafetensors(bytes.subarray(0, length))).toThrow(InvalidSafetensorsError);
    }
  });
});

describe('half-precision conversions', () => {
  test('float16 ↔ float32 on hand-computed values', () => {
    expect(float16ToFloat32(0x3c00)).toBe(1);
    expect(float16ToFloat32(0xc000)).toBe(-2);
    expect(float16ToFloat32(0x7bff)).toBe(65504);
    expect(float16ToFloat32(0x0001)).toBe(2 ** -24);
    expect(float16ToFloat32(0x7c00)).toBe(Infinity);
    expect(Number.isNaN(float16ToFloat32(0x7e00))).toBe(true);
    expect(float32ToFloat16(1)).toBe(0x3c00);
    expect(float32ToFloat16(65504)).toBe(0x7bff);
    expect(float32ToFloat16(1e6)).toBe(0x7c00);
    expect(float32ToFloat16(2 ** -24)).toBe(0x0001);
    // 1 + 2^-11 is halfway between 1 and the next half (1 + 2^-10): ties to even → 1.
    expect(float32ToFloat16(1 + 2 ** -11)).toBe(0x3c00);
    expect(float32ToFloat16(1 + 3 * 2 ** -11)).toBe(0x3c02);
    for (let bits = 0; bits < 0x7c00; bits += 7) expect(float32ToFloat16(float16ToFloat32(bits))).toBe(bits);
  });

  test('bfloat16 and toFloat32', () => {
    expect(bfloat16ToFloat32(0x3f80)).toBe(1);
    expect(bfloat16ToFloat32(0xc0a0)).toBe(-5);
    expect(Array.from(toFloat32(createTensor('bfloat16', [2], Uint16Array.of(0x3f80, 0x4000))).data)).toEqual([1, 2]);
    expect(Array.from(toFloat32(createTensor('int64', [2], BigInt64Array.of(3n, -4n))).data)).toEqual([3, -4]);
  });

  test('header-only parsing gives every tensor\'s byte range; a streamed layout writes the same bytes as serializeSafetensors', () => {
    const tensors: Record<string, Tensor> = {
      b: createTensor('float32', [2, 2], Float32Array.of(1, 2, 3, 4)),
      a: createTensor('float16', [3], Uint16Array.of(1, 2, 3)),
      c: createTensor('int64', [1], BigInt64Array.of(5n)),
    };
    const bytes = serializeSafetensors(tensors, { format: 'pt' });
    const length = safetensorsHeaderLength(bytes.subarray(0, 8), bytes.byteLength, 'x');
    const header = parseSafetensorsHeader(bytes.subarray(8, 8 + length), bytes.byteLength, 'x');
    expect(header.metadata).toEqual({ format: 'pt' });
    expect(header.dataOffset).toBe(8 + length);
    for (const [name, tensor] of Object.entries(tensors)) {
      const entry = header.entries[name]!;
      expect({ dtype: entry.dtype, shape: entry.shape }).toEqual({ dtype: tensor.dtype, shape: tensor.shape });
      const raw = bytes.subarray(entry.offset, entry.offset + entry.byteLength);
      expect(Array.from(raw)).toEqual(Array.from(new Uint8Array(tensor.data.buffer, tensor.data.byteOffset, tensor.data.byteLength)));
    }
    const layout = safetensorsLayout(tensorInfos(tensors), { format: 'pt' });
    expect(layout.names).toEqual(['a', 'b', 'c']);
    expect(layout.byteLength).toBe(bytes.byteLength);
    expect(Array.from(layout.header)).toEqual(Array.from(bytes.subarray(0, layout.header.byteLength)));
    // The header checks see the file's size, not the bytes: a truncated file is refused before any tensor is read.
    expect(() => parseSafetensorsHeader(bytes.subarray(8, 8 + length), bytes.byteLength - 1, 'short.safetensors')).toThrow(/short\.safetensors.*truncated/);
    expect(() => safetensorsHeaderLength(bytes.subarray(0, 8), 7 + length, 'cut')).toThrow(InvalidSafetensorsError);
  });
});
