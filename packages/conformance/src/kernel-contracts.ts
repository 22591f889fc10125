/**
 * Kernel contract probes: one tiny graph per input contract of an ONNX Runtime kernel vitzoo builds
 * on (fused attention, normalisation, resampling, quantized matmuls, float16), each compared with a
 * float64 reference computed here from the same inputs. Platform-free: the same probes run in
 * Node (onnxruntime-node in a child process, `kernel-contracts.test.ts`) and in Chromium on wasm
 * and WebGPU (examples/web/browser-tests/kernels.spec.ts). `packages/onnx/KERNELS.md` explains each
 * contract with the kernel sources; `expect` below is what ONNX Runtime 1.30 does, per provider.
 */
import { createTensor, toFloat32, type DataType, type Tensor } from '@vitzoo/core';
import { attr, GraphBuilder, serializeModel, type AttributeInput, type Value } from '@vitzoo/onnx';
import {
  antialiasedBicubicTaps,
  attentionReference,
  bicubicTaps,
  blockQuantizedWeights,
  convReference,
  dynamicQuantizeReference,
  float32,
  geluReference,
  halfPair,
  integers,
  layerNormReference,
  linearAlignCornersTaps,
  matMulReference,
  quantizedMatMulReference,
  resampleReference,
  size,
  uniforms,
  type AttentionShape,
  type Taps,
} from './kernel-contracts-reference.js';


/** Where a probe runs: onnxruntime-node's CPU provider, onnxruntime-web's wasm, onnxruntime-web's WebGPU (JSEP). */
export type ProbeProvider = 'cpu' | 'wasm' | 'webgpu';

/**
 * 'ok': runs and matches the reference; 'error': session creation or run rejects with an error;
 * 'wrong': runs but the numbers differ from the reference; 'crash': the process died (isolated Node only).
 */
export type ProbeOutcome = 'ok' | 'error' | 'wrong' | 'crash';

/** On 'webgpu', whether the node ran on a WebGPU kernel or fell back to ONNX Runtime's CPU kernel in the same wasm. */
export type ProbePlacement = 'webgpu' | 'cpu';

export interface ProbeExpectation {
  outcome: ProbeOutcome;
  /** For 'error': a part of the error message. */
  mentions?: string;
}

/** The smallest session interface a probe needs (any @vitzoo/runtime Backend fits). */
export interface ProbeBackend {
  createSession(model: Uint8Array, options?: { extra?: Record<string, unknown> }): Promise<ProbeSession>;
}

export interface ProbeSession {
  run(feeds: Record<string, Tensor>): Promise<Record<string, Tensor>>;
  dispose(): Promise<void>;
}

interface Reference {
  shape: readonly number[];
  values: ArrayLike<number>;
}

export interface ProbeGraph {
  model: Uint8Array;
  feeds: Record<string, Tensor>;
  expected: Record<string, Reference>;
  /** |actual - expected| <= atol + rtol * |expected| everywhere. */
  atol: number;
  rtol: number;
}

export interface KernelProbe {
  /** `op/form`, e.g. 'MultiHeadAttention/bias-broadcast-batch'. */
  id: string;
  op: string;
  /** The contract in one line. */
  contract: string;
  expect: Record<ProbeProvider, ProbeOutcome | ProbeExpectation>;
  /** On 'webgpu': where the node runs (default 'webgpu'). */
  webgpuPlacement?: ProbePlacement;
  /**
   * The graph computes in float16: WebGPU adapters without the 'shader-f16' feature cannot compile
   * its shaders, and onnxruntime-web 1.30 (JSEP) then returns garbage without an error ('wrong').
   */
  float16?: boolean;
  build(): ProbeGraph;
}

export interface KernelProbeResult {
  id: string;
  op: string;
  provider: ProbeProvider;
  outcome: ProbeOutcome;
  expected: ProbeOutcome;
  placement?: ProbePlacement;
  expectedPlacement?: ProbePlacement;
  passed: boolean;
  /** The error message, or the largest difference from the reference. */
  detail: string;
  maxAbsDiff?: number;
}

// ---- probe construction -----------------------------------------------------------------------

const MICROSOFT = { domain: 'com.microsoft' } as const;

interface ProbeSpec {
  opset?: number;
  atol?: number;
  rtol?: number;
  /** Builds the graph; returns its outputs with their references. */
  graph(g: GraphBuilder, feed: (name: string, tensor: Tensor) => Value): Record<string, { value: Value; dtype?: DataType; reference: Reference }>;
}

function probeGraph(spec: ProbeSpec): ProbeGraph {
  const g = new GraphBuilder({ graphName: 'kernel_probe', opset: spec.opset ?? 17 });
  const feeds: Record<string, Tensor> = {};
  const feed = (name: string, tensor: Tensor) => {
    feeds[name] = tensor;
    return g.input(name, tensor.dtype, tensor.shape);
  };
  const outputs = spec.graph(g, feed);
  const expected: Record<string, Reference> = {};
  for (const [name, { value, dtype, reference }] of Object.entries(outputs)) {
    g.output(value, name, dtype ?? 'float32', reference.shape);
    expected[name] = reference;
  }
  return { model: serializeModel(g.build()), feeds, expected, atol: spec.atol ?? 1e-5, rtol: spec.rtol ?? 1e-4 };
}

const microsoft = (g: GraphBuilder, op: string, inputs: readonly (Value | null)[], attributes: Record<string, AttributeInput> = {}) =>
  g.op(op, inputs, attributes, MICROSOFT);

const everywhere = (outcome: ProbeOutcome): Record<ProbeProvider, ProbeOutcome> => ({ cpu: outcome, wasm: outcome, webgpu: outcome });

// ---- attention --------------------------------------------------------------------------------

