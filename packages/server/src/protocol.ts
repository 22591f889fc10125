/**
 * The Open Inference Protocol (KServe v2 / Triton) REST payloads: inference requests in JSON or with
 * the binary tensor data extension (`Inference-Header-Content-Length`), and responses in either form.
 * Model-independent: which inputs a model takes is decided by the caller.
 */
import { endianness } from 'node:os';
import { InvalidArgumentError, describeValue } from '@vitzoo/core';

/** Extensions this server implements, as reported in the server metadata. */
export const PROTOCOL_EXTENSIONS = ['binary_tensor_data', 'classification'] as const;

/** The header that gives the size of the JSON part of a body that carries binary tensor data. */
export const HEADER_CONTENT_LENGTH = 'inference-header-content-length';

export type Parameters = Record<string, string | number | boolean>;

/** One input of an inference request; `binary` when its data came after the JSON (binary tensor data extension). */
export interface RequestInput {
  name: string;
  shape: number[];
  datatype: string;
  parameters: Parameters;
  /** The JSON `data` (absent for binary inputs). */
  data?: unknown;
  binary?: Buffer;
}

export interface RequestedOutput {
  name: string;
  /** `binary_data`: send this output as binary (default: the request's `binary_data_output`). */
  binary: boolean;
  /** `classification`: the top-k classes as BYTES "value:index[:label]" instead of the tensor (Triton's classification extension). */
  classification?: number;
}

export interface InferenceRequest {
  id?: string;
  parameters: Parameters;
  inputs: RequestInput[];
  /** Absent: every output, as JSON unless `binary_data_output`. */
  outputs?: RequestedOutput[];
  /** The request parameter `binary_data_output`. */
  binaryOutput: boolean;
}

function bad(argument: string, message: string): InvalidArgumentError {
  return new InvalidArgumentError(argument, message);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function readParameters(value: unknown, where: string): Parameters {
  if (value === undefined) return {};
  if (!isObject(value)) throw bad('parameters', `${where} 'parameters' must be an object of names to strings, numbers or booleans, got ${describeValue(value)}.`);
  for (const [key, parameter] of Object.entries(value)) {
    if (typeof parameter !== 'string' && typeof parameter !== 'boolean' && !(typeof parameter === 'number' && Number.isFinite(parameter))) {
      throw bad('parameters', `${where} parameter '${key}' is ${describeValue(parameter)}; a parameter is a string, a number or a boolean.`);
    }
  }
  return value as Parameters;
}

function booleanParameter(parameters: Parameters, name: string, where: string): boolean | undefined {
  const value = parameters[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'boolean') throw bad('parameters', `${where} parameter '${name}' must be true or false, got ${describeValue(value)}.`);
  return value;
}

/** A non-negative safe integer parameter (binary_data_size, classification). */
function integerParameter(parameters: Parameters, name: string, where: string): number | undefined {
  const value = parameters[name];
  if (value === undefined) return undefined;
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw bad('parameters', `${where} parameter '${name}' must be a non-negative integer, got ${describeValue(value)}.`);
  }
  return value;
}

/**
 * Splits a request body into its JSON object and the binary tensor data after it. Without
 * `Inference-Header-Content-Length` the whole body is the JSON.
 */
export function splitBody(body: Buffer | undefined, headerLength: string | string[] | undefined): { json: Record<string, unknown>; binary: Buffer } {
  if (body === undefined || body.length === 0) throw bad('body', 'The request has no body; send an inference request: {"inputs": [{"name", "shape", "datatype", "data"}]}.');
  let jsonLength = body.length;
  if (headerLength !== undefined) {
    const text = Array.isArray(headerLength) ? headerLength[0] : headerLength;
    const value = Number(text);
    if (!/^\d+$/.test(text ?? '') || !Number.isSafeInteger(value) || value > body.length) {
      throw bad('Inference-Header-Content-Length', `Inference-Header-Content-Length is '${text}'; it must be the size in bytes of the JSON at the start of the ${body.length}-byte body.`);
    }
    jsonLength = value;
  }
  let json: unknown;
  try {
    json = JSON.parse(body.subarray(0, jsonLength).toString('utf8'));
  } catch (error) {
    throw bad('body', `The inference request is not valid JSON: ${(error as Error).message}.`);
  }
  if (!isObject(json)) throw bad('body', `The inference request must be a JSON object, got ${describeValue(json)}.`);
  return { json, binary: body.subarray(jsonLength) };
}

