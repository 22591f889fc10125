import { InvalidSafetensorsError } from './errors.js';
import {
  bytesPerElement,
  elementCount,
  tensorBytes,
  typedView,
  type DataType,
  type Tensor,
} from './tensor.js';

/** safetensors dtype names ↔ ours. */
const fromSafetensorsDtype: Record<string, DataType> = {
  F64: 'float64',
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
  I64: 'int64',
  I32: 'int32',
  I16: 'int16',
  I8: 'int8',
  U64: 'uint64',
  U32: 'uint32',
  U16: 'uint16',
  U8: 'uint8',
  BOOL: 'bool',
};
const toSafetensorsDtype = Object.fromEntries(
  Object.entries(fromSafetensorsDtype).map(([name, dtype]) => [dtype, name]),
) as Record<DataType, string>;

/** Largest accepted JSON header (the reference implementation's bound). */
export const MAX_SAFETENSORS_HEADER_BYTES = 100_000_000;

export interface SafetensorsFile {
  tensors: Record<string, Tensor>;
  metadata: Record<string, string>;
}

export interface ParseSafetensorsOptions {
  /** Named in error messages (a path or URL). */
  source?: string;
}

/**
 * Parses a safetensors buffer. Every structural rule is checked (header size bounded and inside the
 * buffer, known dtypes, dtype × shape = byte length, offsets in range, non-overlapping and covering
 * the data section without gaps); violations throw `InvalidSafetensorsError`. Tensor data are
 * zero-copy views of `bytes` when aligned.
 */
export function parseSafetensors(bytes: Uint8Array, options: ParseSafetensorsOptions = {}): SafetensorsFile {
  const source = options.source ?? '(buffer)';
  const fail = (reason: string): never => {
    throw new InvalidSafetensorsError(source, reason);
  };
  if (bytes.byteLength < 8) fail(`it is ${bytes.byteLength} bytes long, shorter than the 8-byte header length`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = view.getBigUint64(0, true);
  if (headerLength > BigInt(MAX_SAFETENSORS_HEADER_BYTES)) {
    fail(`the header claims ${headerLength} bytes, more than the ${MAX_SAFETENSORS_HEADER_BYTES}-byte limit`);
  }
  const headerEnd = 8 + Number(headerLength);
  if (headerEnd > bytes.byteLength) {
    fail(`the header claims ${headerLength} bytes but the file has only ${bytes.byteLength - 8} after the length (truncated?)`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, headerEnd)));
  } catch (error) {
    fail(`the header is not valid UTF-8 JSON (${(error as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('the header is not a JSON object');
  const data = bytes.subarray(headerEnd);
  const tensors: Record<string, Tensor> = {};
  const metadata: Record<string, string> = {};
  const spans: { name: string; begin: number; end: number }[] = [];
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) fail('__metadata__ is not an object');
      for (const [key, value] of Object.entries(entry as Record<string, unknown>)) {
        if (typeof value !== 'string') fail(`__metadata__.${key} is not a string`);
        metadata[key] = value as string;
      }
      continue;
    }
    if (typeof entry !== 'object' || entry === null) fail(`tensor '${name}' has no description object`);
    const { dtype: rawDtype, shape, data_offsets: offsets } = entry as Record<string, unknown>;
    const dtype = typeof rawDtype === 'string' ? fromSafetensorsDtype[rawDtype] : undefined;
    if (dtype === undefined) {
      fail(`tensor '${name}' has unsupported dtype ${JSON.stringify(rawDtype)} (supported: ${Object.keys(fromSafetensorsDtype).join(', ')})`);
    }
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every((o) => Number.isSafeInteger(o) && o >= 0) ||
      offsets[0] > offsets[1]
    ) {
      fail(`tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    if (end > data.byteLength) {
      fail(`tensor '${name}' ends at byte ${end} but the data section has ${data.byteLength} bytes (truncated?)`);
    }
    const expectedBytes = elementCount(shape as number[]) * bytesPerElement[dtype!];
    if (end - begin !== expectedBytes) {
      fail(`tensor '${name}' (${rawDtype} [${(shape as number[]).join(', ')}]) needs ${expectedBytes} bytes but its offsets span ${end - begin}`);
    }
    spans.push({ name, begin, end });
    tensors[name] = {
      dtype: dtype!,
      shape: [...(shape as number[])],
      data: typedView(dtype!, data, begin, end - begin),
    };
  }
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const span of spans) {
    if (span.begin < cursor) fail(`tensor '${span.name}' overlaps the tensor before it`);
    if (span.begin > cursor) fail(`bytes ${cursor}..${span.begin} of the data section belong to no tensor`);
    cursor = span.end;
  }
  if (cursor !== data.byteLength) {
    fail(`the data section has ${data.byteLength} bytes but the tensors cover only ${cursor}`);
  }
  return { tensors, metadata };
}

/** Serialises tensors (and optional string metadata) to safetensors bytes, names sorted. */
export function serializeSafetensors(
  tensors: Record<string, Tensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const tensor = tensors[name]!;
    const byteLength = elementCount(tensor.shape) * bytesPerElement[tensor.dtype];
    header[name] = { dtype: toSafetensorsDtype[tensor.dtype], shape: tensor.shape, data_offsets: [offset, offset + byteLength] };
    offset += byteLength;
  }
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  if (padded !== json.byteLength) {
    const withSpaces = new Uint8Array(padded).fill(0x20);
    withSpaces.set(json);
    json = withSpaces;
  }
  const out = new Uint8Array(8 + json.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.byteLength), true);
  out.set(json, 8);
  let position = 8 + json.byteLength;
  for (const name of names) {
    const raw = tensorBytes(tensors[name]!);
    out.set(raw, position);
    position += raw.byteLength;
  }
  return out;
}
