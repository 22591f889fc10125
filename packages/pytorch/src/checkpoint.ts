import { InvalidCheckpointError, bytesPerElement, parseSafetensors, unwrapStateDict, type StateDict, type Tensor } from '@vitzoo/core';
import { PickleDict, describePickleValue, type PickleValue } from './pickle-values.js';
import { StorageReference, TensorReference, materializeTensor, type CopyBudget } from './tensor-reference.js';
import { TorchUnpicklePolicy, type StorageRequest } from './torch-globals.js';
import { DEFAULT_UNPICKLE_LIMITS, unpickle, type UnpickleLimits } from './unpickler.js';
import { readZipArchive } from './zip-archive.js';

/**
 * Where training scripts keep the weights, searched in this order when the top-level object is not
 * itself a dict of tensors: EMA weights first (what released checkpoints are evaluated with, and
 * what timm's loader prefers), then the plain model weights.
 */
export const STATE_DICT_KEYS = ['state_dict_ema', 'model_ema', 'state_dict', 'model'] as const;

export type PytorchFormat = 'zip' | 'legacy';

export interface ReadPytorchCheckpointOptions {
  /** Named in error messages (a path or URL). */
  source?: string;
  /** Take the state dict from this top-level entry instead of searching `STATE_DICT_KEYS`. */
  stateDictKey?: string;
  /**
   * Bytes that may be allocated to make non-contiguous (transposed or expanded) tensors
   * contiguous. Default: twice the checkpoint's size, at least 64 MiB — enough for any checkpoint
   * whose views do not overlap, small enough that a crafted stride-0 view cannot exhaust memory.
   */
  maxStridedCopyBytes?: number;
  /** Bounds on the pickle machine (stack, marks, memo). */
  limits?: Partial<UnpickleLimits>;
}

export interface PytorchCheckpoint {
  /** The weights, keys as saved (less a DataParallel `module.` prefix). */
  stateDict: StateDict;
  format: PytorchFormat;
  /** The top-level entry the state dict came from (`'model'`, ...), or undefined when it is the top level. */
  stateDictKey: string | undefined;
  /** True when a `module.` prefix was stripped from every key. */
  strippedModulePrefix: boolean;
  /**
   * The whole unpickled object, for the non-weight entries (`epoch`, `args`, ...). Tensors in it are
   * lazy `TensorReference`s; allowed harmless objects are inert `PickleObject`s.
   */
  root: PickleValue;
}

const legacyMagicNumber = 0x1950a86a20f9469cfc6cn;
const legacyProtocolVersion = 1001;

/**
 * The PyTorch container format of `bytes`, from its first bytes: 'zip' (torch.save since 1.6) or
 * 'legacy' (a pickle starting with torch's magic number), else undefined.
 */
export function detectPytorchFormat(bytes: Uint8Array): PytorchFormat | undefined {
  if (bytes[0] === 0x50 && bytes[1] === 0x4b && bytes[2] === 0x03 && bytes[3] === 0x04) return 'zip';
  if (bytes[0] === 0x80 && bytes[1] !== undefined && bytes[1] >= 2 && bytes[1] <= 5) {
    // The magic number is a 10-byte LONG1, possibly after a protocol-4 FRAME header.
    const at = bytes[2] === 0x95 ? 11 : 2;
    if (bytes[at] === 0x8a && bytes[at + 1] === 0x0a) return 'legacy';
  }
  return undefined;
}

/**
 * Reads a PyTorch checkpoint (`torch.save` output: the zip format or the legacy format) without
 * running any of it: the pickle is interpreted by a restricted unpickler that rebuilds tensors,
 * dicts and plain data and refuses every global not on `ALLOWED_GLOBALS` with
 * `InvalidCheckpointError`. Tensors are zero-copy views of `bytes` where they are contiguous and
 * aligned.
 *
 * The state dict is the top-level dict when it holds only tensors, else the first of
 * `STATE_DICT_KEYS` present as a dict (or `options.stateDictKey`); a `module.` prefix on every key
 * is stripped. A non-tensor entry in it throws `InvalidCheckpointError`.
 */