/** Checks an inference request object and hands each binary input its bytes. */
export function readInferenceRequest(json: Record<string, unknown>, binary: Buffer = Buffer.alloc(0)): InferenceRequest {
  if (json.id !== undefined && typeof json.id !== 'string') throw bad('id', `'id' must be a string, got ${describeValue(json.id)}.`);
  const parameters = readParameters(json.parameters, 'The request');
  const binaryOutput = booleanParameter(parameters, 'binary_data_output', 'The request') ?? false;
  if (!Array.isArray(json.inputs) || json.inputs.length === 0) {
    throw bad('inputs', `'inputs' must be a non-empty array of tensors {"name", "shape", "datatype", "data"}, got ${describeValue(json.inputs)}.`);
  }
  let offset = 0;
  const names = new Set<string>();
  const inputs = json.inputs.map((raw, index): RequestInput => {
    if (!isObject(raw)) throw bad('inputs', `inputs[${index}] must be an object {"name", "shape", "datatype", "data"}, got ${describeValue(raw)}.`);
    const { name, shape, datatype } = raw;
    if (typeof name !== 'string' || name === '') throw bad('inputs', `inputs[${index}] needs a "name" (a string), got ${describeValue(name)}.`);
    if (names.has(name)) throw bad('inputs', `Input '${name}' is given twice.`);
    names.add(name);
    if (typeof datatype !== 'string') throw bad('inputs', `Input '${name}' needs a "datatype" (e.g. "FP32", "BYTES"), got ${describeValue(datatype)}.`);
    if (!Array.isArray(shape) || !shape.every((dimension) => Number.isSafeInteger(dimension) && (dimension as number) >= 0)) {
      throw bad('inputs', `Input '${name}' needs a "shape": an array of non-negative integers, got ${describeValue(shape)}.`);
    }
    const inputParameters = readParameters(raw.parameters, `Input '${name}'`);
    const size = integerParameter(inputParameters, 'binary_data_size', `Input '${name}'`);
    const input: RequestInput = { name, shape: shape as number[], datatype, parameters: inputParameters };
    if (size !== undefined) {
      if (raw.data !== undefined) throw bad('inputs', `Input '${name}' has both "data" and the binary_data_size parameter; give one.`);
      if (offset + size > binary.length) {
        throw bad(
          'inputs',
          `Input '${name}' says binary_data_size ${size}, but only ${binary.length - offset} bytes of binary data are left after the JSON` +
            (binary.length === 0 ? ' (send Inference-Header-Content-Length with the size of the JSON part)' : '') + '.',
        );
      }
      input.binary = binary.subarray(offset, offset + size);
      offset += size;
    } else {
      if (raw.data === undefined) throw bad('inputs', `Input '${name}' has no "data" (nor a binary_data_size parameter).`);
      input.data = raw.data;
    }
    return input;
  });
  if (offset !== binary.length) {
    throw bad('body', `The body has ${binary.length - offset} bytes of binary data after the JSON that no input's binary_data_size accounts for.`);
  }
  let outputs: RequestedOutput[] | undefined;
  if (json.outputs !== undefined) {
    if (!Array.isArray(json.outputs)) throw bad('outputs', `'outputs' must be an array of {"name", "parameters"?}, got ${describeValue(json.outputs)}.`);
    const seen = new Set<string>();
    outputs = json.outputs.map((raw, index): RequestedOutput => {
      if (!isObject(raw) || typeof raw.name !== 'string') throw bad('outputs', `outputs[${index}] must be an object with a "name", got ${describeValue(raw)}.`);
      if (seen.has(raw.name)) throw bad('outputs', `Output '${raw.name}' is requested twice.`);
      seen.add(raw.name);
      const outputParameters = readParameters(raw.parameters, `Output '${raw.name}'`);
      const classification = integerParameter(outputParameters, 'classification', `Output '${raw.name}'`);
      if (classification === 0) throw bad('outputs', `Output '${raw.name}' parameter 'classification' must be at least 1 (the number of classes to return).`);
      return {
        name: raw.name,
        binary: booleanParameter(outputParameters, 'binary_data', `Output '${raw.name}'`) ?? binaryOutput,
        ...(classification !== undefined ? { classification } : {}),
      };
    });
  }
  return { ...(json.id !== undefined ? { id: json.id as string } : {}), parameters, inputs, ...(outputs ? { outputs } : {}), binaryOutput };
}