/** com.microsoft Attention: x [B, S, D] · W [D, 3D] + bias [3D], split into heads, attention. */
function packedAttentionProbe(batch: number, length: number, heads: number, headSize: number, biasScale: number, seed: number, scale?: number): ProbeGraph {
  const dim = heads * headSize;
  return probeGraph({
    graph(g, feed) {
      const x = float32([batch, length, dim], seed);
      const weight = float32([dim, 3 * dim], seed + 1, 0.5);
      const bias = float32([3 * dim], seed + 2, biasScale);
      const qkv = matMulReference(x.data, weight.data, batch * length, dim, 3 * dim, bias.data);
      const part = (which: number) => {
        const out = new Float64Array(batch * length * dim);
        for (let r = 0; r < batch * length; r++) for (let i = 0; i < dim; i++) out[r * dim + i] = qkv[r * 3 * dim + which * dim + i]!;
        return out;
      };
      const attributes: Record<string, AttributeInput> = { num_heads: heads };
      if (scale !== undefined) attributes.scale = attr.float(scale);
      const output = microsoft(g, 'Attention', [feed('x', x), g.weight('qkv.weight', weight), g.weight('qkv.bias', bias)], attributes);
      const reference = attentionReference(part(0), part(1), part(2), { batch, queryLength: length, keyLength: length, heads, headSize, scale });
      return { y: { value: output, reference: { shape: [batch, length, dim], values: reference } } };
    },
  });
}

interface MultiHeadAttentionForm {
  batch: number;
  queryLength: number;
  keyLength: number;
  heads: number;
  headSize: number;
  scale?: number;
  biasDims?: readonly [number, number];
  /** The packed q/k/v bias input [3D]. */
  qkvBias?: boolean;
  dtype?: 'float32' | 'float16';
}

function multiHeadAttentionProbe(form: MultiHeadAttentionForm, seed: number): ProbeGraph {
  const { batch, queryLength, keyLength, heads, headSize } = form;
  const dim = heads * headSize;
  const half = form.dtype === 'float16';
  return probeGraph({
    atol: half ? 4e-3 : 1e-5,
    rtol: half ? 1e-2 : 1e-4,
    graph(g, feed) {
      const pair = (shape: number[], s: number, scale = 1) => (half ? halfPair(shape, s, scale) : { wide: float32(shape, s, scale), half: undefined });
      const q = pair([batch, queryLength, dim], seed);
      const k = pair([batch, keyLength, dim], seed + 1);
      const v = pair([batch, keyLength, dim], seed + 2);
      const inputs: (Value | null)[] = [feed('q', q.half ?? q.wide), feed('k', k.half ?? k.wide), feed('v', v.half ?? v.wide)];
      let qValues: ArrayLike<number> = q.wide.data;
      let kValues: ArrayLike<number> = k.wide.data;
      let vValues: ArrayLike<number> = v.wide.data;
      if (form.qkvBias) {
        const bias = float32([3 * dim], seed + 3);
        inputs.push(g.weight('qkv_bias', bias));
        const add = (values: Float32Array, offset: number) => Float64Array.from(values, (value, i) => value + bias.data[offset + (i % dim)]!);
        qValues = add(q.wide.data, 0);
        kValues = add(k.wide.data, dim);
        vValues = add(v.wide.data, 2 * dim);
      }
      let bias: AttentionShape['bias'];
      if (form.biasDims) {
        const dims = [form.biasDims[0], form.biasDims[1], queryLength, keyLength] as const;
        const biasPair = pair([...dims], seed + 4, 2);
        while (inputs.length < 5) inputs.push(null);
        inputs.push(feed('attention_bias', biasPair.half ?? biasPair.wide));
        bias = { values: biasPair.wide.data, dims };
      }
      const attributes: Record<string, AttributeInput> = { num_heads: heads };
      if (form.scale !== undefined) attributes.scale = attr.float(form.scale);
      const output = microsoft(g, 'MultiHeadAttention', inputs, attributes);
      const reference = attentionReference(qValues, kValues, vValues, { batch, queryLength, keyLength, heads, headSize, scale: form.scale, bias });
      return { y: { value: output, dtype: half ? 'float16' : 'float32', reference: { shape: [batch, queryLength, dim], values: reference } } };
    },
  });
}

// ---- normalisation and activation ---------------------------------------------------------------

function layerNormProbe(shape: readonly number[], withBias: boolean, dtype: 'float32' | 'float16', seed: number): ProbeGraph {
  const width = shape[shape.length - 1]!;
  const half = dtype === 'float16';
  return probeGraph({
    atol: half ? 4e-3 : 1e-5,
    rtol: half ? 1e-2 : 1e-4,
    graph(g, feed) {
      const x = half ? halfPair(shape, seed, 3) : { wide: float32(shape, seed, 3), half: undefined };
      const scale = half ? halfPair([width], seed + 1) : { wide: float32([width], seed + 1), half: undefined };
      const bias = half ? halfPair([width], seed + 2) : { wide: float32([width], seed + 2), half: undefined };
      const weight = (name: string, pair: { wide: Tensor<'float32'>; half: Tensor<'float16'> | undefined }) =>
        pair.half ? g.derivedWeight(name, 'float16', [width], () => pair.half!.data) : g.weight(name, pair.wide);
      const output = g.layerNormalization(feed('x', x.half ?? x.wide), weight('scale', scale), withBias ? weight('bias', bias) : null, 1e-6);
      const reference = layerNormReference(x.wide.data, width, scale.wide.data, withBias ? bias.wide.data : undefined, 1e-6);
      return { y: { value: output, dtype, reference: { shape, values: reference } } };
    },
  });
}

interface SkipLayerNormForm {
  shape: readonly number[];
  beta: boolean;
  bias: boolean;
}

/** com.microsoft SkipLayerNormalization with vitzoo's output wiring: output 0 and the sum (output 3). */
function skipLayerNormProbe(form: SkipLayerNormForm, seed: number): ProbeGraph {
  const width = form.shape[form.shape.length - 1]!;
  return probeGraph({
    graph(g, feed) {
      const x = float32(form.shape, seed, 2);
      const skip = float32(form.shape, seed + 1, 2);
      const gamma = float32([width], seed + 2);
      const beta = float32([width], seed + 3);
      const bias = float32([width], seed + 4);
      const inputs: (Value | null)[] = [feed('x', x), feed('skip', skip), g.weight('gamma', gamma), form.beta ? g.weight('beta', beta) : null];
      if (form.bias) inputs.push(g.weight('bias', bias));
      const [output, , , sum] = g.opMulti('SkipLayerNormalization', inputs, { epsilon: attr.float(1e-5) }, { ...MICROSOFT, outputs: 4, omitOutputs: [1, 2] });
      const summed = Float64Array.from(x.data, (value, i) => value + skip.data[i]! + (form.bias ? bias.data[i % width]! : 0));
      return {
        y: { value: output!, reference: { shape: form.shape, values: layerNormReference(summed, width, gamma.data, form.beta ? beta.data : undefined, 1e-5) } },
        sum: { value: sum!, reference: { shape: form.shape, values: summed } },
      };
    },
  });
}

