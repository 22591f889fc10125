/**
 * Just enough protobuf to look inside a built ONNX model in tests (@vitzoo/onnx keeps its schema
 * private): list the graph's nodes, and expose intermediate values as extra graph outputs.
 */

export interface NodeSummary {
  opType: string;
  domain: string;
  name: string;
  inputs: string[];
  outputs: string[];
}

const textDecoder = new TextDecoder();
const textEncoder = new TextEncoder();

function readVarint(bytes: Uint8Array, offset: number): [value: number, next: number] {
  let value = 0;
  let multiplier = 1;
  for (let position = offset; ; position++) {
    const byte = bytes[position]!;
    value += (byte & 0x7f) * multiplier;
    if (byte < 0x80) return [value, position + 1];
    multiplier *= 128;
  }
}

/** Top-level fields of a message: field number, wire type and, for length-delimited fields, the payload. */
function* fields(bytes: Uint8Array): Generator<{ field: number; payload: Uint8Array | null }> {
  let offset = 0;
  while (offset < bytes.length) {
    const [key, afterKey] = readVarint(bytes, offset);
    const field = Math.floor(key / 8);
    const wireType = key & 7;
    if (wireType === 0) {
      offset = readVarint(bytes, afterKey)[1];
      yield { field, payload: null };
    } else if (wireType === 2) {
      const [length, start] = readVarint(bytes, afterKey);
      offset = start + length;
      yield { field, payload: bytes.subarray(start, offset) };
    } else if (wireType === 1 || wireType === 5) {
      offset = afterKey + (wireType === 1 ? 8 : 4);
      yield { field, payload: null };
    } else {
      throw new Error(`unexpected protobuf wire type ${wireType}`);
    }
  }
}

/** The nodes of ModelProto.graph (ModelProto field 7, GraphProto.node field 1; NodeProto input 1, output 2, name 3, op_type 4, domain 7). */
export function listNodes(model: Uint8Array): NodeSummary[] {
  const nodes: NodeSummary[] = [];
  for (const { field, payload } of fields(model)) {
    if (field !== 7 || !payload) continue;
    for (const graphField of fields(payload)) {
      if (graphField.field !== 1 || !graphField.payload) continue;
      const node: NodeSummary = { opType: '', domain: '', name: '', inputs: [], outputs: [] };
      for (const { field: nodeField, payload: value } of fields(graphField.payload)) {
        if (!value) continue;
        const text = textDecoder.decode(value);
        if (nodeField === 1) node.inputs.push(text);
        else if (nodeField === 2) node.outputs.push(text);
        else if (nodeField === 3) node.name = text;
        else if (nodeField === 4) node.opType = text;
        else if (nodeField === 7) node.domain = text;
      }
      nodes.push(node);
    }
  }
  return nodes;
}

function varint(value: number): number[] {
  const out: number[] = [];
  while (value >= 0x80) {
    out.push((value % 128) | 0x80);
    value = Math.floor(value / 128);
  }
  out.push(value);
  return out;
}

function lengthDelimited(field: number, payload: Uint8Array): Uint8Array {
  return Uint8Array.from([...varint(field * 8 + 2), ...varint(payload.length), ...payload]);
}

/**
 * The model with `names` added as graph outputs (ValueInfoProto with a name only; ONNX Runtime
 * infers their types). Protobuf merges repeated occurrences of a message field, so a second
 * ModelProto.graph holding only GraphProto.output entries (field 12) appends to the graph's outputs.
 */
export function withExtraOutputs(model: Uint8Array, names: readonly string[]): Uint8Array {
  const outputs = names.map((name) => lengthDelimited(12, lengthDelimited(1, textEncoder.encode(name))));
  const graph = lengthDelimited(7, Uint8Array.from(outputs.flatMap((output) => [...output])));
  const merged = new Uint8Array(model.length + graph.length);
  merged.set(model);
  merged.set(graph, model.length);
  return merged;
}
