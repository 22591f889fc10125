import {
  CheckpointMismatchError,
  resolveQ4BlockSize,
  HEAD_OUTPUT_NAMES,
  InvalidArgumentError,
  elementCount,
  float32BitsToFloat16,
  isOutputName,
  resolveDtype,
  toFloat32,
  type BuiltGraph,
  type Dtype,
  type GraphBuildOptions,
  type OutputName,
  type StateDict,
  type Tensor,
} from '@vitzoo/core';
import { attr, GraphBuilder, type Value } from '../builder.js';
import { toBuiltGraph } from '../serialize.js';
import { INT8_KERNEL, INT8_KERNELS, linearWeights, quantizedMatMul, type Int8Kernel } from './precision.js';

/** A graph value's shape as outputs declare it: numbers for fixed sizes, names for dynamic ones. */
export type Shape = readonly (number | string)[];

export interface GraphLayersOptions extends GraphBuildOptions {
  /** Architecture id: named in errors and in the graph's metadata. */
  architecture: string;
  /** The architecture's builder version (metadata). */
  builderVersion?: string;
  /** ONNX opset (default 17). */
  opset?: number;
  /** int8 graphs: which ONNX Runtime kernels compute a Linear (default INT8_KERNEL, the fastest; others for `pnpm bench`). */
  int8Kernel?: Int8Kernel;
}

/** Initializers with fewer elements stay float32 in fp16 graphs (norm weights, biases, scalars). */
const HALF_PRECISION_MIN_RANK = 2;

/** [rows, cols] → [cols, rows], in cache-friendly blocks. */
export function transpose2d(data: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  const block = 32;
  for (let r0 = 0; r0 < rows; r0 += block) {
    const r1 = Math.min(r0 + block, rows);
    for (let c0 = 0; c0 < cols; c0 += block) {
      const c1 = Math.min(c0 + block, cols);
      for (let r = r0; r < r1; r++) {
        const rowOffset = r * cols;
        for (let c = c0; c < c1; c++) out[c * rows + r] = data[rowOffset + c]!;
      }
    }
  }
  return out;
}

/** float32 values as IEEE half bit patterns (round to nearest even). */
export function toHalf(values: Float32Array): Uint16Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = float32BitsToFloat16(bits[i]!);
  return out;
}

/**
 * The graph layers every architecture is built from: checkpoint weights by key (a missing key is a
 * `CheckpointMismatchError`), Linear / LayerNorm / GELU / MLP / Conv, attention (fused kernels, or
 * plain operators when its probabilities are asked for), token↔image reshapes, and the graph's
 * outputs. Build options are decided here, not in the architectures: the weight precision
 * (`dtype`) in `linear` and `weight`, extra outputs (`attention.*`, `intermediates.*`, `rollout`)
 * through `wants` / `produce`.
 *
 * Node names follow one rule: `/<reference module path>/<Op>` (e.g. `/blocks.0.attn.qkv/MatMul`);
 * initializers carry the checkpoint key they hold (`blocks.0.attn.qkv.weight`), transposed or
 * converted where a kernel needs it.
 */
export class GraphLayers {
  readonly g: GraphBuilder;
  readonly architecture: string;
  readonly dtype: Dtype;
  /** q4 graphs: the requested weights per block (a Linear whose K it does not divide uses a smaller block, see q4Layout). */
  readonly q4BlockSize: number;
  readonly int8Kernel: Int8Kernel;
  /** The requested outputs, expanded ('attention' → every module), in graph order. */
  readonly outputs: readonly OutputName[];
  private readonly requested: ReadonlySet<string>;
  private readonly produced = new Map<string, { value: Value; shape: Shape }>();
  private readonly weightValues = new Map<string, Value>();

  constructor(
    private readonly weights: StateDict,
    options: GraphLayersOptions,
  ) {
    this.architecture = options.architecture;
    this.dtype = resolveDtype(options.dtype);
    this.q4BlockSize = resolveQ4BlockSize(options.q4BlockSize);
    this.int8Kernel = options.int8Kernel ?? INT8_KERNEL;
    if (!INT8_KERNELS.includes(this.int8Kernel)) throw new InvalidArgumentError('int8Kernel', `int8Kernel must be one of ${INT8_KERNELS.join(', ')}, got ${JSON.stringify(this.int8Kernel)}.`);
    const outputs = options.outputs ?? ['logits'];
    for (const output of outputs) {
      if (!isOutputName(output)) throw new InvalidArgumentError('outputs', `'${output}' is not an output name (expand groups with resolveOutputs first).`);
    }
    this.outputs = outputs;
    this.requested = new Set(outputs);
    this.g = new GraphBuilder({
      graphName: options.graphName ?? options.architecture,
      opset: options.opset,
      metadata: {
        'vitzoo.architecture': options.architecture,
        'vitzoo.builder_version': options.builderVersion ?? 'unversioned',
        'vitzoo.dtype': this.dtype,
        ...(this.dtype === 'q4' ? { 'vitzoo.q4_block_size': String(this.q4BlockSize) } : {}),
      },
    });
  }