function geluProbe(kind: 'com.microsoft' | 'onnx-20', dtype: 'float32' | 'float16', seed: number): ProbeGraph {
  const half = dtype === 'float16';
  const shape = [3, 40];
  return probeGraph({
    opset: kind === 'onnx-20' ? 20 : 17,
    atol: half ? 2e-3 : 1e-6,
    rtol: half ? 2e-3 : 1e-5,
    graph(g, feed) {
      // Inputs spread over [-8, 8] so both tails of erf are exercised.
      const x = half ? halfPair(shape, seed, 8) : { wide: float32(shape, seed, 8), half: undefined };
      const input = feed('x', x.half ?? x.wide);
      const output = kind === 'com.microsoft' ? microsoft(g, 'Gelu', [input]) : g.op('Gelu', [input]);
      return { y: { value: output, dtype, reference: { shape, values: Float64Array.from(x.wide.data, geluReference) } } };
    },
  });
}

// ---- resampling, convolution, indexing ---------------------------------------------------------

type ResizeMode = 'linear-align-corners' | 'cubic-half-pixel' | 'cubic-antialias' | 'cubic-exclude-outside';

const RESIZE_ATTRIBUTES: Record<ResizeMode, Record<string, AttributeInput>> = {
  'linear-align-corners': { mode: 'linear', coordinate_transformation_mode: 'align_corners' },
  'cubic-half-pixel': { mode: 'cubic', coordinate_transformation_mode: 'half_pixel', cubic_coeff_a: attr.float(-0.75) },
  // timm's resample_abs_pos_embed (torch bicubic with antialias=True), as packages/vit builds it.
  'cubic-antialias': { mode: 'cubic', coordinate_transformation_mode: 'half_pixel', cubic_coeff_a: attr.float(-0.5), antialias: 1, exclude_outside: 1 },
  // The same without antialias: identical when upscaling (antialiasing only widens the kernel when downscaling).
  'cubic-exclude-outside': { mode: 'cubic', coordinate_transformation_mode: 'half_pixel', cubic_coeff_a: attr.float(-0.5), exclude_outside: 1 },
};

const RESIZE_TAPS: Record<ResizeMode, (inLength: number, outLength: number) => Taps> = {
  'linear-align-corners': linearAlignCornersTaps,
  'cubic-half-pixel': bicubicTaps,
  'cubic-antialias': antialiasedBicubicTaps,
  'cubic-exclude-outside': antialiasedBicubicTaps,
};

function resizeProbe(mode: ResizeMode, from: readonly number[], to: readonly [number, number], seed: number): ProbeGraph {
  return probeGraph({
    // antialias is a Resize attribute from opset 18.
    opset: mode === 'cubic-antialias' ? 18 : 17,
    graph(g, feed) {
      const x = float32(from, seed);
      const [n, c, h, w] = from as [number, number, number, number];
      const output = g.op('Resize', [feed('x', x), null, null, g.ints([n, c, to[0], to[1]], 'sizes')], RESIZE_ATTRIBUTES[mode]);
      const taps = RESIZE_TAPS[mode];
      const reference = resampleReference(x.data, from, taps(h, to[0]), taps(w, to[1]));
      return { y: { value: output, reference: { shape: [n, c, to[0], to[1]], values: reference } } };
    },
  });
}

function convProbe(
  input: readonly number[],
  weightShape: readonly number[],
  options: { group: number; stride: number; pad: number },
  seed: number,
): ProbeGraph {
  return probeGraph({
    graph(g, feed) {
      const x = float32(input, seed);
      const w = float32(weightShape, seed + 1);
      const b = float32([weightShape[0]!], seed + 2);
      const [, , kh, kw] = weightShape as [number, number, number, number];
      const output = g.conv(feed('x', x), g.weight('w', w), g.weight('b', b), {
        kernelShape: [kh, kw],
        strides: [options.stride, options.stride],
        pads: [options.pad, options.pad, options.pad, options.pad],
        group: options.group,
      });
      const reference = convReference(x.data, input, w.data, weightShape, b.data, options);
      return { y: { value: output, reference: reference } };
    },
  });
}

function gatherProbe(indexType: 'int32' | 'int64', indices: readonly number[] | number, seed: number): ProbeGraph {
  return probeGraph({
    graph(g, feed) {
      const x = float32([2, 6, 3], seed);
      const scalar = typeof indices === 'number';
      const list = scalar ? [indices] : indices;
      const data = indexType === 'int32' ? Int32Array.from(list) : BigInt64Array.from(list.map(BigInt));
      const index = g.constant(indexType, scalar ? [] : [list.length], data as Int32Array, 'indices');
      const output = g.gather(feed('x', x), index, 1);
      const values: number[] = [];
      for (let b = 0; b < 2; b++) for (const i of list) for (let c = 0; c < 3; c++) values.push(x.data[(b * 6 + i) * 3 + c]!);
      return { y: { value: output, reference: { shape: scalar ? [2, 3] : [2, list.length, 3], values } } };
    },
  });
}

function expandProbe(seed: number): ProbeGraph {
  return probeGraph({
    graph(g, feed) {
      const token = float32([1, 2, 3], seed);
      const shape = createTensor('int64', [3], BigInt64Array.of(4n, 2n, 3n));
      const output = g.op('Expand', [feed('token', token), feed('shape', shape)]);
      const values = Array.from({ length: 4 }, () => Array.from(token.data)).flat();
      return { y: { value: output, reference: { shape: [4, 2, 3], values } } };
    },
  });
}

// ---- quantized matmuls and float16 storage -----------------------------------------------------

interface MatMulNBitsForm {
  inputShape: readonly number[];
  n: number;
  blockSize: number;
  bits?: 4 | 8;
  zeroPoints?: boolean;
  bias?: boolean;
  accuracyLevel?: number;
}