export function readPytorchCheckpoint(bytes: Uint8Array, options: ReadPytorchCheckpointOptions = {}): PytorchCheckpoint {
  const source = options.source ?? '(buffer)';
  const limits = { ...DEFAULT_UNPICKLE_LIMITS, ...options.limits };
  const format = detectPytorchFormat(bytes);
  let root: PickleValue;
  if (format === 'zip') root = readZipCheckpoint(bytes, source, limits);
  else if (format === 'legacy') root = readLegacyCheckpoint(bytes, source, limits);
  else {
    const tar = bytes.byteLength > 262 && String.fromCharCode(...bytes.subarray(257, 262)) === 'ustar';
    throw new InvalidCheckpointError(
      source,
      tar
        ? 'it is the tar-based format of PyTorch before 0.4, which is not supported; load and re-save it with a recent torch'
        : 'it is neither a zip archive (torch.save since 1.6) nor a legacy torch.save pickle (no PyTorch magic number)',
    );
  }
  const { dict, key } = selectStateDict(root, source, options.stateDictKey);
  const budget: CopyBudget = { remaining: options.maxStridedCopyBytes ?? Math.max(2 * bytes.byteLength, 64 * 1024 * 1024) };
  const materialized = new Map<TensorReference, Tensor>();
  const stateDict: StateDict = {};
  const where = key === undefined ? 'the state dict' : `the state dict '${key}'`;
  for (const [name, value] of dict.items) {
    if (typeof name !== 'string') throw new InvalidCheckpointError(source, `${where} has a non-string key (${describePickleValue(name)})`);
    if (!(value instanceof TensorReference)) {
      throw new InvalidCheckpointError(
        source,
        `${where} maps '${name}' to ${describePickleValue(value)}, not a tensor` +
          (key === undefined ? ' (pass stateDictKey to choose the entry holding the weights)' : ''),
      );
    }
    let tensor = materialized.get(value);
    if (tensor === undefined) {
      tensor = materializeTensor(value, source, budget, name);
      materialized.set(value, tensor);
    }
    stateDict[name] = tensor;
  }
  const unwrapped = unwrapStateDict(stateDict);
  return { stateDict: unwrapped, format: format!, stateDictKey: key, strippedModulePrefix: unwrapped !== stateDict, root };
}

function selectStateDict(root: PickleValue, source: string, requested: string | undefined): { dict: PickleDict; key: string | undefined } {
  if (!(root instanceof PickleDict)) {
    throw new InvalidCheckpointError(source, `the saved object is ${describePickleValue(root)}, not a dict of tensors`);
  }
  if (requested !== undefined) {
    const entry = root.get(requested);
    if (!(entry instanceof PickleDict)) {
      throw new InvalidCheckpointError(source, `stateDictKey '${requested}' is ${describePickleValue(entry)}, not a dict (top-level keys: ${topLevelKeys(root)})`);
    }
    return { dict: entry, key: requested };
  }
  const values = [...root.items.values()];
  if (values.length > 0 && values.every((value) => value instanceof TensorReference)) return { dict: root, key: undefined };
  for (const key of STATE_DICT_KEYS) {
    const entry = root.get(key);
    if (entry instanceof PickleDict) return { dict: entry, key };
  }
  if (values.some((value) => value instanceof TensorReference)) return { dict: root, key: undefined };
  throw new InvalidCheckpointError(
    source,
    `no state dict found: the top level is not a dict of tensors and has none of ${STATE_DICT_KEYS.join(', ')} ` +
      `(top-level keys: ${topLevelKeys(root)}); pass stateDictKey to name the entry holding the weights`,
  );
}

function topLevelKeys(root: PickleDict): string {
  const keys = [...root.items.keys()].map((key) => (typeof key === 'string' ? key : describePickleValue(key)));
  return keys.length === 0 ? '(none)' : keys.slice(0, 20).join(', ') + (keys.length > 20 ? ', …' : '');
}

