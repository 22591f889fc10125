/**
 * A small Open Inference Protocol (KServe v2 / Triton) REST client, written for the tests from the
 * protocol's documents (the REST API and the binary tensor data extension), not from this package's
 * code, so the server is checked against the spec rather than against itself. Test-only: not
 * exported, not built.
 */

/** An input tensor: FP32 values or BYTES elements; `binary` sends it after the JSON (binary tensor data extension). */
export interface ClientInput {
  name: string;
  shape: number[];
  datatype: string;
  data: ArrayLike<number> | readonly Uint8Array[] | unknown;
  binary?: boolean;
  parameters?: Record<string, unknown>;
}

export interface ClientOutput {
  name: string;
  shape: number[];
  datatype: string;
  /** FP32 as a Float32Array (from JSON numbers or binary), BYTES as strings. */
  data: Float32Array | string[];
  parameters?: Record<string, unknown>;
}

export interface InferResult {
  status: number;
  headers: Headers;
  /** The JSON part of the answer (for errors: `{"error": "…"}`). */
  body: Record<string, unknown>;
  outputs: ClientOutput[];
  /** True when the answer carried binary tensor data. */
  binary: boolean;
}

export interface JsonResult {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Little-endian float32 bytes, as the binary extension prescribes. */
function fp32Bytes(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length * 4);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i]!, true);
  return out;
}

/** BYTES elements: each a 4-byte little-endian length then the bytes. */
function bytesElements(elements: readonly Uint8Array[]): Uint8Array {
  const size = elements.reduce((sum, element) => sum + 4 + element.length, 0);
  const out = new Uint8Array(size);
  const view = new DataView(out.buffer);
  let offset = 0;
  for (const element of elements) {
    view.setUint32(offset, element.length, true);
    out.set(element, offset + 4);
    offset += 4 + element.length;
  }
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

function decodeOutput(raw: Record<string, unknown>, binary: Uint8Array | undefined): ClientOutput {
  const shape = raw.shape as number[];
  const datatype = raw.datatype as string;
  let data: Float32Array | string[];
  if (binary) {
    const view = new DataView(binary.buffer, binary.byteOffset, binary.byteLength);
    if (datatype === 'FP32') {
      data = new Float32Array(binary.byteLength / 4);
      for (let i = 0; i < data.length; i++) data[i] = view.getFloat32(i * 4, true);
    } else {
      const strings: string[] = [];
      let offset = 0;
      while (offset < binary.byteLength) {
        const length = view.getUint32(offset, true);
        strings.push(decoder.decode(binary.subarray(offset + 4, offset + 4 + length)));
        offset += 4 + length;
      }
      data = strings;
    }
  } else {
    const values = (raw.data as unknown[]).flat(Infinity);
    data = datatype === 'FP32' ? Float32Array.from(values as number[]) : (values as string[]);
  }
  return { name: raw.name as string, shape, datatype, data, ...(raw.parameters ? { parameters: raw.parameters as Record<string, unknown> } : {}) };
}

export class OpenInferenceClient {
  constructor(readonly baseUrl: string) {}

  private async getJson(path: string): Promise<JsonResult> {
    const response = await fetch(`${this.baseUrl}${path}`);
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
  }

  /** GET v2/health/live */
  live(): Promise<JsonResult> {
    return this.getJson('/v2/health/live');
  }

  /** GET v2/health/ready */
  ready(): Promise<JsonResult> {
    return this.getJson('/v2/health/ready');
  }

  /** GET v2 (server metadata) */
  serverMetadata(): Promise<JsonResult> {
    return this.getJson('/v2');
  }

  /** GET v2/models/<name> (model metadata) */
  modelMetadata(model: string): Promise<JsonResult> {
    return this.getJson(`/v2/models/${encodeURIComponent(model)}`);
  }

  /** GET v2/models/<name>/ready */
  modelReady(model: string): Promise<JsonResult> {
    return this.getJson(`/v2/models/${encodeURIComponent(model)}/ready`);
  }

  /**
   * POST v2/models/<name>/infer. Inputs marked `binary` go after the JSON with their
   * `binary_data_size`, and the JSON's size in Inference-Header-Content-Length.
   */
  async infer(
    model: string,
    request: { id?: string; parameters?: Record<string, unknown>; inputs: ClientInput[]; outputs?: { name: string; parameters?: Record<string, unknown> }[] },
  ): Promise<InferResult> {
    const binaryParts: Uint8Array[] = [];
    const inputs = request.inputs.map((input) => {
      const head = { name: input.name, shape: input.shape, datatype: input.datatype };
      if (input.binary) {
        const bytes = input.datatype === 'BYTES' ? bytesElements(input.data as Uint8Array[]) : fp32Bytes(input.data as ArrayLike<number>);
        binaryParts.push(bytes);
        return { ...head, parameters: { ...input.parameters, binary_data_size: bytes.length } };
      }
      let data = input.data;
      // JSON cannot hold bytes: BYTES elements given as bytes travel as base64 strings.
      if (input.datatype === 'BYTES' && Array.isArray(data)) data = data.map((element: unknown) => (element instanceof Uint8Array ? Buffer.from(element).toString('base64') : element));
      else if (ArrayBuffer.isView(data)) data = Array.from(data as unknown as ArrayLike<number>);
      return { ...head, ...(input.parameters ? { parameters: input.parameters } : {}), data };
    });
    const json = encoder.encode(JSON.stringify({ ...(request.id !== undefined ? { id: request.id } : {}), ...(request.parameters ? { parameters: request.parameters } : {}), inputs, ...(request.outputs ? { outputs: request.outputs } : {}) }));
    const headers: Record<string, string> = {};
    let body: Uint8Array;
    if (binaryParts.length > 0) {
      headers['Inference-Header-Content-Length'] = String(json.length);
      headers['Content-Type'] = 'application/octet-stream';
      body = concat([json, ...binaryParts]);
    } else {
      headers['Content-Type'] = 'application/json';
      body = json;
    }
    return this.post(model, body, headers);
  }

  /** POST v2/models/<name>/infer with a body as given (for malformed requests). */
  async post(model: string, body: Uint8Array | string, headers: Record<string, string> = { 'Content-Type': 'application/json' }): Promise<InferResult> {
    const response = await fetch(`${this.baseUrl}/v2/models/${encodeURIComponent(model)}/infer`, { method: 'POST', headers, body: body as unknown as BodyInit });
    const bytes = new Uint8Array(await response.arrayBuffer());
    const headerLength = response.headers.get('Inference-Header-Content-Length');
    const jsonLength = headerLength === null ? bytes.length : Number(headerLength);
    const parsed = JSON.parse(decoder.decode(bytes.subarray(0, jsonLength))) as Record<string, unknown>;
    let offset = jsonLength;
    const outputs = ((parsed.outputs as Record<string, unknown>[] | undefined) ?? []).map((raw) => {
      const size = (raw.parameters as { binary_data_size?: number } | undefined)?.binary_data_size;
      if (size === undefined) return decodeOutput(raw, undefined);
      const binary = bytes.subarray(offset, offset + size);
      offset += size;
      return decodeOutput(raw, binary);
    });
    return { status: response.status, headers: response.headers, body: parsed, outputs, binary: headerLength !== null };
  }
}