function matMulNBitsProbe(form: MatMulNBitsForm, seed: number): ProbeGraph {
  const k = form.inputShape[form.inputShape.length - 1]!;
  const rows = size(form.inputShape) / k;
  const bits = form.bits ?? 4;
  const approximate = (form.accuracyLevel ?? 0) === 4;
  return probeGraph({
    // accuracy_level 4 quantizes A to int8 per block: about 1% of the output's scale.
    atol: approximate ? 2e-2 : 1e-5,
    rtol: approximate ? 2e-2 : 1e-4,
    graph(g, feed) {
      const x = float32(form.inputShape, seed);
      const weights = blockQuantizedWeights(k, form.n, form.blockSize, bits, form.zeroPoints ?? false, seed + 1);
      const bias = float32([form.n], seed + 5);
      const inputs: (Value | null)[] = [
        feed('a', x),
        g.constant('uint8', [form.n, weights.blocks, weights.blob], weights.packed, 'b'),
        g.constant('float32', [form.n * weights.blocks], weights.scales, 'scales'),
        weights.zeroPoints ? g.constant('uint8', [weights.zeroPoints.length], weights.zeroPoints, 'zero_points') : null,
      ];
      if (form.bias) inputs.push(null, g.weight('bias', bias));
      const output = microsoft(g, 'MatMulNBits', trimOptional(inputs), {
        K: k,
        N: form.n,
        bits,
        block_size: form.blockSize,
        accuracy_level: form.accuracyLevel ?? 0,
      });
      const reference = matMulReference(x.data, weights.dequantized, rows, k, form.n, form.bias ? bias.data : undefined);
      return { y: { value: output, reference: { shape: [...form.inputShape.slice(0, -1), form.n], values: reference } } };
    },
  });
}

interface Int8Weights {
  k: number;
  n: number;
  signed: boolean;
  perColumn: boolean;
  zeroPoints: boolean;
}

/** int8/uint8 weights [K, N] with per-tensor or per-column scales and zero points. */
function int8Weights({ k, n, signed, perColumn, zeroPoints }: Int8Weights, seed: number) {
  const values = integers(seed, k * n, signed ? -127 : 0, signed ? 127 : 255);
  const columns = perColumn ? n : 1;
  const scales = Float32Array.from(uniforms(seed + 1, columns, 0.01), (s) => Math.abs(s) + 0.002);
  const zeros = zeroPoints ? integers(seed + 2, columns, signed ? -20 : 110, signed ? 20 : 150) : Array<number>(columns).fill(signed ? 0 : 0);
  return { values, scales, zeros, columns };
}

type Int8Form = 'DynamicQuantizeMatMul' | 'MatMulInteger' | 'MatMulIntegerToFloat';

/**
 * A float matmul with int8/uint8 weights and A quantized dynamically, as
 * 'DynamicQuantizeMatMul' (one com.microsoft node), 'MatMulInteger' (DynamicQuantizeLinear →
 * MatMulInteger → Cast → × a_scale × b_scale, all ai.onnx) or 'MatMulIntegerToFloat'
 * (DynamicQuantizeLinear → com.microsoft MatMulIntegerToFloat).
 */
function int8MatMulProbe(form: Int8Form, weights: Int8Weights & { inputShape: readonly number[]; bias: boolean }, seed: number): ProbeGraph {
  const { k, n, signed, inputShape } = weights;
  const rows = size(inputShape) / k;
  return probeGraph({
    atol: 1e-4,
    rtol: 1e-4,
    graph(g, feed) {
      const x = float32(inputShape, seed);
      const w = int8Weights(weights, seed + 1);
      const bias = float32([n], seed + 4);
      const type = signed ? 'int8' : 'uint8';
      const integers = (values: number[]) => (signed ? Int8Array.from(values) : Uint8Array.from(values));
      const a = feed('a', x);
      const b = g.constant(type, [k, n], integers(w.values), 'b');
      const bScale = g.constant('float32', [w.columns], w.scales, 'b_scale');
      const bZeroPoint = weights.zeroPoints ? g.constant(type, [w.columns], integers(w.zeros), 'b_zero_point') : null;
      const biasValue = weights.bias ? g.weight('bias', bias) : null;
      let output: Value;
      if (form === 'DynamicQuantizeMatMul') {
        output = microsoft(g, form, trimOptional([a, b, bScale, bZeroPoint, biasValue]));
      } else {
        const [quantized, aScale, aZeroPoint] = g.opMulti('DynamicQuantizeLinear', [a], {}, { outputs: 3 }) as [Value, Value, Value];
        if (form === 'MatMulIntegerToFloat') {
          output = microsoft(g, form, trimOptional([quantized, b, aScale, bScale, aZeroPoint, bZeroPoint, biasValue]));
        } else {
          const integer = g.op('MatMulInteger', trimOptional([quantized, b, aZeroPoint, bZeroPoint]));
          output = g.mul(g.mul(g.op('Cast', [integer], { to: 1 }), aScale), bScale);
          if (biasValue) output = g.add(output, biasValue);
        }
      }
      const quantizedA = dynamicQuantizeReference(x.data);
      const reference = quantizedMatMulReference(
        quantizedA.values,
        quantizedA.zeroPoint,
        quantizedA.scale,
        w.values,
        w.zeros,
        w.scales,
        rows,
        k,
        n,
        weights.bias ? bias.data : undefined,
      );
      return { y: { value: output, reference: { shape: [...inputShape.slice(0, -1), n], values: reference } } };
    },
  });
}

/** Drops trailing omitted optional inputs. */
function trimOptional(inputs: (Value | null)[]): (Value | null)[] {
  const out = [...inputs];
  while (out.length > 0 && out[out.length - 1] === null) out.pop();
  return out;
}

/** float16 weights stored as an initializer, Cast to float32 before a float32 MatMul. */
function float16StorageProbe(seed: number): ProbeGraph {
  return probeGraph({
    graph(g, feed) {
      const x = float32([2, 3, 16], seed);
      const w = halfPair([16, 8], seed + 1);
      const weight = g.derivedWeight('w', 'float16', [16, 8], () => w.half.data);
      const output = g.matMul(feed('x', x), g.op('Cast', [weight], { to: 1 }));
      return { y: { value: output, reference: { shape: [2, 3, 8], values: matMulReference(x.data, w.wide.data, 6, 16, 8) } } };
    },
  });
}

/** A float16 MatMul (activations and weights float16), the form a float16 compute graph needs. */
function float16MatMulProbe(seed: number): ProbeGraph {
  return probeGraph({
    atol: 4e-3,
    rtol: 1e-2,
    graph(g, feed) {
      const x = halfPair([2, 3, 16], seed);
      const w = halfPair([16, 8], seed + 1, 0.5);
      const output = g.matMul(feed('x', x.half), g.derivedWeight('w', 'float16', [16, 8], () => w.half.data));
      return { y: { value: output, dtype: 'float16', reference: { shape: [2, 3, 8], values: matMulReference(x.wide.data, w.wide.data, 6, 16, 8) } } };
    },
  });
}

