import { describe, expect, test } from 'vitest';
import protobuf from 'protobufjs/light.js';
import { createTensor, InvalidArgumentError } from '@vitzoo/core';
import { attr, GraphBuilder } from './builder.js';
import { modelChunks, readModel, serializeModel } from './serialize.js';
import { ModelProto } from './schema.js';

function decode(bytes: Uint8Array) {
  return ModelProto.toObject(ModelProto.decode(bytes), { longs: Number, bytes: Array, defaults: true }) as {
    irVersion: number;
    opsetImport: { domain?: string; version: number }[];
    graph: {
      node: { name: string; opType: string; domain?: string; input: string[]; output: string[]; attribute?: { name: string; type: number; f?: number; i?: number; ints?: number[] }[] }[];
      initializer: { name: string; dims: number[]; dataType: number; rawData: number[] }[];
      input: { name: string }[];
      output: { name: string }[];
    };
  };
}

describe('GraphBuilder and serializer', () => {
  test('scoped node names, checkpoint-named initializers, typed attributes, opsets incl. com.microsoft', () => {
    const g = new GraphBuilder({ graphName: 'test' });
    const x = g.input('pixel_values', 'float32', ['batch', 4]);
    const y = g.scope('blocks.0', () =>
      g.scope('norm1', () => g.layerNormalization(x, g.weight('blocks.0.norm1.weight', createTensor('float32', [4], Float32Array.of(1, 2, 3, 4))), null, 1e-6)),
    );
    g.output(g.gelu(y), 'logits', 'float32', ['batch', 4]);
    const model = decode(serializeModel(g.build()));
    expect(model.irVersion).toBe(8);
    expect(model.opsetImport).toEqual(expect.arrayContaining([{ domain: '', version: 17 }, { domain: 'com.microsoft', version: 1 }]));
    const [norm, gelu, identity] = model.graph.node;
    expect(norm!.name).toBe('/blocks.0/norm1/LayerNormalization');
    const epsilon = norm!.attribute!.find((a) => a.name === 'epsilon')!;
    expect(epsilon.type).toBe(1);
    expect(epsilon.f).toBeCloseTo(1e-6, 12);
    expect(norm!.attribute!.find((a) => a.name === 'axis')).toEqual(expect.objectContaining({ type: 2, i: -1 }));
    expect(gelu!.domain).toBe('com.microsoft');
    expect(identity!.output).toEqual(['logits']);
    const [weight] = model.graph.initializer;
    expect(weight!.name).toBe('blocks.0.norm1.weight');
    expect(weight!.dims).toEqual([4]);
    expect(Array.from(new Float32Array(Uint8Array.from(weight!.rawData).buffer))).toEqual([1, 2, 3, 4]);
  });

  test('float16 weights are widened to float32; derived weights are produced only while writing', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', [2]);
    let produced = 0;
    const derived = g.derivedWeight('derived', 'float32', [2], () => {
      produced++;
      return Float32Array.of(5, 6);
    });
    const half = g.weight('half', createTensor('float16', [2], Uint16Array.of(0x3c00, 0xc000)));
    g.output(g.add(g.add(x, derived), half), 'y', 'float32', [2]);
    const model = g.build();
    expect(produced).toBe(0);
    const { byteLength, chunks } = modelChunks(model);
    let total = 0;
    for (const chunk of chunks) total += chunk.byteLength;
    expect(total).toBe(byteLength);
    expect(produced).toBe(1);
    const decoded = decode(serializeModel(model));
    const halfInit = decoded.graph.initializer.find((i) => i.name === 'half')!;
    expect(halfInit.dataType).toBe(1);
    expect(Array.from(new Float32Array(Uint8Array.from(halfInit.rawData).buffer))).toEqual([1, -2]);
    expect(protobuf).toBeDefined();
  });

  test('refuses ambiguous attributes and duplicate names', () => {
    const g = new GraphBuilder();
    const x = g.input('x', 'float32', [1]);
    expect(() => g.op('LeakyRelu', [x], { alpha: 0.1 })).toThrow(/wrap floats in attr\.float/);
    expect(() => g.op('LeakyRelu', [x], { alpha: attr.float(0.1) })).not.toThrow();
    g.weight('w', createTensor('float32', [1]));
    expect(() => g.weight('w', createTensor('float32', [1]))).toThrow(InvalidArgumentError);
    expect(() => new GraphBuilder().build()).toThrow(/at least one output/);
  });
});

test('readModel gives back the nodes (inputs, outputs, typed attributes), the initializers\' bytes and the metadata', () => {
  const g = new GraphBuilder({ metadata: { 'vitzoo.dtype': 'q4' } });
  const x = g.input('x', 'float32', [2, 4]);
  const weight = g.derivedWeight('w', 'uint8', [2, 3], () => Uint8Array.of(1, 2, 3, 250, 251, 252));
  const y = g.op('Custom', [x, null, weight], { n: 3, ints: [1, 2], f: attr.float(0.5), s: 'text', fs: attr.floats([0.25]) }, { domain: 'com.example' });
  g.output(y, 'y', 'float32', [2, 4]);
  const model = readModel(serializeModel(g.build()));
  expect(model.metadata).toEqual({ 'vitzoo.dtype': 'q4' });
  expect(model.nodes).toEqual([
    { name: '/Custom', opType: 'Custom', domain: 'com.example', inputs: ['x', '', 'w'], outputs: ['/Custom_output_0'], attributes: { n: 3, ints: [1, 2], f: 0.5, s: 'text', fs: [0.25] } },
    { name: '/y/Identity', opType: 'Identity', domain: '', inputs: ['/Custom_output_0'], outputs: ['y'], attributes: {} },
  ]);
  expect(model.initializers).toHaveLength(1);
  expect(model.initializers[0]).toMatchObject({ name: 'w', dataType: 2, dims: [2, 3] });
  expect(Array.from(model.initializers[0]!.rawData)).toEqual([1, 2, 3, 250, 251, 252]);
});