/** The number of elements of a shape. */
export function elementCount(shape: readonly number[]): number {
  return shape.reduce((product, dimension) => product * dimension, 1);
}

const littleEndian = endianness() === 'LE';

/** Calls `visit` on each element of an input's JSON `data`, row-major: flat, or nested no deeper than its shape. */
function forEachElement(input: RequestInput, visit: (value: unknown) => void): void {
  const walk = (value: unknown, depth: number): void => {
    if (!Array.isArray(value)) return visit(value);
    if (depth >= input.shape.length) throw bad('inputs', `Input '${input.name}' has "data" nested deeper than its shape [${input.shape.join(', ')}].`);
    for (const element of value) walk(element, depth + 1);
  };
  if (!Array.isArray(input.data)) throw bad('inputs', `Input '${input.name}' "data" must be an array (row-major), got ${describeValue(input.data)}.`);
  walk(input.data, 0);
}

/**
 * An FP32 input's values: the JSON `data` (flat, or nested as the shape, row-major) or its binary
 * bytes (little-endian float32). Every value must be a finite number and the count must match the shape.
 */
export function readFloat32(input: RequestInput): Float32Array {
  const expected = elementCount(input.shape);
  if (input.binary) {
    if (input.binary.length !== expected * 4) {
      throw bad('inputs', `Input '${input.name}' has ${input.binary.length} bytes of binary FP32 data; its shape [${input.shape.join(', ')}] needs ${expected * 4} (4 per value).`);
    }
    const out = new Float32Array(expected);
    const bytes = new Uint8Array(out.buffer);
    bytes.set(input.binary);
    if (!littleEndian) {
      const view = new DataView(out.buffer);
      for (let i = 0; i < expected; i++) out[i] = view.getFloat32(i * 4, true);
    }
    return out;
  }
  const out = new Float32Array(expected);
  let count = 0;
  forEachElement(input, (value) => {
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      throw bad('inputs', `Input '${input.name}' (FP32) has ${describeValue(value)} at element ${count}; FP32 data must be finite numbers.`);
    }
    if (count < expected) out[count] = value;
    count += 1;
  });
  if (count !== expected) {
    throw bad('inputs', `Input '${input.name}' has ${count} values; its shape [${input.shape.join(', ')}] needs ${expected}.`);
  }
  return out;
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;

/**
 * A BYTES input's elements: with binary data, each is a 4-byte little-endian length then the
 * bytes; in JSON, each is a base64 string (JSON cannot hold raw bytes).
 */
