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

/** Where one tensor's bytes are in a safetensors file. */
export interface SafetensorsEntry {
  dtype: DataType;
  shape: number[];
  /** Byte offset from the start of the file. */
  offset: number;
  byteLength: number;
}

/** A safetensors header: every tensor's dtype, shape and byte range, without the data. */
export interface SafetensorsHeader {
  entries: Record<string, SafetensorsEntry>;
  metadata: Record<string, string>;
  /** Bytes before the data section (8 + the JSON header). */
  dataOffset: number;
}

/**
 * The JSON header length from a file's first 8 bytes, checked against the bound and the file size
 * (`fileSize`): throws `InvalidSafetensorsError` naming `source`.
 */
export function safetensorsHeaderLength(first: Uint8Array, fileSize: number, source = '(buffer)'): number {
  if (fileSize < 8 || first.byteLength < 8) {
    throw new InvalidSafetensorsError(source, `it is ${fileSize} bytes long, shorter than the 8-byte header length`);
  }
  const headerLength = new DataView(first.buffer, first.byteOffset, 8).getBigUint64(0, true);
  if (headerLength > BigInt(MAX_SAFETENSORS_HEADER_BYTES)) {
    throw new InvalidSafetensorsError(source, `the header claims ${headerLength} bytes, more than the ${MAX_SAFETENSORS_HEADER_BYTES}-byte limit`);
  }
  if (8 + Number(headerLength) > fileSize) {
    throw new InvalidSafetensorsError(source, `the header claims ${headerLength} bytes but the file has only ${fileSize - 8} after the length (truncated?)`);
  }
  return Number(headerLength);
}

/**
 * Parses a safetensors header (the JSON bytes after the 8-byte length) for a file of `fileSize`
 * bytes. Every structural rule is checked (known dtypes, dtype × shape = byte length, offsets in
 * range, non-overlapping and covering the data section without gaps); violations throw
 * `InvalidSafetensorsError`. Lets a reader fetch one tensor at a time (file handles, HTTP ranges,
 * `Blob.slice`).
 */
export function parseSafetensorsHeader(json: Uint8Array, fileSize: number, source = '(buffer)'): SafetensorsHeader {
  const fail = (reason: string): never => {
    throw new InvalidSafetensorsError(source, reason);
  };
  const dataOffset = 8 + json.byteLength;
  const dataLength = fileSize - dataOffset;
  if (dataLength < 0) fail(`the header claims ${json.byteLength} bytes but the file has only ${fileSize - 8} after the length (truncated?)`);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(json));
  } catch (error) {
    fail(`the header is not valid UTF-8 JSON (${(error as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('the header is not a JSON object');
  const entries: Record<string, SafetensorsEntry> = {};
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
    if (end > dataLength) {
      fail(`tensor '${name}' ends at byte ${end} but the data section has ${dataLength} bytes (truncated?)`);
    }
    const expectedBytes = elementCount(shape as number[]) * bytesPerElement[dtype!];
    if (end - begin !== expectedBytes) {
      fail(`tensor '${name}' (${rawDtype} [${(shape as number[]).join(', ')}]) needs ${expectedBytes} bytes but its offsets span ${end - begin}`);
    }
    spans.push({ name, begin, end });
    entries[name] = { dtype: dtype!, shape: [...(shape as number[])], offset: dataOffset + begin, byteLength: end - begin };
  }
  spans.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const span of spans) {
    if (span.begin < cursor) fail(`tensor '${span.name}' overlaps the tensor before it`);
    if (span.begin > cursor) fail(`bytes ${cursor}..${span.begin} of the data section belong to no tensor`);
    cursor = span.end;
  }
  if (cursor !== dataLength) {
    fail(`the data section has ${dataLength} bytes but the tensors cover only ${cursor}`);
  }
  return { entries, metadata, dataOffset };
}

/**
 * Parses a safetensors buffer (see `parseSafetensorsHeader` for the rules checked; violations throw
 * `InvalidSafetensorsError`). Tensor data are zero-copy views of `bytes` when aligned.
 */
export function parseSafetensors(bytes: Uint8Array, options: ParseSafetensorsOptions = {}): SafetensorsFile {
  const source = options.source ?? '(buffer)';
  const headerLength = safetensorsHeaderLength(bytes, bytes.byteLength, source);
  const { entries, metadata } = parseSafetensorsHeader(bytes.subarray(8, 8 + headerLength), bytes.byteLength, source);
  const tensors: Record<string, Tensor> = {};
  for (const [name, entry] of Object.entries(entries)) {
    tensors[name] = { dtype: entry.dtype, shape: entry.shape, data: typedView(entry.dtype, bytes, entry.offset, entry.byteLength) };
  }
  return { tensors, metadata };
}

/** A tensor's dtype and shape (what a safetensors header says about it). */
export interface TensorInfo {
  dtype: DataType;
  shape: readonly number[];
}

/** Every tensor's dtype and shape. */
export function tensorInfos(tensors: Readonly<Record<string, Tensor>>): Record<string, TensorInfo> {
  const out: Record<string, TensorInfo> = {};
  for (const [name, tensor] of Object.entries(tensors)) out[name] = { dtype: tensor.dtype, shape: tensor.shape };
  return out;
}

/** The layout of a safetensors file for these tensors: its header bytes and total size. */
export interface SafetensorsLayout {
  /** The 8-byte length and the JSON header (padded with spaces to a multiple of 8). */
  header: Uint8Array;
  /** Tensor names in file order (sorted). */
  names: string[];
  /** Size of the whole file. */
  byteLength: number;
}

/**
 * The header of a safetensors file holding `tensors` (names sorted, as the reference writes them),
 * so a writer can stream the data afterwards, one tensor at a time in `names` order.
 */
export function safetensorsLayout(tensors: Record<string, TensorInfo>, metadata?: Record<string, string>): SafetensorsLayout {
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
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.byteLength / 8) * 8;
  const out = new Uint8Array(8 + padded).fill(0x20, 8);
  new DataView(out.buffer).setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  return { header: out, names, byteLength: out.byteLength + offset };
}

/** Serialises tensors (and optional string metadata) to safetensors bytes, names sorted. */
export function serializeSafetensors(
  tensors: Record<string, Tensor>,
  metadata?: Record<string, string>,
): Uint8Array {
  const layout = safetensorsLayout(tensors, metadata);
  const out = new Uint8Array(layout.byteLength);
  out.set(layout.header, 0);
  let position = layout.header.byteLength;
  for (const name of layout.names) {
    const raw = tensorBytes(tensors[name]!);
    out.set(raw, position);
    position += raw.byteLength;
  }
  return out;
}