// ---- the probes ---------------------------------------------------------------------------------

const OK = everywhere('ok');
const WRONG_ON_WEBGPU: Record<ProbeProvider, ProbeOutcome> = { cpu: 'ok', wasm: 'ok', webgpu: 'wrong' };
/** JSEP indexes the packed weights of 4-bit blocks over 32 by the wrong unit. */
const BLOCKS_OF_32_AT_MOST = WRONG_ON_WEBGPU;
const FULL_BIAS_ONLY = 'Expect "attention_bias" shape (batch_size, num_heads, sequence_length, total_sequence_length)';
const errorOnWebGpu = (mentions: string): Record<ProbeProvider, ProbeOutcome | ProbeExpectation> => ({
  cpu: 'ok',
  wasm: 'ok',
  webgpu: { outcome: 'error', mentions },
});

/** A MultiHeadAttention probe. */
function mha(
  name: string,
  contract: string,
  form: MultiHeadAttentionForm,
  seed: number,
  expect?: Record<ProbeProvider, ProbeOutcome | ProbeExpectation>,
  details?: Pick<KernelProbe, 'webgpuPlacement' | 'float16'>,
): KernelProbe {
  return probe(`MultiHeadAttention/${name}`, contract, () => multiHeadAttentionProbe(form, seed), expect, details);
}

/** A probe of the op named before the '/' of its id. */
function probe(
  id: string,
  contract: string,
  build: () => ProbeGraph,
  expect: Record<ProbeProvider, ProbeOutcome | ProbeExpectation> = OK,
  details: Pick<KernelProbe, 'webgpuPlacement' | 'float16'> = {},
): KernelProbe {
  return { id, op: id.slice(0, id.indexOf('/')), contract, expect, build, ...details };
}

