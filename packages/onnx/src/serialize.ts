import protobuf from 'protobufjs/light.js';
import { graphBytes, type BuiltGraph, type GraphValueInfo } from '@vitzoo/core';
import type { Attribute, InitializerDefinition, NodeDefinition, OnnxModel } from './builder.js';
import { AttributeType, GraphProto, ModelProto, OnnxDataType, TensorProto } from './schema.js';

/** ONNX IR version written (ONNX 1.13+, opsets up to 18). */
export const IR_VERSION = 8;
export const PRODUCER_NAME = 'vitzoo';
export const PRODUCER_VERSION = '0.1.0';

/** Largest model protobuf can hold in one message. */
export const MAX_PROTOBUF_BYTES = 2 ** 31 - 1;

function valueInfo(info: GraphValueInfo) {
  return {
    name: info.name,
    type: {
      tensorType: {
        elemType: OnnxDataType[info.dtype],
        shape: { dim: info.shape.map((d) => (typeof d === 'number' ? { dimValue: d } : { dimParam: d })) },
      },
    },
  };
}

function attributeProto(name: string, attribute: Attribute) {
  switch (attribute.kind) {
    case 'float':
      return { name, type: AttributeType.FLOAT, f: attribute.value };
    case 'floats':
      return { name, type: AttributeType.FLOATS, floats: [...attribute.value] };
    case 'int':
      return { name, type: AttributeType.INT, i: attribute.value };
    case 'ints':
      return { name, type: AttributeType.INTS, ints: [...attribute.value] };
    case 'string':
      return { name, type: AttributeType.STRING, s: new TextEncoder().encode(attribute.value) };
  }
}

function nodeProto(node: NodeDefinition) {
  return {
    name: node.name,
    opType: node.opType,
    domain: node.domain,
    input: node.inputs,
    output: node.outputs,
    attribute: Object.entries(node.attributes).map(([name, value]) => attributeProto(name, value)),
  };
}

function varintLength(value: number): number {
  let length = 1;
  while (value >= 128) {
    value = Math.floor(value / 128);
    length++;
  }
  return length;
}

/** Tag + length prefix of a length-delimited field. */
function fieldPrefix(fieldNumber: number, length: number): Uint8Array {
  const writer = protobuf.Writer.create();
  writer.uint32((fieldNumber << 3) | 2).uint32(length);
  return writer.finish();
}

interface EncodedInitializer {
  definition: InitializerDefinition;
  /** TensorProto fields other than raw_data, then the raw_data tag and length. */
  head: Uint8Array;
  /** Total TensorProto size. */
  size: number;
}

function encodeInitializer(definition: InitializerDefinition): EncodedInitializer {
  const fields = TensorProto.encode(
    TensorProto.fromObject({ name: definition.name, dims: [...definition.shape], dataType: OnnxDataType[definition.dtype] }),
  ).finish();
  const raw = fieldPrefix(9, definition.byteLength);
  const head = new Uint8Array(fields.byteLength + raw.byteLength);
  head.set(fields);
  head.set(raw, fields.byteLength);
  return { definition, head, size: head.byteLength + definition.byteLength };
}

/**
 * Serialises a model as a sequence of chunks whose concatenation is the ONNX protobuf. Weights are
 * produced one at a time as the sequence is consumed, so writing to a file never holds a second
 * copy of the weights. Returns the total size up front.
 */
