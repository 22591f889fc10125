/**
 * Test-only: a tiny pickle writer (protocol 2 opcodes, as torch.save emits them) and a value
 * language to describe what to pickle, including things a hostile file would contain. Not part of
 * the package's public entry.
 */

/** A storage described for the writer; the same object pickled twice is the same storage. */
export interface StorageSpec {
  key: string;
  /** torch storage class name, e.g. 'FloatStorage'. */
  type: string;
  elementCount: number;
}

export interface TensorSpec {
  storage: StorageSpec;
  offset?: number;
  shape: number[];
  stride?: number[];
  /** Wrap as torch._utils._rebuild_parameter(tensor, True, OrderedDict()). */
  parameter?: boolean;
}

export type PyValue =
  | null
  | boolean
  | number
  | string
  | Uint8Array
  | PyValue[]
  | { int: bigint }
  | { float: number }
  | { tuple: PyValue[] }
  | { dict: [PyValue, PyValue][] }
  | { orderedDict: [PyValue, PyValue][]; metadata?: PyValue }
  | { tensor: TensorSpec }
  | { global: [string, string] }
  | { stackGlobal: [string, string] }
  | { reduce: [PyValue, PyValue[]] }
  | { newObject: [PyValue, PyValue[]] }
  | { build: [PyValue, PyValue] }
  | { persistentId: PyValue[] }
  | { raw: (writer: PickleWriter) => void };

export class PickleWriter {
  private readonly out: number[] = [];
  private memoSize = 0;
  private readonly storageMemo = new Map<StorageSpec, number>();

  constructor(private readonly format: 'zip' | 'legacy' = 'zip') {}

  byte(...values: number[]): this {
    this.out.push(...values);
    return this;
  }
  uint32(value: number): this {
    return this.byte(value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff);
  }
  proto(version = 2): this {
    return this.byte(0x80, version);
  }
  mark(): this {
    return this.byte(0x28);
  }
  stop(): this {
    return this.byte(0x2e);
  }
  put(): number {
    const index = this.memoSize++;
    if (index < 256) this.byte(0x71, index);
    else this.byte(0x72).uint32(index);
    return index;
  }
  get(index: number): this {
    return index < 256 ? this.byte(0x68, index) : this.byte(0x6a).uint32(index);
  }
  int(value: number | bigint): this {
    if (typeof value === 'number' && value >= 0 && value < 256) return this.byte(0x4b, value);
    if (typeof value === 'number' && value >= 0 && value < 65536) return this.byte(0x4d, value & 0xff, value >> 8);
    if (typeof value === 'number' && value >= -(2 ** 31) && value < 2 ** 31) return this.byte(0x4a).uint32(value >>> 0);
    let big = BigInt(value);
    const bytes: number[] = [];
    for (;;) {
      bytes.push(Number(big & 0xffn));
      big >>= 8n;
      const sign = bytes[bytes.length - 1]! & 0x80;
      if ((big === 0n && !sign) || (big === -1n && sign)) break;
    }
    return this.byte(0x8a, bytes.length, ...bytes);
  }
  float(value: number): this {
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, value, false);
    return this.byte(0x47, ...new Uint8Array(view.buffer));
  }
  string(value: string): this {
    const encoded = new TextEncoder().encode(value);
    return this.byte(0x58).uint32(encoded.length).byte(...encoded);
  }
  bytes(value: Uint8Array): this {
    return this.byte(0x42).uint32(value.length).byte(...value);
  }
  global(module: string, name: string): this {
    return this.byte(0x63, ...new TextEncoder().encode(`${module}\n${name}\n`));
  }

  value(value: PyValue): this {
    if (value === null) return this.byte(0x4e);
    if (value === true) return this.byte(0x88);
    if (value === false) return this.byte(0x89);
    if (typeof value === 'number') return Number.isInteger(value) ? this.int(value) : this.float(value);
    if (typeof value === 'string') return this.string(value);
    if (value instanceof Uint8Array) return this.bytes(value);
    if (Array.isArray(value)) {
      this.byte(0x5d);
      this.put();
      if (value.length === 0) return this;
      this.mark();
      for (const item of value) this.value(item);
      return this.byte(0x65);
    }
    if ('int' in value) return this.int(value.int);
    if ('float' in value) return this.float(value.float);
    if ('tuple' in value) {
      this.mark();
      for (const item of value.tuple) this.value(item);
      return this.byte(0x74);
    }
    if ('dict' in value) {
      this.byte(0x7d);
      this.put();
      return this.setItems(value.dict);
    }
    if ('orderedDict' in value) {
      this.global('collections', 'OrderedDict').byte(0x29, 0x52);
      this.put();
      this.setItems(value.orderedDict);
      if (value.metadata !== undefined) this.value({ dict: [['_metadata', value.metadata]] }).byte(0x62);
      return this;
    }
    if ('tensor' in value) return this.tensor(value.tensor);
    if ('global' in value) return this.global(...value.global);
    if ('stackGlobal' in value) return this.string(value.stackGlobal[0]).string(value.stackGlobal[1]).byte(0x93);
    if ('reduce' in value) return this.value(value.reduce[0]).value({ tuple: value.reduce[1] }).byte(0x52);
    if ('newObject' in value) return this.value(value.newObject[0]).value({ tuple: value.newObject[1] }).byte(0x81);
    if ('build' in value) return this.value(value.build[0]).value(value.build[1]).byte(0x62);
    if ('persistentId' in value) return this.value({ tuple: value.persistentId }).byte(0x51);
    value.raw(this);
    return this;
  }

  private setItems(items: [PyValue, PyValue][]): this {
    if (items.length === 0) return this;
    this.mark();
    for (const [key, item] of items) this.value(key).value(item);
    return this.byte(0x75);
  }

  private tensor(spec: TensorSpec): this {
    if (spec.parameter) this.global('torch._utils', '_rebuild_parameter').mark();
    this.global('torch._utils', '_rebuild_tensor_v2').mark();
    const memoized = this.storageMemo.get(spec.storage);
    if (memoized !== undefined) this.get(memoized);
    else {
      const { key, type, elementCount } = spec.storage;
      const id: PyValue[] = ['storage', { global: ['torch', type] }, key, 'cpu', elementCount];
      if (this.format === 'legacy') id.push(null);
      this.value({ persistentId: id });
      this.storageMemo.set(spec.storage, this.put());
    }
    const stride = spec.stride ?? contiguousStride(spec.shape);
    this.int(spec.offset ?? 0).value({ tuple: spec.shape }).value({ tuple: stride }).value(false);
    this.value({ orderedDict: [] }).byte(0x74, 0x52);
    if (spec.parameter) this.value(true).value({ orderedDict: [] }).byte(0x74, 0x52);
    return this;
  }

  /** The pickle of `root` (PROTO 2 … STOP). */
  static pickle(root: PyValue, format: 'zip' | 'legacy' = 'zip'): Uint8Array {
    return new PickleWriter(format).proto(2).value(root).stop().finish();
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}

export function contiguousStride(shape: readonly number[]): number[] {
  const stride = new Array<number>(shape.length);
  let step = 1;
  for (let dim = shape.length - 1; dim >= 0; dim--) {
    stride[dim] = step;
    step *= shape[dim]!;
  }
  return stride;
}