  // ---- weights -------------------------------------------------------------------------------

  has(key: string): boolean {
    return this.weights[key] !== undefined;
  }

  /** The checkpoint tensor under `key`; a missing key is a CheckpointMismatchError naming it. */
  tensor(key: string): Tensor {
    const tensor = this.weights[key];
    if (!tensor) throw new CheckpointMismatchError(this.architecture, { missing: [key], unexpected: [], misshaped: [] });
    return tensor;
  }

  /**
   * The weight under `key` as a float32 graph value (optionally viewed with another shape of the
   * same size). In fp16 graphs matrices and kernels are stored as float16 and cast back to float32
   * by the graph (half the bytes; ONNX Runtime folds the cast when it loads the model).
   */
  weight(key: string, options: { shape?: readonly number[] } = {}): Value {
    const tensor = this.tensor(key);
    const shape = options.shape ?? tensor.shape;
    if (elementCount(shape) !== elementCount(tensor.shape)) {
      throw new InvalidArgumentError('shape', `Cannot view ${key} [${tensor.shape.join(', ')}] as [${shape.join(', ')}].`);
    }
    const cacheKey = `${key}|${shape.join(',')}`;
    let value = this.weightValues.get(cacheKey);
    if (!value) {
      // One initializer per key and view: a weight used twice is shared, not defined twice. It is
      // named by its checkpoint key; a second, differently shaped view of it gets the shape appended.
      const taken = [...this.weightValues.keys()].some((existing) => existing.startsWith(`${key}|`));
      const name = taken ? `${key}:${shape.join('x')}` : key;
      value = this.floatInitializer(name, shape, () => toFloat32(tensor).data);
      this.weightValues.set(cacheKey, value);
    }
    return value;
  }

  optionalWeight(key: string): Value | null {
    return this.has(key) ? this.weight(key) : null;
  }

  /**
   * A float32 initializer whose values are computed when the model is written (transposed or
   * gathered weights, build-time constants); stored as float16 in fp16 graphs when it is a matrix.
   */
  floatInitializer(name: string, shape: readonly number[], produce: () => Float32Array): Value {
    if (this.dtype === 'fp16' && shape.length >= HALF_PRECISION_MIN_RANK) {
      const half = this.g.derivedWeight(name, 'float16', shape, () => toHalf(produce()));
      return this.g.module(name, () => this.g.op('Cast', [half], { to: 1 }));
    }
    return this.g.derivedWeight(name, 'float32', shape, produce);
  }

  /** A float32 constant computed at build time (never converted: masks, indices, biases of geometry). */
  constant(shape: readonly number[], values: Float32Array, label: string): Value {
    return this.g.constant('float32', shape, values, label);
  }

  // ---- naming --------------------------------------------------------------------------------

  /** Runs `body` with nodes named after the reference module `path` (see the class comment). */
  module<T>(path: string, body: () => T): T {
    return this.g.module(path, body);
  }

  // ---- layers --------------------------------------------------------------------------------

  /**
   * PyTorch `Linear` (`{prefix}.weight` [out, in], optional `{prefix}.bias`) on the last axis of
   * `x`. The one place that decides how: fp32/fp16 as MatMul on the weight stored transposed
   * ([in, out], the layout ONNX Runtime's MatMul kernels are fastest with), then the bias Add;
   * int8 / q4 through the quantized kernels (see precision.ts).
   */
  linear(x: Value, prefix: string, options: { bias?: boolean } = {}): Value {
    return this.module(prefix, () => {
      const bias = options.bias === false ? null : this.optionalWeight(`${prefix}.bias`);
      if (this.dtype === 'int8' || this.dtype === 'q4') {
        const quantized = quantizedMatMul(this, x, `${prefix}.weight`, bias, this.dtype);
        if (quantized) return quantized;
      }
      const product = this.g.matMul(x, this.transposedWeight(`${prefix}.weight`));
      return bias ? this.g.add(product, bias) : product;
    });
  }