function readZipCheckpoint(bytes: Uint8Array, source: string, limits: UnpickleLimits): PickleValue {
  const entries = readZipArchive(bytes, source);
  // Like torch's reader: the archive's folder is the first entry's top-level directory.
  const first = entries.keys().next().value as string | undefined;
  const slash = first?.indexOf('/') ?? -1;
  if (first === undefined || slash <= 0) throw new InvalidCheckpointError(source, 'the zip archive has no top-level folder (it is not a torch.save archive)');
  const prefix = first.slice(0, slash);
  const pickle = entries.get(`${prefix}/data.pkl`);
  if (pickle === undefined) {
    const hint = entries.has(`${prefix}/constants.pkl`) ? ' (it looks like a TorchScript archive, which is not supported)' : '';
    throw new InvalidCheckpointError(source, `the zip archive has no '${prefix}/data.pkl'${hint}; it is not a torch.save checkpoint`);
  }
  const byteOrderEntry = entries.get(`${prefix}/byteorder`);
  const byteOrder = byteOrderEntry === undefined ? 'little' : new TextDecoder().decode(byteOrderEntry.read()).trim();
  if (byteOrder !== 'little' && byteOrder !== 'big') throw new InvalidCheckpointError(source, `its byteorder record says '${byteOrder}', not 'little' or 'big'`);

  const storages = new Map<string, StorageReference>();
  const loadStorage = (request: StorageRequest): StorageReference => {
    if (request.view !== undefined) throw new InvalidCheckpointError(source, `data.pkl: storage '${request.key}' has legacy view metadata in a zip checkpoint`);
    const cacheKey = `${request.dtype}:${request.key}`;
    const cached = storages.get(cacheKey);
    if (cached !== undefined) {
      if (cached.elementCount !== request.elementCount) {
        throw new InvalidCheckpointError(source, `data.pkl: storage '${request.key}' is declared with ${cached.elementCount} and ${request.elementCount} elements`);
      }
      return cached;
    }
    const name = `${prefix}/data/${request.key}`;
    const entry = entries.get(name);
    if (entry === undefined) throw new InvalidCheckpointError(source, `the storage record '${name}' that data.pkl refers to is missing from the archive`);
    const element = bytesPerElement[request.dtype];
    const byteLength = request.elementCount * element;
    if (entry.size < byteLength) {
      throw new InvalidCheckpointError(
        source,
        `the storage record '${name}' holds ${entry.size} bytes, but data.pkl declares ${request.elementCount} ${request.dtype} ` +
          `elements (${byteLength} bytes); the file is truncated or corrupt`,
      );
    }
    const storage = new StorageReference(request.key, request.dtype, request.elementCount, () => {
      const raw = entry.read().subarray(0, byteLength);
      return byteOrder === 'big' ? swapBytes(raw, element) : raw;
    });
    storages.set(cacheKey, storage);
    return storage;
  };
  const what = `${prefix}/data.pkl`;
  return unpickle(pickle.read(), 0, new TorchUnpicklePolicy(source, what, loadStorage), { source, what, limits }).value;
}