export function modelChunks(model: OnnxModel): { byteLength: number; chunks: Iterable<Uint8Array> } {
  // Protobuf fields may come in any order: encode the small parts with protobufjs and append the
  // initializers (field 5 of GraphProto) and raw data (field 9 of TensorProto) by hand, with
  // lengths known from the shapes, so the weights are never copied into a protobuf writer.
  const graphHead = GraphProto.encode(
    GraphProto.fromObject({
      name: model.graphName,
      node: model.nodes.map(nodeProto),
      input: model.inputs.map(valueInfo),
      output: model.outputs.map(valueInfo),
    }),
  ).finish();
  const initializers = model.initializers.map(encodeInitializer);
  const prefixes = initializers.map((init) => fieldPrefix(5, init.size));
  const graphSize =
    graphHead.byteLength + initializers.reduce((sum, init, i) => sum + prefixes[i]!.byteLength + init.size, 0);
  const modelHead = ModelProto.encode(
    ModelProto.fromObject({
      irVersion: IR_VERSION,
      producerName: PRODUCER_NAME,
      producerVersion: PRODUCER_VERSION,
      opsetImport: Object.entries(model.opsets).map(([domain, version]) => ({ domain, version })),
      metadataProps: Object.entries(model.metadata).map(([key, value]) => ({ key, value })),
      ...(model.docString ? { docString: model.docString } : {}),
    }),
  ).finish();
  const graphPrefix = fieldPrefix(7, graphSize);
  const byteLength = modelHead.byteLength + graphPrefix.byteLength + graphSize;
  if (varintLength(graphSize) > 5 || byteLength > MAX_PROTOBUF_BYTES) {
    throw new RangeError(
      `The model is ${byteLength} bytes, over protobuf's 2 GiB limit; store the weights as external data.`,
    );
  }
  function* chunks(): Generator<Uint8Array> {
    yield modelHead;
    yield graphPrefix;
    yield graphHead;
    for (let i = 0; i < initializers.length; i++) {
      const init = initializers[i]!;
      yield prefixes[i]!;
      yield init.head;
      const data = init.definition.produce();
      if (data.byteLength !== init.definition.byteLength) {
        throw new RangeError(`Initializer '${init.definition.name}' produced ${data.byteLength} bytes, expected ${init.definition.byteLength}.`);
      }
      yield data;
    }
  }
  return { byteLength, chunks: { [Symbol.iterator]: chunks } };
}

/** A model as the `BuiltGraph` architectures return. */
export function toBuiltGraph(model: OnnxModel): BuiltGraph {
  const { byteLength, chunks } = modelChunks(model);
  return { inputs: model.inputs, outputs: model.outputs, byteLength, chunks: () => chunks };
}

/** Serialises a model to one buffer of ONNX protobuf bytes. */
export function serializeModel(model: OnnxModel): Uint8Array {
  return graphBytes(toBuiltGraph(model));
}

/** An ONNX model read back: nodes in graph order, initializers with their raw bytes, metadata. */
export interface ReadModel {
  nodes: { name: string; opType: string; domain: string; inputs: string[]; outputs: string[]; attributes: Record<string, number | number[] | string> }[];
  initializers: { name: string; dataType: number; dims: number[]; rawData: Uint8Array }[];
  metadata: Record<string, string>;
}

/** Reads an ONNX model's graph back (for tests and tools; the weights as `raw_data`, as vitzoo writes them). */
export function readModel(bytes: Uint8Array): ReadModel {
  interface DecodedAttribute {
    name: string;
    type: number;
    f: number;
    i: number;
    s: Uint8Array;
    floats: number[];
    ints: number[];
  }
  interface Decoded {
    metadataProps: { key: string; value: string }[];
    graph?: {
      node: { name: string; opType: string; domain: string; input: string[]; output: string[]; attribute: DecodedAttribute[] }[];
      initializer: { name: string; dataType: number; dims: number[]; rawData: Uint8Array }[];
    };
  }
  const model = ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, defaults: true }) as Decoded;
  const value = (attribute: DecodedAttribute): number | number[] | string => {
    switch (attribute.type) {
      case AttributeType.FLOAT:
        return attribute.f;
      case AttributeType.INT:
        return attribute.i;
      case AttributeType.STRING:
        return new TextDecoder().decode(attribute.s);
      case AttributeType.FLOATS:
        return attribute.floats;
      default:
        return attribute.ints;
    }
  };
  return {
    nodes: (model.graph?.node ?? []).map((node) => ({
      name: node.name,
      opType: node.opType,
      domain: node.domain,
      inputs: node.input,
      outputs: node.output,
      attributes: Object.fromEntries(node.attribute.map((attribute) => [attribute.name, value(attribute)])),
    })),
    initializers: (model.graph?.initializer ?? []).map(({ name, dataType, dims, rawData }) => ({ name, dataType, dims, rawData })),
    metadata: Object.fromEntries(model.metadataProps.map(({ key, value: text }) => [key, text])),
  };
}

/** The nodes of an ONNX model, in graph order (name, op type, domain): for reading back a graph, e.g. one ONNX Runtime optimised. */
export function readModelNodes(bytes: Uint8Array): { name: string; opType: string; domain: string }[] {
  return readModel(bytes).nodes.map(({ name, opType, domain }) => ({ name, opType, domain }));
}