  /** A Linear weight [out, in] as an [in, out] initializer under its own key, transposed while the model is written. */
  transposedWeight(key: string): Value {
    const { rows, columns, values } = linearWeights(this, key);
    return this.floatInitializer(key, [columns, rows], () => transpose2d(values(), rows, columns));
  }

  /** LayerNorm over the last axis (`{prefix}.weight`, optional `{prefix}.bias`). */
  layerNorm(x: Value, prefix: string, epsilon: number): Value {
    return this.module(prefix, () =>
      this.g.op('LayerNormalization', this.has(`${prefix}.bias`) ? [x, this.weight(`${prefix}.weight`), this.weight(`${prefix}.bias`)] : [x, this.weight(`${prefix}.weight`)], {
        axis: -1,
        epsilon: attr.float(epsilon),
      }),
    );
  }

  /** Exact (erf) GELU: ONNX Runtime's com.microsoft Gelu kernel (CPU, wasm and WebGPU). */
  gelu(x: Value): Value {
    return this.g.gelu(x);
  }

  /** timm's Mlp: fc1 → exact GELU → fc2. */
  mlp(x: Value, prefix: string): Value {
    return this.linear(this.module(`${prefix}.act`, () => this.gelu(this.linear(x, `${prefix}.fc1`))), `${prefix}.fc2`);
  }

  /** Multiplies by a LayerScale (`key`, e.g. `blocks.0.ls1.gamma`) when the checkpoint has one. */
  layerScale(x: Value, key: string): Value {
    return this.has(key) ? this.g.mul(x, this.weight(key)) : x;
  }

  /** PyTorch Conv2d (`{prefix}.weight`, optional `{prefix}.bias`). */
  conv(
    x: Value,
    prefix: string,
    options: { kernelShape: readonly number[]; strides?: readonly number[]; pads?: readonly number[]; group?: number },
  ): Value {
    return this.module(prefix, () => this.g.conv(x, this.weight(`${prefix}.weight`), this.optionalWeight(`${prefix}.bias`), options));
  }

  // ---- token layouts -------------------------------------------------------------------------

  /** `[B, C, H, W]` → row-major tokens `[B, H*W, C]`, or `[B*H*W, C]` with `flat`. */
  imageToTokens(image: Value, channels: number, options: { flat?: boolean } = {}): Value {
    const tokens = this.g.transpose(this.g.reshape(image, [0, channels, -1]), [0, 2, 1]);
    return options.flat ? this.g.reshape(tokens, [-1, channels]) : tokens;
  }

  /** Row-major tokens (`[B, H*W, C]` or `[B*H*W, C]`) → `[B, C, H, W]`. */
  tokensToImage(tokens: Value, channels: number, height: number, width: number): Value {
    return this.g.transpose(this.g.reshape(tokens, [-1, height, width, channels]), [0, 3, 1, 2]);
  }

  // ---- outputs -------------------------------------------------------------------------------

  /** Whether the graph should give `name`. */
  wants(name: string): boolean {
    return this.requested.has(name);
  }

  /** Whether any requested output starts with `prefix` (e.g. 'attention.', 'intermediates.'). */
  wantsAny(prefix: string): boolean {
    return this.outputs.some((name) => name.startsWith(prefix));
  }

  /** Records `value` as output `name` when it was requested (a no-op otherwise). */
  produce(name: string, value: Value, shape: Shape): void {
    if (this.requested.has(name) && !this.produced.has(name)) this.produced.set(name, { value, shape });
  }

  /**
   * Records the head outputs (computed on demand: only requested ones are built) and finishes
   * the graph, its outputs in the requested order.
   */
  finish(heads: Partial<Record<(typeof HEAD_OUTPUT_NAMES)[number], () => { value: Value; shape: Shape }>> = {}): BuiltGraph {
    for (const name of HEAD_OUTPUT_NAMES) {
      const head = heads[name];
      if (head && this.wants(name)) {
        const { value, shape } = head();
        this.produce(name, value, shape);
      }
    }
    for (const name of this.outputs) {
      const output = this.produced.get(name);
      if (!output) throw new InvalidArgumentError('outputs', `Architecture '${this.architecture}' did not produce the requested output '${name}'.`);
      this.g.output(output.value, name, 'float32', output.shape);
    }
    return { ...toBuiltGraph(this.g.build()), dtype: this.dtype, ...(this.dtype === 'q4' ? { q4BlockSize: this.q4BlockSize } : {}) };
  }
}
