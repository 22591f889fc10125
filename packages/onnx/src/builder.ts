import {
  bytesPerElement,
  elementCount,
  InvalidArgumentError,
  tensorBytes,
  toFloat32,
  type DataType,
  type GraphValueInfo,
  type Tensor,
  type TensorDataMap,
} from '@vitzoo/core';

/** A value in the graph (graph input, initializer or node output), referenced by name. */
export interface Value {
  readonly name: string;
}

/** An explicitly typed attribute. Plain numbers are ints, plain number arrays are ints. */
export type Attribute =
  | { readonly kind: 'float'; readonly value: number }
  | { readonly kind: 'floats'; readonly value: readonly number[] }
  | { readonly kind: 'int'; readonly value: number }
  | { readonly kind: 'ints'; readonly value: readonly number[] }
  | { readonly kind: 'string'; readonly value: string };

export type AttributeInput = Attribute | number | readonly number[] | string;

export const attr = {
  float: (value: number): Attribute => ({ kind: 'float', value }),
  floats: (value: readonly number[]): Attribute => ({ kind: 'floats', value }),
  int: (value: number): Attribute => ({ kind: 'int', value }),
  ints: (value: readonly number[]): Attribute => ({ kind: 'ints', value }),
  string: (value: string): Attribute => ({ kind: 'string', value }),
};

export interface NodeDefinition {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: Record<string, Attribute>;
}

/**
 * An initializer. `data` is produced on demand by `produce()` so that derived weights (transposed,
 * converted) exist only while they are being written out.
 */
export interface InitializerDefinition {
  name: string;
  dtype: DataType;
  shape: readonly number[];
  byteLength: number;
  produce(): Uint8Array;
}

export interface OnnxModel {
  graphName: string;
  opsets: Record<string, number>;
  nodes: NodeDefinition[];
  initializers: InitializerDefinition[];
  inputs: GraphValueInfo[];
  outputs: GraphValueInfo[];
  metadata: Record<string, string>;
  docString?: string;
}

export interface GraphBuilderOptions {
  graphName?: string;
  /** Default ONNX opset (ai.onnx). 17 by default (LayerNormalization). */
  opset?: number;
  metadata?: Record<string, string>;
}

export interface OpOptions {
  domain?: string;
  /** Number of outputs (default 1). */
  outputs?: number;
  /** Overrides the generated node name's last component. */
  name?: string;
  /** Indices of optional outputs not needed (left unnamed so the runtime can skip them). */
  omitOutputs?: readonly number[];
}

const MICROSOFT = 'com.microsoft';

function normaliseAttribute(name: string, value: AttributeInput): Attribute {
  if (typeof value === 'string') return attr.string(value);
  if (typeof value === 'number') {
    if (!Number.isInteger(value)) {
      throw new InvalidArgumentError('attribute', `Attribute '${name}' = ${value} is not an integer; wrap floats in attr.float().`);
    }
    return attr.int(value);
  }
  if (Array.isArray(value)) {
    if (!value.every(Number.isInteger)) {
      throw new InvalidArgumentError('attribute', `Attribute '${name}' holds non-integers; wrap float lists in attr.floats().`);
    }
    return attr.ints(value);
  }
  return value as Attribute;
}

/**
 * A typed ONNX graph builder. Ops are methods; node names are `/`-joined scopes
 * (`/blocks.0/attn/MatMul`); initializers keep the checkpoint's own key names, so the graph can be
 * read next to the reference code.
 */
export class GraphBuilder {
  private readonly nodes: NodeDefinition[] = [];
  private readonly initializers = new Map<string, InitializerDefinition>();
  private readonly inputs: GraphValueInfo[] = [];
  private readonly outputs: GraphValueInfo[] = [];
  private readonly scopes: string[] = [];
  private readonly usedNames = new Set<string>();
  private readonly opsets: Record<string, number>;
  private readonly constantCache = new Map<string, Value>();

  constructor(private readonly options: GraphBuilderOptions = {}) {
    this.opsets = { '': options.opset ?? 17 };
  }

  get opset(): number {
    return this.opsets['']!;
  }