export function readBytes(input: RequestInput): Buffer[] {
  const expected = elementCount(input.shape);
  const elements: Buffer[] = [];
  if (input.binary) {
    const data = input.binary;
    let offset = 0;
    while (offset < data.length) {
      if (offset + 4 > data.length) throw bad('inputs', `Input '${input.name}' (BYTES) ends inside the 4-byte length of element ${elements.length}.`);
      const length = data.readUInt32LE(offset);
      offset += 4;
      if (offset + length > data.length) {
        throw bad('inputs', `Input '${input.name}' (BYTES) element ${elements.length} says ${length} bytes, but only ${data.length - offset} are left.`);
      }
      elements.push(data.subarray(offset, offset + length));
      offset += length;
    }
  } else {
    forEachElement(input, (value) => {
      if (typeof value !== 'string' || !BASE64.test(value)) {
        throw bad('inputs', `Input '${input.name}' (BYTES) element ${elements.length} is ${typeof value === 'string' ? 'not base64' : describeValue(value)}; in JSON each element is the base64 of the bytes (or send them as binary data).`);
      }
      elements.push(Buffer.from(value, 'base64'));
    });
  }
  if (elements.length !== expected) {
    throw bad('inputs', `Input '${input.name}' has ${elements.length} elements; its shape [${input.shape.join(', ')}] needs ${expected}.`);
  }
  return elements;
}

/** An output of an inference response. */
export type ResponseOutput =
  | { name: string; datatype: 'FP32'; shape: readonly number[]; data: Float32Array; binary: boolean }
  | { name: string; datatype: 'BYTES'; shape: readonly number[]; data: readonly string[]; binary: boolean };

export interface EncodedResponse {
  body: Buffer;
  contentType: string;
  /** Set (to the JSON size) when binary tensor data follows the JSON. */
  headerLength?: number;
}

function float32Bytes(data: Float32Array): Buffer {
  if (littleEndian) return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const out = Buffer.alloc(data.length * 4);
  for (let i = 0; i < data.length; i++) out.writeFloatLE(data[i]!, i * 4);
  return out;
}

function bytesElements(data: readonly string[]): Buffer {
  const parts: Buffer[] = [];
  for (const element of data) {
    const bytes = Buffer.from(element, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32LE(bytes.length);
    parts.push(length, bytes);
  }
  return Buffer.concat(parts);
}

/** An inference response: JSON, or JSON then the binary outputs in order when any output is binary. */
export function encodeInferenceResponse(response: { modelName: string; id?: string; outputs: readonly ResponseOutput[] }): EncodedResponse {
  const binaryParts: Buffer[] = [];
  const outputs = response.outputs.map((output) => {
    const head = { name: output.name, datatype: output.datatype, shape: output.shape };
    if (output.binary) {
      const bytes = output.datatype === 'FP32' ? float32Bytes(output.data) : bytesElements(output.data);
      binaryParts.push(bytes);
      return { ...head, parameters: { binary_data_size: bytes.length } };
    }
    return { ...head, data: output.datatype === 'FP32' ? Array.from(output.data) : output.data };
  });
  const json = Buffer.from(JSON.stringify({ model_name: response.modelName, ...(response.id !== undefined ? { id: response.id } : {}), outputs }), 'utf8');
  if (binaryParts.length === 0) return { body: json, contentType: 'application/json; charset=utf-8' };
  return { body: Buffer.concat([json, ...binaryParts]), contentType: 'application/octet-stream', headerLength: json.length };
}

/** The shortest decimal that reads back as the same float32. */
function float32Text(value: number): string {
  for (let precision = 1; precision < 9; precision++) {
    const text = value.toPrecision(precision);
    if (Math.fround(Number(text)) === value) return String(Number(text));
  }
  return String(Number(value.toPrecision(9)));
}

/**
 * Triton's classification extension: for each row of a `[N, C]` output, the `k` largest values as
 * "value:index[:label]" strings, largest first (equal values by index).
 */
export function classificationStrings(values: Float32Array, rows: number, k: number, labels?: readonly string[]): string[] {
  const classes = rows === 0 ? 0 : values.length / rows;
  const out: string[] = [];
  const count = Math.min(k, classes);
  for (let row = 0; row < rows; row++) {
    const slice = values.subarray(row * classes, (row + 1) * classes);
    const order = Array.from({ length: classes }, (_, index) => index).sort((a, b) => slice[b]! - slice[a]! || a - b);
    for (let i = 0; i < count; i++) {
      const index = order[i]!;
      const label = labels?.[index];
      out.push(`${float32Text(slice[index]!)}:${index}${label !== undefined ? `:${label}` : ''}`);
    }
  }
  return out;
}