export const KERNEL_PROBES: readonly KernelProbe[] = [
  // Attention (com.microsoft): ViT's packed qkv projection + attention.
  probe(
    'Attention/packed-qkv-bias',
    'x [B, S, D], weight [D, 3D], bias [3D]; heads of size 4; batch 2',
    () => packedAttentionProbe(2, 5, 3, 4, 1, 101),
  ),
  probe(
    'Attention/zero-bias-odd-head-size',
    'qkv_bias=False as an all-zero bias [3D] (the bias input must be given); head size 3',
    () => packedAttentionProbe(1, 7, 2, 3, 0, 111),
  ),
  // JSEP passes the scale to its kernel as an int32 (0.37 → 0, which means the default).
  probe(
    'Attention/scale',
    'the scale attribute (0.37) replaces 1/sqrt(head size)',
    () => packedAttentionProbe(1, 5, 2, 4, 1, 141, 0.37),
    WRONG_ON_WEBGPU,
  ),
  probe('Attention/head-size-1', 'head size 1 (D = heads = 4)', () => packedAttentionProbe(2, 5, 4, 1, 1, 121)),
  probe('Attention/head-size-260', 'one head of size 260 (> 256)', () => packedAttentionProbe(1, 3, 1, 260, 1, 131)),
  // MultiHeadAttention (com.microsoft): Swin, CaiT, CSWin, FDViT, ViT 'fused'.
  mha('self', 'q, k, v [B, S, D], no optional inputs, default scale 1/sqrt(head size)', { batch: 2, queryLength: 6, keyLength: 6, heads: 3, headSize: 4 }, 201),
  // JSEP truncates the scale to an integer (0.37 → 0, which means the default; 1.7 → 1).
  mha(
    'scale',
    'the scale attribute (0.37) replaces 1/sqrt(head size)',
    { batch: 1, queryLength: 5, keyLength: 5, heads: 2, headSize: 4, scale: 0.37 },
    211,
    WRONG_ON_WEBGPU,
  ),
  mha(
    'scale-1',
    'scale 1 with the query pre-scaled (the softmax scale folded into the q projection)',
    { batch: 2, queryLength: 5, keyLength: 5, heads: 2, headSize: 4, scale: 1 },
    215,
  ),
  mha(
    'query-length-1',
    'q [B, 1, D] against k, v [B, 7, D] (CaiT class attention)',
    { batch: 2, queryLength: 1, keyLength: 7, heads: 2, headSize: 4, scale: 0.5 },
    221,
  ),
  mha('unequal-lengths', 'q [B, 3, D] against k, v [B, 8, D]', { batch: 2, queryLength: 3, keyLength: 8, heads: 2, headSize: 4 }, 231),
  mha('long-sequence', 'S = T = 70 (more keys than one softmax workgroup)', { batch: 1, queryLength: 70, keyLength: 70, heads: 2, headSize: 8 }, 241),
  mha('head-size-odd', 'head size 3 (D = 15, 5 heads)', { batch: 2, queryLength: 4, keyLength: 4, heads: 5, headSize: 3 }, 251),
  mha('head-size-1', 'head size 1 (D = heads = 4)', { batch: 2, queryLength: 5, keyLength: 5, heads: 4, headSize: 1 }, 261),
  mha('head-size-260', 'one head of size 260 (> 256)', { batch: 1, queryLength: 3, keyLength: 3, heads: 1, headSize: 260 }, 271),
  mha('bias-full', 'attention_bias [B, heads, S, T]', { batch: 2, queryLength: 6, keyLength: 6, heads: 3, headSize: 4, biasDims: [2, 3] }, 281),
  mha(
    'bias-broadcast-batch',
    'attention_bias [1, heads, S, T] broadcast over the batch',
    { batch: 2, queryLength: 6, keyLength: 6, heads: 3, headSize: 4, biasDims: [1, 3] },
    291,
    errorOnWebGpu(FULL_BIAS_ONLY),
  ),
  mha(
    'bias-broadcast-heads',
    'attention_bias [B, 1, S, T] broadcast over the heads',
    { batch: 2, queryLength: 6, keyLength: 6, heads: 3, headSize: 4, biasDims: [2, 1] },
    301,
    errorOnWebGpu(FULL_BIAS_ONLY),
  ),
  mha(
    'bias-broadcast-both',
    'attention_bias [1, 1, S, T]',
    { batch: 2, queryLength: 6, keyLength: 6, heads: 3, headSize: 4, biasDims: [1, 1] },
    311,
    errorOnWebGpu(FULL_BIAS_ONLY),
  ),
  mha(
    'bias-unequal-lengths',
    'attention_bias [B, heads, S, T] with S = 3, T = 8',
    { batch: 2, queryLength: 3, keyLength: 8, heads: 2, headSize: 4, biasDims: [2, 2] },
    321,
  ),
  mha('qkv-bias', 'the packed q/k/v bias input [3D] (input 3)', { batch: 2, queryLength: 5, keyLength: 5, heads: 2, headSize: 4, qkvBias: true }, 331),
  mha(
    'qkv-bias-query-length-1',
    'the q/k/v bias input with q [B, 1, D]',
    { batch: 2, queryLength: 1, keyLength: 5, heads: 2, headSize: 4, qkvBias: true },
    341,
    errorOnWebGpu('AddBiasReshape is not implemented'),
  ),
  mha('float16', 'float16 q, k, v', { batch: 2, queryLength: 5, keyLength: 5, heads: 2, headSize: 4, dtype: 'float16' }, 351, OK, { float16: true }),
  // Gelu.
  probe('Gelu/com.microsoft', 'com.microsoft Gelu is the exact erf GELU', () => geluProbe('com.microsoft', 'float32', 401)),
  probe('Gelu/com.microsoft-float16', 'com.microsoft Gelu on float16', () => geluProbe('com.microsoft', 'float16', 411), OK, { float16: true }),
  probe('Gelu/onnx-opset-20', 'ai.onnx Gelu (opset 20, approximate="none")', () => geluProbe('onnx-20', 'float32', 421)),
  // LayerNormalization (ai.onnx 17).
  probe('LayerNormalization/3d', 'x [B, S, D], axis -1, scale and bias', () => layerNormProbe([2, 5, 8], true, 'float32', 501)),
  probe('LayerNormalization/no-bias', 'bias omitted', () => layerNormProbe([2, 5, 8], false, 'float32', 511)),
  probe('LayerNormalization/4d-per-head', 'x [B, S, heads, head size], axis -1 (qk_norm)', () => layerNormProbe([2, 5, 3, 4], true, 'float32', 521)),
  probe('LayerNormalization/float16', 'float16 x, scale, bias', () => layerNormProbe([2, 5, 8], true, 'float16', 531), OK, { float16: true }),
  // SkipLayerNormalization (com.microsoft).
  probe(
    'SkipLayerNormalization/3d-sum-output',
    'x, skip [B, S, D], gamma, beta; outputs 0 and 3 (the sum), 1 and 2 omitted',
    () => skipLayerNormProbe({ shape: [2, 5, 8], beta: true, bias: false }, 601),
  ),
  probe('SkipLayerNormalization/2d', 'x, skip [rows, D] (2-D)', () => skipLayerNormProbe({ shape: [10, 8], beta: true, bias: false }, 611)),
  probe(
    'SkipLayerNormalization/beta-and-bias',
    'beta and bias [D] (input 4) given',
    () => skipLayerNormProbe({ shape: [2, 5, 8], beta: true, bias: true }, 615),
  ),
  // JSEP sees the omitted beta as an empty tensor and refuses it.
  probe(
    'SkipLayerNormalization/no-beta-with-bias',
    'beta omitted, bias [D] given (input 4)',
    () => skipLayerNormProbe({ shape: [2, 5, 8], beta: false, bias: true }, 621),
    errorOnWebGpu('Beta must be 1D'),
  ),
  // Resize.
  probe(
    'Resize/linear-align-corners',
    'NCHW, sizes, mode linear, align_corners (FDViT)',
    () => resizeProbe('linear-align-corners', [1, 2, 4, 5], [7, 3], 701),
  ),
  probe(
    'Resize/cubic-upscale',
    'mode cubic, half_pixel, cubic_coeff_a -0.75 = PyTorch bicubic (align_corners=False), upscaling',
    () => resizeProbe('cubic-half-pixel', [1, 2, 4, 4], [7, 6], 711),
  ),
  probe(
    'Resize/cubic-downscale',
    'the same bicubic, downscaling (no antialias, as PyTorch)',
    () => resizeProbe('cubic-half-pixel', [2, 2, 7, 6], [4, 5], 721),
  ),
  // JSEP's resize.ts refuses antialias (throws at run time).
  probe(
    'Resize/cubic-antialias-downscale',
    'opset 18: cubic, half_pixel, cubic_coeff_a -0.5, antialias 1, exclude_outside 1 = PyTorch bicubic with antialias=True, 7×6 → 4×5',
    () => resizeProbe('cubic-antialias', [2, 2, 7, 6], [4, 5], 731),
    errorOnWebGpu('Only default value (0) for Antialias attribute is supported'),
  ),
  probe(
    'Resize/cubic-antialias-upscale',
    'the same antialiased bicubic, upscaling 4×4 → 7×6 (edge taps excluded, not clamped)',
    () => resizeProbe('cubic-antialias', [1, 2, 4, 4], [7, 6], 741),
    errorOnWebGpu('Only default value (0) for Antialias attribute is supported'),
  ),
  probe(
    'Resize/cubic-exclude-outside-upscale',
    'antialias left out (opset 17): cubic_coeff_a -0.5, exclude_outside 1, upscaling 4×4 → 7×6 = PyTorch bicubic with antialias=True',
    () => resizeProbe('cubic-exclude-outside', [1, 2, 4, 4], [7, 6], 751),
  ),
  // Conv.
  probe(
    'Conv/depthwise-3x3',
    'group = channels, 3x3, pad 1, bias (CSWin LePE, FDViT)',
    () => convProbe([2, 4, 5, 6], [4, 1, 3, 3], { group: 4, stride: 1, pad: 1 }, 801),
  ),
  probe(
    'Conv/grouped',
    'group 2, 4 → 6 channels, 3x3, stride 2, pad 1',
    () => convProbe([2, 4, 7, 6], [6, 2, 3, 3], { group: 2, stride: 2, pad: 1 }, 811),
  ),
  probe(
    'Conv/patch-embedding',
    'kernel = stride = 4 on a non-square image (patch embedding)',
    () => convProbe([1, 3, 8, 12], [5, 3, 4, 4], { group: 1, stride: 4, pad: 0 }, 821),
  ),
  // Gather and Expand.
  probe('Gather/int32-indices', 'int32 indices [n] with repeats, axis 1 (Swin windows)', () => gatherProbe('int32', [5, 0, 2, 2, 1], 901)),
  probe('Gather/int64-scalar', 'a scalar int64 index, axis 1 (class token)', () => gatherProbe('int64', 0, 911)),
  probe('Expand/batch', '[1, n, D] to [B, n, D]', () => expandProbe(921)),
  // MatMulNBits (com.microsoft).
  probe(
    'MatMulNBits/2d-block-32',
    'A [M, K], 4 bits, block 32, no zero points (default 8)',
    () => matMulNBitsProbe({ inputShape: [3, 64], n: 8, blockSize: 32 }, 1001),
  ),
  probe(
    'MatMulNBits/3d-zero-points',
    'A [B, S, K], packed uint8 zero points',
    () => matMulNBitsProbe({ inputShape: [2, 3, 64], n: 8, blockSize: 32, zeroPoints: true }, 1011),
  ),
  // JSEP reads A past the end of each row for the padding and multiplies it by the padded weights.
  probe(
    'MatMulNBits/k-not-multiple-of-block',
    'K = 40 with block 32 (last block padded), odd block count',
    () => matMulNBitsProbe({ inputShape: [3, 40], n: 8, blockSize: 32, zeroPoints: true }, 1021),
    WRONG_ON_WEBGPU,
  ),
  // JSEP reads the zero points as 32-bit words (ShapeUtil.convertShape): their byte count must be a multiple of 4.
  probe(
    'MatMulNBits/zero-points-not-word-multiple',
    'N = 10, 2 blocks: 10 bytes of zero points',
    () => matMulNBitsProbe({ inputShape: [2, 64], n: 10, blockSize: 32, zeroPoints: true }, 1026),
    errorOnWebGpu('cannot convert shape'),
  ),
  probe('MatMulNBits/block-16', 'block 16 (the smallest)', () => matMulNBitsProbe({ inputShape: [2, 64], n: 4, blockSize: 16 }, 1031)),
  probe('MatMulNBits/block-64', 'block 64', () => matMulNBitsProbe({ inputShape: [2, 128], n: 4, blockSize: 64 }, 1036), BLOCKS_OF_32_AT_MOST),
  probe('MatMulNBits/block-128', 'block 128', () => matMulNBitsProbe({ inputShape: [2, 256], n: 4, blockSize: 128 }, 1041), BLOCKS_OF_32_AT_MOST),
  probe(
    'MatMulNBits/bias',
    'the bias input [N] (input 5)',
    () => matMulNBitsProbe({ inputShape: [3, 64], n: 8, blockSize: 32, bias: true }, 1051),
    errorOnWebGpu('MatMulNBits requires 3 or 4 inputs'),
  ),
  probe(
    'MatMulNBits/accuracy-level-4',
    'accuracy_level 4 (A quantized to int8 per block)',
    () => matMulNBitsProbe({ inputShape: [4, 128], n: 8, blockSize: 32, accuracyLevel: 4 }, 1061),
  ),
  // JSEP's kernel constructor refuses it, so the whole session fails (no CPU fallback).
  probe(
    'MatMulNBits/8-bit',
    'bits 8',
    () => matMulNBitsProbe({ inputShape: [3, 64], n: 8, blockSize: 32, bits: 8, zeroPoints: true }, 1071),
    errorOnWebGpu('Only 2b and 4b quantization is supported'),
  ),
  // DynamicQuantizeMatMul (com.microsoft).
  probe(
    'DynamicQuantizeMatMul/per-tensor',
    'A [M, K] float, B int8 [K, N], b_scale [1], no zero point',
    () => int8MatMulProbe('DynamicQuantizeMatMul', { inputShape: [3, 32], k: 32, n: 8, signed: true, perColumn: false, zeroPoints: false, bias: false }, 1101),
    OK,
    { webgpuPlacement: 'cpu' },
  ),
  probe(
    'DynamicQuantizeMatMul/per-column-bias-3d',
    'A [B, S, K], b_scale [N], bias [N]',
    () => int8MatMulProbe('DynamicQuantizeMatMul', { inputShape: [2, 3, 32], k: 32, n: 8, signed: true, perColumn: true, zeroPoints: false, bias: true }, 1111),
    OK,
    { webgpuPlacement: 'cpu' },
  ),
  probe(
    'DynamicQuantizeMatMul/uint8-zero-points',
    'B uint8 with per-column zero points [N]',
    () => int8MatMulProbe('DynamicQuantizeMatMul', { inputShape: [3, 32], k: 32, n: 8, signed: false, perColumn: true, zeroPoints: true, bias: true }, 1121),
    OK,
    { webgpuPlacement: 'cpu' },
  ),
  // MatMulInteger + DynamicQuantizeLinear (ai.onnx), MatMulIntegerToFloat (com.microsoft).
  probe(
    'MatMulInteger/dynamic-quantize-linear',
    'DynamicQuantizeLinear(A) → MatMulInteger with int8 B → Cast → × scales (per tensor)',
    () => int8MatMulProbe('MatMulInteger', { inputShape: [2, 3, 32], k: 32, n: 8, signed: true, perColumn: false, zeroPoints: false, bias: false }, 1201),
    OK,
    { webgpuPlacement: 'cpu' },
  ),
  probe(
    'MatMulInteger/per-column-zero-points',
    'uint8 B with per-column b_zero_point [N] and per-column scales',
    () => int8MatMulProbe('MatMulInteger', { inputShape: [3, 32], k: 32, n: 8, signed: false, perColumn: true, zeroPoints: true, bias: false }, 1211),
    OK,
    { webgpuPlacement: 'cpu' },
  ),
  probe(
    'MatMulIntegerToFloat/per-column-bias',
    'uint8 A from DynamicQuantizeLinear, int8 B, b_scale [N], bias [N]',
    () => int8MatMulProbe('MatMulIntegerToFloat', { inputShape: [2, 3, 32], k: 32, n: 8, signed: true, perColumn: true, zeroPoints: false, bias: true }, 1301),
    OK,
    { webgpuPlacement: 'cpu' },
  ),
  // float16.
  probe('Cast/float16-weights', 'float16 initializer → Cast(float32) → MatMul', () => float16StorageProbe(1401)),
  probe('MatMul/float16', 'MatMul on float16 activations and weights', () => float16MatMulProbe(1411), OK, { float16: true }),
];