  /**
   * Runs `body` with the node-name scope set to exactly `path` (a reference module path such as
   * `blocks.0.attn.qkv`), whatever the enclosing scope: nodes are named `/<module path>/<Op>`.
   */
  module<T>(path: string, body: () => T): T {
    const saved = this.scopes.splice(0, this.scopes.length, path);
    try {
      return body();
    } finally {
      this.scopes.splice(0, this.scopes.length, ...saved);
    }
  }

  /** Runs `body` with `name` appended to the node-name scope. */
  scope<T>(name: string, body: () => T): T {
    this.scopes.push(name);
    try {
      return body();
    } finally {
      this.scopes.pop();
    }
  }

  private freshName(base: string): string {
    let name = base;
    for (let i = 1; this.usedNames.has(name); i++) name = `${base}_${i}`;
    return name;
  }

  private uniqueName(base: string): string {
    const name = this.freshName(base);
    this.usedNames.add(name);
    return name;
  }

  input(name: string, dtype: DataType, shape: readonly (number | string)[]): Value {
    this.usedNames.add(name);
    this.inputs.push({ name, dtype, shape });
    return { name };
  }

  /** Marks `value` as a graph output named `name` (an Identity is inserted when names differ). */
  output(value: Value, name: string, dtype: DataType, shape: readonly (number | string)[]): Value {
    let out = value;
    if (value.name !== name) {
      this.usedNames.add(name);
      this.nodes.push({ name: this.uniqueName(`/${name}/Identity`), opType: 'Identity', domain: '', inputs: [value.name], outputs: [name], attributes: {} });
      out = { name };
    }
    this.outputs.push({ name, dtype, shape });
    return out;
  }

  /**
   * Adds a weight under its checkpoint key. float16/bfloat16 are widened to float32 when written
   * (the graph computes in float32); the data are referenced, not copied, until serialisation.
   */
  weight(name: string, tensor: Tensor): Value {
    if (tensor.dtype === 'float32') return this.rawInitializer(name, 'float32', tensor.shape, () => tensorBytes(tensor));
    return this.rawInitializer(name, 'float32', tensor.shape, () => tensorBytes(toFloat32(tensor)));
  }

  /** Adds an initializer whose data are computed when the model is serialised. */
  derivedWeight<T extends DataType>(name: string, dtype: T, shape: readonly number[], produce: () => TensorDataMap[T]): Value {
    return this.rawInitializer(name, dtype, shape, () => {
      const data = produce();
      if (data.length !== elementCount(shape)) {
        throw new InvalidArgumentError('initializer', `Initializer '${name}' produced ${data.length} values for shape [${shape.join(', ')}].`);
      }
      return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    });
  }

  private rawInitializer(name: string, dtype: DataType, shape: readonly number[], produce: () => Uint8Array): Value {
    if (this.initializers.has(name) || this.usedNames.has(name)) {
      throw new InvalidArgumentError('initializer', `Graph value '${name}' is defined twice.`);
    }
    this.usedNames.add(name);
    this.initializers.set(name, { name, dtype, shape: [...shape], byteLength: elementCount(shape) * bytesPerElement[dtype], produce });
    return { name };
  }