function readLegacyCheckpoint(bytes: Uint8Array, source: string, limits: UnpickleLimits): PickleValue {
  const noStorages = (): never => {
    throw new InvalidCheckpointError(source, 'a legacy header pickle refers to a storage');
  };
  const header = (start: number, what: string) =>
    unpickle(bytes, start, new TorchUnpicklePolicy(source, what, noStorages), { source, what, limits });
  const magic = header(0, 'the magic-number pickle');
  if (magic.value !== legacyMagicNumber) throw new InvalidCheckpointError(source, `the legacy magic number is ${describePickleValue(magic.value)}, not torch's`);
  const protocol = header(magic.end, 'the protocol-version pickle');
  if (protocol.value !== legacyProtocolVersion) {
    throw new InvalidCheckpointError(source, `the legacy protocol version is ${describePickleValue(protocol.value)}, expected ${legacyProtocolVersion}`);
  }
  const systemInfo = header(protocol.end, 'the sys_info pickle');
  if (systemInfo.value instanceof PickleDict && systemInfo.value.get('little_endian') === false) {
    throw new InvalidCheckpointError(source, 'it was saved on a big-endian machine in the legacy format, which is not supported');
  }

  interface RootStorage {
    dtype: StorageRequest['dtype'];
    elementCount: number;
    bytes?: Uint8Array;
  }
  const roots = new Map<string, RootStorage>();
  const references = new Map<string, StorageReference>();
  const loadStorage = (request: StorageRequest): StorageReference => {
    let root = roots.get(request.key);
    if (root === undefined) {
      root = { dtype: request.dtype, elementCount: request.elementCount };
      roots.set(request.key, root);
    } else if (root.dtype !== request.dtype || root.elementCount !== request.elementCount) {
      throw new InvalidCheckpointError(source, `storage '${request.key}' is declared twice with different types or sizes`);
    }
    const rootEntry = root;
    const element = bytesPerElement[request.dtype];
    const rootBytes = () => {
      if (rootEntry.bytes === undefined) throw new InvalidCheckpointError(source, `storage '${request.key}' is used but never written to the file`);
      return rootEntry.bytes;
    };
    const view = request.view;
    const referenceKey = view === undefined ? request.key : `${request.key}/${view.key}`;
    const cached = references.get(referenceKey);
    if (cached !== undefined) return cached;
    let reference: StorageReference;
    if (view === undefined) reference = new StorageReference(request.key, request.dtype, request.elementCount, rootBytes);
    else {
      if (view.offset + view.elementCount > request.elementCount) {
        throw new InvalidCheckpointError(source, `storage view '${view.key}' (${view.elementCount} elements at ${view.offset}) lies outside storage '${request.key}' (${request.elementCount} elements)`);
      }
      reference = new StorageReference(view.key, request.dtype, view.elementCount, () =>
        rootBytes().subarray(view.offset * element, (view.offset + view.elementCount) * element),
      );
    }
    references.set(referenceKey, reference);
    return reference;
  };
  const main = unpickle(bytes, systemInfo.end, new TorchUnpicklePolicy(source, 'the main pickle', loadStorage), {
    source,
    what: 'the main pickle',
    limits,
  });
  const keysPickle = header(main.end, 'the storage-keys pickle');
  if (!Array.isArray(keysPickle.value) || !keysPickle.value.every((key) => typeof key === 'string')) {
    throw new InvalidCheckpointError(source, `the storage-keys pickle is ${describePickleValue(keysPickle.value)}, not a list of strings`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let position = keysPickle.end;
  for (const key of keysPickle.value as string[]) {
    const root = roots.get(key);
    if (root === undefined) throw new InvalidCheckpointError(source, `the storage section lists '${key}', which the main pickle never refers to`);
    if (root.bytes !== undefined) throw new InvalidCheckpointError(source, `the storage section lists '${key}' twice`);
    const byteLength = root.elementCount * bytesPerElement[root.dtype];
    if (position + 8 > bytes.byteLength) throw new InvalidCheckpointError(source, `the storage section is truncated before storage '${key}'`);
    const count = view.getBigInt64(position, true);
    if (count !== BigInt(root.elementCount)) {
      throw new InvalidCheckpointError(source, `storage '${key}' is written with ${count} elements but declared with ${root.elementCount}`);
    }
    position += 8;
    if (position + byteLength > bytes.byteLength) {
      throw new InvalidCheckpointError(
        source,
        `storage '${key}' needs ${byteLength} bytes but only ${bytes.byteLength - position} remain; the file is truncated`,
      );
    }
    root.bytes = bytes.subarray(position, position + byteLength);
    position += byteLength;
  }
  return main.value;
}

/** A byte-swapped copy (big-endian storages). */
function swapBytes(raw: Uint8Array, width: number): Uint8Array {
  if (width === 1) return raw;
  const out = new Uint8Array(raw.byteLength);
  for (let offset = 0; offset < raw.byteLength; offset += width) {
    for (let index = 0; index < width; index++) out[offset + index] = raw[offset + width - 1 - index]!;
  }
  return out;
}

/**
 * A weights file's bytes as a state dict, told by name and content (one rule for every platform):
 * `.safetensors` as safetensors; a zip archive or a pickle with torch's magic number, and any
 * `.pth` / `.pt` / `.bin` file, through the safe PyTorch reader; anything else as safetensors.
 * `source` is the file's name or path (it picks the format and names the file in errors).
 */
export function parseWeights(bytes: Uint8Array, source: string): StateDict {
  const pytorch = !/\.safetensors$/i.test(source) && (detectPytorchFormat(bytes) !== undefined || /\.(pth|pt|bin)$/i.test(source));
  if (pytorch) return readPytorchCheckpoint(bytes, { source }).stateDict;
  return parseSafetensors(bytes, { source }).tensors;
}