// ---- running --------------------------------------------------------------------------------------

function expectation(value: ProbeOutcome | ProbeExpectation): ProbeExpectation {
  return typeof value === 'string' ? { outcome: value } : value;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The process running the session died (the isolated Node backend reports the signal). */
function isCrash(error: unknown): boolean {
  const signal = (error as { signal?: unknown } | undefined)?.signal;
  return typeof signal === 'string' && signal.length > 0;
}

/**
 * A tensor's values as numbers. float16 data are either raw bit patterns (a Uint16Array, vitzoo's
 * Tensor convention) or, from onnxruntime-web where the JavaScript engine has Float16Array, the
 * values themselves.
 */
function numbers(tensor: Tensor): ArrayLike<number> {
  if (tensor.dtype === 'float16' && !(tensor.data instanceof Uint16Array)) return tensor.data as unknown as ArrayLike<number>;
  return toFloat32(tensor).data;
}

function compare(actual: Record<string, Tensor>, graph: ProbeGraph): { maxAbsDiff: number; within: boolean; detail: string } {
  let maxAbsDiff = 0;
  let within = true;
  const notes: string[] = [];
  for (const [name, reference] of Object.entries(graph.expected)) {
    const tensor = actual[name];
    if (!tensor) return { maxAbsDiff: Infinity, within: false, detail: `output '${name}' missing` };
    if (tensor.shape.join(',') !== reference.shape.join(',')) {
      const detail = `output '${name}' has shape [${tensor.shape.join(', ')}], expected [${reference.shape.join(', ')}]`;
      return { maxAbsDiff: Infinity, within: false, detail };
    }
    const values = numbers(tensor);
    let worst = 0;
    for (let i = 0; i < values.length; i++) {
      const expected = reference.values[i]!;
      const diff = Math.abs(values[i]! - expected);
      if (!(diff <= graph.atol + graph.rtol * Math.abs(expected))) within = false;
      if (!(diff <= worst)) worst = Number.isNaN(diff) ? Infinity : diff;
    }
    maxAbsDiff = Math.max(maxAbsDiff, worst);
    const container = tensor.dtype === 'float16' && !(tensor.data instanceof Uint16Array) ? ` as ${tensor.data.constructor.name}` : '';
    notes.push(`${name} ${tensor.dtype}${container} [${tensor.shape.join(', ')}] max |diff| ${worst.toExponential(2)}`);
  }
  return { maxAbsDiff, within, detail: notes.join('; ') };
}

export interface ProbeRunOptions {
  /** Extra ONNX Runtime session options for every session. */
  extra?: Record<string, unknown>;
  /** On 'webgpu': whether the adapter has the 'shader-f16' feature (decides what float16 probes must do). */
  shaderF16?: boolean;
}

/** Runs one probe: builds its graph, runs it, compares every output with the reference. */
export async function runKernelProbe(
  probe: KernelProbe,
  backend: ProbeBackend,
  provider: ProbeProvider,
  options: ProbeRunOptions = {},
): Promise<KernelProbeResult> {
  const wanted = provider === 'webgpu' && probe.float16 && options.shaderF16 === false ? { outcome: 'wrong' as const } : expectation(probe.expect[provider]);
  const graph = probe.build();
  const result: KernelProbeResult = { id: probe.id, op: probe.op, provider, outcome: 'ok', expected: wanted.outcome, passed: false, detail: '' };
  if (provider === 'webgpu') result.expectedPlacement = probe.webgpuPlacement ?? 'webgpu';
  try {
    const session = await backend.createSession(graph.model, options.extra ? { extra: options.extra } : undefined);
    try {
      const outputs = await session.run(graph.feeds);
      const comparison = compare(outputs, graph);
      result.outcome = comparison.within ? 'ok' : 'wrong';
      result.maxAbsDiff = comparison.maxAbsDiff;
      result.detail = comparison.detail;
    } finally {
      await session.dispose();
    }
  } catch (error) {
    result.outcome = isCrash(error) ? 'crash' : 'error';
    result.detail = errorText(error);
  }
  result.passed = result.outcome === wanted.outcome && (wanted.mentions === undefined || result.detail.includes(wanted.mentions));
  return result;
}

/** Runs every probe (or those whose id starts with one of `only`) one after the other. */
export async function runKernelProbes(
  backend: ProbeBackend,
  provider: ProbeProvider,
  options: ProbeRunOptions & { only?: readonly string[]; beforeEach?(probe: KernelProbe): void } = {},
): Promise<KernelProbeResult[]> {
  const results: KernelProbeResult[] = [];
  for (const probe of KERNEL_PROBES) {
    if (options.only && !options.only.some((prefix) => probe.id.startsWith(prefix))) continue;
    options.beforeEach?.(probe);
    results.push(await runKernelProbe(probe, backend, provider, options));
  }
  return results;
}

/**
 * Session options that make ONNX Runtime log, at session creation, which execution provider each
 * node was placed on (`VerifyEachNodeIsAssignedToAnEp`). onnxruntime-web prints it on the console.
 */
export const NODE_PLACEMENT_LOGGING = { logSeverityLevel: 0, logVerbosityLevel: 0 } as const;

const PROVIDER_NAMES: Record<string, ProbePlacement> = { JsExecutionProvider: 'webgpu', WebGpuExecutionProvider: 'webgpu', CPUExecutionProvider: 'cpu' };

/**
 * Where ONNX Runtime placed a probe's node (named `/<op>` by the builder), read from the node
 * placement log of its session: `All nodes placed on [X]`, or `Node(s) placed on [X]` followed by
 * `  <op> (<name>)` lines.
 */
export function placementFromLog(lines: readonly string[], op: string): ProbePlacement | undefined {
  let current: ProbePlacement | undefined;
  let all: ProbePlacement | undefined;
  for (const line of lines) {
    const everything = /All nodes placed on \[(\w+)\]/.exec(line);
    if (everything) all = PROVIDER_NAMES[everything[1]!];
    const some = /Node\(s\) placed on \[(\w+)\]/.exec(line);
    if (some) current = PROVIDER_NAMES[some[1]!];
    else if (current && line.includes(`${op} (/${op})`)) return current;
  }
  return all;
}