  /** A constant initializer named after the current scope; identical constants are shared. */
  constant<T extends DataType>(dtype: T, shape: readonly number[], values: TensorDataMap[T] | readonly number[], label = 'const'): Value {
    const data = Array.isArray(values) ? fromNumbers(dtype, values as readonly number[]) : (values as TensorDataMap[T]);
    const small = data.length <= 64;
    const key = small ? `${dtype}|${shape.join(',')}|${Array.from(data as ArrayLike<number | bigint>).join(',')}` : undefined;
    if (key !== undefined) {
      const cached = this.constantCache.get(key);
      if (cached) return cached;
    }
    const name = this.freshName(`${this.scopePath()}/${label}`.replace(/^\//, ''));
    const value = this.rawInitializer(name, dtype, shape, () => new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    if (key !== undefined) this.constantCache.set(key, value);
    return value;
  }

  /** int64 1-D constant (shapes, axes, indices). */
  ints(values: readonly number[], label = 'ints'): Value {
    return this.constant('int64', [values.length], BigInt64Array.from(values.map(BigInt)), label);
  }

  /** float32 scalar constant. */
  scalar(value: number, label = 'scalar'): Value {
    return this.constant('float32', [], Float32Array.of(value), label);
  }

  private scopePath(): string {
    return this.scopes.length === 0 ? '' : `/${this.scopes.join('/')}`;
  }

  /** Adds a node; returns its single output, or all outputs when `options.outputs` > 1. */
  op(opType: string, inputs: readonly (Value | null)[], attributes: Record<string, AttributeInput> = {}, options: OpOptions = {}): Value {
    return this.opMulti(opType, inputs, attributes, { ...options, outputs: 1 })[0]!;
  }

  opMulti(opType: string, inputs: readonly (Value | null)[], attributes: Record<string, AttributeInput> = {}, options: OpOptions = {}): Value[] {
    const domain = options.domain ?? '';
    if (!(domain in this.opsets)) this.opsets[domain] = 1;
    const name = this.uniqueName(`${this.scopePath()}/${options.name ?? opType}`);
    const count = options.outputs ?? 1;
    const outputs = Array.from({ length: count }, (_, i) => (options.omitOutputs?.includes(i) ? '' : this.uniqueName(`${name}_output_${i}`)));
    const normalised: Record<string, Attribute> = {};
    for (const [key, value] of Object.entries(attributes)) normalised[key] = normaliseAttribute(key, value);
    this.nodes.push({
      name,
      opType,
      domain,
      inputs: inputs.map((input) => (input === null ? '' : input.name)),
      outputs,
      attributes: normalised,
    });
    return outputs.map((output) => ({ name: output }));
  }

  // ---- ai.onnx operators -------------------------------------------------------------------

  add(a: Value, b: Value): Value { return this.op('Add', [a, b]); }
  sub(a: Value, b: Value): Value { return this.op('Sub', [a, b]); }
  mul(a: Value, b: Value): Value { return this.op('Mul', [a, b]); }
  div(a: Value, b: Value): Value { return this.op('Div', [a, b]); }
  matMul(a: Value, b: Value): Value { return this.op('MatMul', [a, b]); }
  erf(x: Value): Value { return this.op('Erf', [x]); }
  sigmoid(x: Value): Value { return this.op('Sigmoid', [x]); }
  identity(x: Value): Value { return this.op('Identity', [x]); }
  shape(x: Value, start?: number, end?: number): Value {
    const attributes: Record<string, AttributeInput> = {};
    if (start !== undefined) attributes.start = start;
    if (end !== undefined) attributes.end = end;
    return this.op('Shape', [x], attributes);
  }

  /** Gemm(a, b^T) + c: a [M, K], b [N, K] (PyTorch Linear layout, no transposed copy needed). */
  gemmTransB(a: Value, b: Value, c: Value | null): Value {
    return this.op('Gemm', c ? [a, b, c] : [a, b], { transB: 1 });
  }

  reshape(x: Value, shape: readonly number[] | Value): Value {
    return this.op('Reshape', [x, Array.isArray(shape) ? this.ints(shape as number[], 'shape') : (shape as Value)]);
  }

  transpose(x: Value, perm: readonly number[]): Value {
    return this.op('Transpose', [x], { perm: [...perm] });
  }

  concat(values: readonly Value[], axis: number): Value {
    return this.op('Concat', values, { axis });
  }

  softmax(x: Value, axis = -1): Value {
    return this.op('Softmax', [x], { axis });
  }

  /** Slice along the given axes ([starts, ends) per axis, steps 1). */
  slice(x: Value, starts: readonly number[], ends: readonly number[], axes: readonly number[], steps?: readonly number[]): Value {
    const inputs = [x, this.ints(starts, 'starts'), this.ints(ends, 'ends'), this.ints(axes, 'axes')];
    if (steps) inputs.push(this.ints(steps, 'steps'));
    return this.op('Slice', inputs);
  }

  gather(x: Value, indices: Value, axis: number): Value {
    return this.op('Gather', [x, indices], { axis });
  }

  reduceMean(x: Value, axes: readonly number[], keepdims = false): Value {
    if (this.opset >= 18) return this.op('ReduceMean', [x, this.ints(axes, 'axes')], { keepdims: keepdims ? 1 : 0 });
    return this.op('ReduceMean', [x], { axes: [...axes], keepdims: keepdims ? 1 : 0 });
  }

  reduceMax(x: Value, axes: readonly number[], keepdims = false): Value {
    if (this.opset >= 18) return this.op('ReduceMax', [x, this.ints(axes, 'axes')], { keepdims: keepdims ? 1 : 0 });
    return this.op('ReduceMax', [x], { axes: [...axes], keepdims: keepdims ? 1 : 0 });
  }

  /** ReduceSum (axes are an input since opset 13). */
  reduceSum(x: Value, axes: readonly number[], keepdims = false): Value {
    return this.op('ReduceSum', [x, this.ints(axes, 'axes')], { keepdims: keepdims ? 1 : 0 });
  }

  layerNormalization(x: Value, scale: Value, bias: Value | null, epsilon: number, axis = -1): Value {
    return this.op('LayerNormalization', bias ? [x, scale, bias] : [x, scale], { axis, epsilon: attr.float(epsilon) });
  }

  conv(
    x: Value,
    weight: Value,
    bias: Value | null,
    options: { kernelShape: readonly number[]; strides?: readonly number[]; pads?: readonly number[]; group?: number; dilations?: readonly number[] },
  ): Value {
    const attributes: Record<string, AttributeInput> = { kernel_shape: [...options.kernelShape] };
    if (options.strides) attributes.strides = [...options.strides];
    if (options.pads) attributes.pads = [...options.pads];
    if (options.group !== undefined && options.group !== 1) attributes.group = options.group;
    if (options.dilations) attributes.dilations = [...options.dilations];
    return this.op('Conv', bias ? [x, weight, bias] : [x, weight], attributes);
  }

  /** Exact (erf) GELU as x * 0.5 * (1 + erf(x / sqrt 2)), which ONNX Runtime fuses into one kernel. */
  geluExact(x: Value): Value {
    const scaled = this.div(x, this.scalar(Math.SQRT2, 'sqrt2'));
    const inner = this.add(this.erf(scaled), this.scalar(1, 'one'));
    return this.mul(this.mul(x, inner), this.scalar(0.5, 'half'));
  }

  // ---- com.microsoft contrib operators (ONNX Runtime) -------------------------------------

  /** ONNX Runtime's exact-erf Gelu kernel (com.microsoft). */
  gelu(x: Value): Value {
    return this.op('Gelu', [x], {}, { domain: MICROSOFT });
  }

  /**
   * ONNX Runtime's fused MultiHeadAttention (com.microsoft): q, k, v [B, S, heads*head_dim];
   * softmax(q k^T * scale + attentionBias) v with heads concatenated.
   */
  multiHeadAttention(query: Value, key: Value, value: Value, numHeads: number, options: { scale?: number; attentionBias?: Value } = {}): Value {
    const attributes: Record<string, AttributeInput> = { num_heads: numHeads };
    if (options.scale !== undefined) attributes.scale = attr.float(options.scale);
    const inputs: (Value | null)[] = [query, key, value];
    if (options.attentionBias) inputs.push(null, null, options.attentionBias);
    return this.op('MultiHeadAttention', inputs, attributes, { domain: MICROSOFT });
  }

  /** Finishes the graph. */
  build(): OnnxModel {
    if (this.outputs.length === 0) throw new InvalidArgumentError('outputs', 'A graph needs at least one output.');
    return {
      graphName: this.options.graphName ?? 'vitzoo',
      opsets: { ...this.opsets },
      nodes: [...this.nodes],
      initializers: [...this.initializers.values()],
      inputs: [...this.inputs],
      outputs: [...this.outputs],
      metadata: { ...(this.options.metadata ?? {}) },
    };
  }
}

function fromNumbers<T extends DataType>(dtype: T, values: readonly number[]): TensorDataMap[T] {
  switch (dtype) {
    case 'float32':
      return Float32Array.from(values) as TensorDataMap[T];
    case 'float64':
      return Float64Array.from(values) as TensorDataMap[T];
    case 'int64':
      return BigInt64Array.from(values.map(BigInt)) as TensorDataMap[T];
    case 'int32':
      return Int32Array.from(values) as TensorDataMap[T];
    case 'uint8':
    case 'bool':
      return Uint8Array.from(values) as TensorDataMap[T];
    default:
      throw new InvalidArgumentError('dtype', `Constants of dtype ${dtype} must be given as a typed array.`);
  }
}
