import { InvalidCheckpointError, bytesPerElement, createTensor, typedView, type DataType, type Tensor } from '@vitzoo/core';

/**
 * A torch storage named by a pickle's persistent id. Its bytes are loaded on first use (from the
 * zip record, or from the legacy file's storage section once it has been read), so storages of
 * entries nobody asks for (optimizer state, ...) are never touched.
 */
export class StorageReference {
  private loaded: Uint8Array | undefined;
  constructor(
    readonly key: string,
    readonly dtype: DataType,
    /** Number of elements, as the persistent id declares it. */
    readonly elementCount: number,
    private readonly load: () => Uint8Array,
  ) {}

  get byteLength(): number {
    return this.elementCount * bytesPerElement[this.dtype];
  }

  /**
   * The storage's bytes (exactly `byteLength` of them; the loader checks the length). A storage
   * that is not aligned to its element size in the file (the legacy format, zips not written by
   * torch) is copied once here, so all its tensors are views of one aligned copy.
   */
  bytes(): Uint8Array {
    if (this.loaded === undefined) {
      const raw = this.load();
      this.loaded = raw.byteOffset % bytesPerElement[this.dtype] === 0 ? raw : raw.slice();
    }
    return this.loaded;
  }

  get description(): string {
    return `storage '${this.key}' (${this.elementCount} × ${this.dtype})`;
  }
}

/** A tensor as `torch._utils._rebuild_tensor_v2` describes it: a strided view of a storage. */
export class TensorReference {
  constructor(
    readonly storage: StorageReference,
    /** In elements. */
    readonly storageOffset: number,
    readonly shape: readonly number[],
    /** In elements. */
    readonly stride: readonly number[],
  ) {}

  get dtype(): DataType {
    return this.storage.dtype;
  }

  get description(): string {
    return `a ${this.dtype} tensor [${this.shape.join(', ')}] on ${this.storage.description}`;
  }
}

/** Bytes that materialising non-contiguous tensors may still allocate (shared by one read). */
export interface CopyBudget {
  remaining: number;
}

const unsignedTypes = { 1: 'uint8', 2: 'uint16', 4: 'uint32', 8: 'uint64' } as const;
const unsignedArrays = {
  1: Uint8Array,
  2: Uint16Array,
  4: Uint32Array,
  8: BigUint64Array,
} as const;

/**
 * Turns a tensor reference into a dense row-major tensor. Offsets, shapes and strides are checked
 * against the storage (a view reaching past it throws `InvalidCheckpointError`). Contiguous views
 * are zero-copy when aligned; other strides (transposed or expanded views) are gathered into a
 * fresh contiguous array, charged to `budget`.
 */
export function materializeTensor(reference: TensorReference, source: string, budget: CopyBudget, key: string): Tensor {
  const fail = (reason: string): never => {
    throw new InvalidCheckpointError(source, `tensor '${key}' ${reason}`);
  };
  const { storage, storageOffset, shape, stride } = reference;
  const dtype = storage.dtype;
  const size = bytesPerElement[dtype];
  if (shape.length !== stride.length) fail(`has ${shape.length} dimensions but ${stride.length} strides`);
  const isCount = (value: number) => Number.isSafeInteger(value) && value >= 0;
  if (!isCount(storageOffset) || !shape.every(isCount) || !stride.every(isCount)) {
    fail(`has a negative or non-integer offset (${storageOffset}), shape [${shape.join(', ')}] or stride [${stride.join(', ')}]`);
  }
  let count = 1;
  let lastIndex = storageOffset;
  for (let dim = 0; dim < shape.length; dim++) {
    const extent = shape[dim]!;
    count *= extent;
    if (extent > 0) lastIndex += (extent - 1) * stride[dim]!;
  }
  if (!Number.isSafeInteger(count) || !Number.isSafeInteger(lastIndex)) fail(`has an out-of-range shape [${shape.join(', ')}]`);
  if (count === 0) return createTensor(dtype, shape);
  if (lastIndex >= storage.elementCount) {
    fail(
      `(shape [${shape.join(', ')}], stride [${stride.join(', ')}], offset ${storageOffset}) reaches element ${lastIndex} ` +
        `of ${storage.description}, which has only ${storage.elementCount}`,
    );
  }
  const bytes = storage.bytes();

  let contiguous = true;
  let expected = 1;
  for (let dim = shape.length - 1; dim >= 0; dim--) {
    if (shape[dim] !== 1 && stride[dim] !== expected) contiguous = false;
    expected *= shape[dim]!;
  }
  if (contiguous) return createTensor(dtype, shape, typedView(dtype, bytes, storageOffset * size, count * size));

  const byteLength = count * size;
  if (byteLength > budget.remaining) {
    fail(
      `is a strided view of ${byteLength} bytes, more than the ${budget.remaining} bytes left for copying strided tensors ` +
        `(raise the maxStridedCopyBytes option if the checkpoint is trusted to hold expanded tensors)`,
    );
  }
  budget.remaining -= byteLength;
  const Unsigned = unsignedArrays[size as 1 | 2 | 4 | 8];
  // Bit-exact copies through unsigned integers of the element's width (no float canonicalisation).
  const from = typedView(unsignedTypes[size as 1 | 2 | 4 | 8], bytes, 0, storage.byteLength) as unknown as number[];
  const to = new Unsigned(count);
  const target = to as unknown as number[];
  const rank = shape.length;
  const innerExtent = shape[rank - 1]!;
  const innerStride = stride[rank - 1]!;
  const index = new Array<number>(rank).fill(0);
  const rows = count / innerExtent;
  let base = storageOffset;
  let written = 0;
  for (let row = 0; row < rows; row++) {
    for (let column = 0; column < innerExtent; column++) target[written++] = from[base + column * innerStride]!;
    for (let dim = rank - 2; dim >= 0; dim--) {
      index[dim]!++;
      base += stride[dim]!;
      if (index[dim]! < shape[dim]!) break;
      base -= stride[dim]! * shape[dim]!;
      index[dim] = 0;
    }
  }
  return createTensor(dtype, shape, typedView(dtype, new Uint8Array(to.buffer), 0, byteLength));
}
