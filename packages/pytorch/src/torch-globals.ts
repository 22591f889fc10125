import { InvalidCheckpointError, type DataType } from '@vitzoo/core';
import { PickleDict, PickleGlobal, PickleObject, describePickleValue, isTuple, type PickleValue } from './pickle-values.js';
import { StorageReference, TensorReference } from './tensor-reference.js';
import type { UnpicklePolicy } from './unpickler.js';

type GlobalKind =
  | 'ordered-dict'
  | 'rebuild-tensor'
  | 'rebuild-tensor-v2'
  | 'rebuild-parameter'
  | 'rebuild-parameter-with-state'
  | 'rebuild-from-type'
  | 'tensor-class'
  | 'storage-type'
  | 'size'
  | 'codecs-encode'
  | 'empty-bytes'
  | 'placeholder'
  | 'value';

interface AllowedGlobal {
  kind: GlobalKind;
  /** What it becomes, for the README and error messages. */
  becomes: string;
  /** Storage types: the element type. */
  dtype?: DataType;
}

const storageTypes: Record<string, DataType> = {
  FloatStorage: 'float32',
  HalfStorage: 'float16',
  BFloat16Storage: 'bfloat16',
  DoubleStorage: 'float64',
  LongStorage: 'int64',
  IntStorage: 'int32',
  ShortStorage: 'int16',
  CharStorage: 'int8',
  ByteStorage: 'uint8',
  BoolStorage: 'bool',
  UntypedStorage: 'uint8',
};

const torchDtypeNames = [
  'float32', 'float', 'float16', 'half', 'bfloat16', 'float64', 'double',
  'int64', 'long', 'int32', 'int', 'int16', 'short', 'int8', 'uint8', 'bool',
];

const placeholder = (what: string): AllowedGlobal => ({ kind: 'placeholder', becomes: `an inert PickleObject (${what}); nothing is constructed` });

/**
 * Every global a checkpoint may name, and what it is rebuilt as. Nothing on this list is imported
 * or called: each is rebuilt by code in this package, or kept as an inert `PickleObject`
 * placeholder (for the harmless classes released checkpoints keep next to their weights, e.g. an
 * `argparse.Namespace` of training args or a numpy scalar epoch). Any other global — `os.system`,
 * `builtins.eval`, `subprocess.Popen`, a model class, `torch.storage._load_from_bytes`, ... — makes
 * the read fail with `InvalidCheckpointError` naming it.
 *
 * Keys use Python 3 module names; the Python 2 names protocol-2 pickles write (`__builtin__`,
 * `copy_reg`) are mapped first.
 */
export const ALLOWED_GLOBALS: Readonly<Record<string, AllowedGlobal>> = Object.freeze({
  'collections.OrderedDict': { kind: 'ordered-dict', becomes: 'a PickleDict (className collections.OrderedDict)' },
  'torch._utils._rebuild_tensor': { kind: 'rebuild-tensor', becomes: 'a TensorReference (storage, offset, size, stride)' },
  'torch._utils._rebuild_tensor_v2': { kind: 'rebuild-tensor-v2', becomes: 'a TensorReference (storage, offset, size, stride, requires_grad, hooks[, metadata])' },
  'torch._utils._rebuild_parameter': { kind: 'rebuild-parameter', becomes: 'the parameter\u2019s TensorReference' },
  'torch._utils._rebuild_parameter_with_state': { kind: 'rebuild-parameter-with-state', becomes: 'the parameter\u2019s TensorReference (Python state ignored)' },
  'torch._tensor._rebuild_from_type_v2': { kind: 'rebuild-from-type', becomes: 'the TensorReference of a Tensor / Parameter (Python state ignored)' },
  'torch.Tensor': { kind: 'tensor-class', becomes: 'a class marker, only inside _rebuild_from_type_v2' },
  'torch.nn.parameter.Parameter': { kind: 'tensor-class', becomes: 'a class marker, only inside _rebuild_from_type_v2' },
  ...Object.fromEntries(
    Object.entries(storageTypes).map(([name, dtype]) => [
      `torch.${name}`,
      { kind: 'storage-type', dtype, becomes: `a ${dtype} storage type, only inside a persistent id` } satisfies AllowedGlobal,
    ]),
  ),
  'torch.Size': { kind: 'size', becomes: 'a tuple of ints' },
  '_codecs.encode': { kind: 'codecs-encode', becomes: "bytes (protocol 2's encoding of bytes: encode(text, 'latin1') only)" },
  'builtins.bytes': { kind: 'empty-bytes', becomes: "empty bytes (protocol 2's encoding of b'': bytes() only)" },
  'argparse.Namespace': placeholder('training arguments'),
  'numpy.core.multiarray.scalar': placeholder('a numpy scalar'),
  'numpy._core.multiarray.scalar': placeholder('a numpy scalar'),
  'numpy.core.multiarray._reconstruct': placeholder('a numpy array'),
  'numpy._core.multiarray._reconstruct': placeholder('a numpy array'),
  'numpy.ndarray': placeholder('the numpy array class'),
  'numpy.dtype': placeholder('a numpy dtype'),
  'builtins.set': placeholder('a set'),
  'builtins.frozenset': placeholder('a frozenset'),
  'torch.device': placeholder('a device'),
  ...Object.fromEntries(
    torchDtypeNames.map((name) => [`torch.${name}`, { kind: 'value', becomes: 'a PickleGlobal naming a torch dtype' } satisfies AllowedGlobal]),
  ),
});

/** Python 2 module names that protocol-2 pickles written by Python 3 still use. */
const python2Modules = new Map([
  ['__builtin__', 'builtins'],
  ['copy_reg', 'copyreg'],
]);

/** A storage a persistent id names, as the container format must resolve it. */
export interface StorageRequest {
  dtype: DataType;
  key: string;
  location: string;
  elementCount: number;
  /** Legacy format only: a view `(key, offset, elementCount)` of the root storage. */
  view?: { key: string; offset: number; elementCount: number };
}

/**
 * The policy for torch checkpoints: globals from `ALLOWED_GLOBALS` only, tensors rebuilt as lazy
 * `TensorReference`s, persistent ids resolved to storages by the container (`loadStorage`).
 */
export class TorchUnpicklePolicy implements UnpicklePolicy {
  constructor(
    private readonly source: string,
    private readonly what: string,
    private readonly loadStorage: (request: StorageRequest) => StorageReference,
  ) {}

  private fail(reason: string): never {
    throw new InvalidCheckpointError(this.source, `${this.what}: ${reason}`);
  }

  findGlobal(module: string, name: string): PickleValue {
    const python3Module = python2Modules.get(module) ?? module;
    const qualified = `${python3Module}.${name}`;
    const written = `${module}.${name}`;
    if (Object.hasOwn(ALLOWED_GLOBALS, qualified)) return new PickleGlobal(python3Module, name);
    const naming = written === qualified ? `'${written}'` : `'${written}' (${qualified})`;
    if (qualified === 'torch.storage._load_from_bytes') {
      this.fail(
        `its pickle uses the global ${naming}, which unpickles a nested torch.save blob with the unrestricted ` +
          `pickle module; it is refused (re-save the storages normally, e.g. torch.save(model.state_dict()))`,
      );
    }
    this.fail(
      `its pickle references the global ${naming}, which is not on the allow-list (weights, OrderedDict and a few ` +
        `inert data types; see ALLOWED_GLOBALS). It was neither imported nor run. A checkpoint that names other globals ` +
        `may execute code under torch.load; if this is a whole pickled model (torch.save(model)), re-save ` +
        `model.state_dict() or convert it to safetensors`,
    );
  }

  private kind(value: PickleValue): AllowedGlobal | undefined {
    return value instanceof PickleGlobal ? ALLOWED_GLOBALS[value.qualifiedName] : undefined;
  }

  call(callable: PickleValue, args: readonly PickleValue[]): PickleValue {
    const allowed = this.kind(callable);
    if (allowed === undefined) this.fail(`REDUCE calls ${describePickleValue(callable)}, which is not callable`);
    const name = (callable as PickleGlobal).qualifiedName;
    const arity = (counts: number[]) => {
      if (!counts.includes(args.length)) this.fail(`${name} is called with ${args.length} arguments, expected ${counts.join(' or ')}`);
    };
    switch (allowed!.kind) {
      case 'ordered-dict': {
        arity([0, 1]);
        const created = new PickleDict('collections.OrderedDict');
        const initial = args[0];
        if (initial !== undefined) {
          if (!Array.isArray(initial)) this.fail(`collections.OrderedDict is called with ${describePickleValue(initial)}`);
          for (const pair of initial as PickleValue[]) {
            if (!isTuple(pair) || pair.length !== 2 || !isKey(pair[0]!)) this.fail('collections.OrderedDict is called with a list that is not of (key, value) pairs');
            created.items.set((pair as PickleValue[])[0]!, (pair as PickleValue[])[1]!);
          }
        }
        return created;
      }
      case 'rebuild-tensor':
        arity([4]);
        return this.tensor(name, args);
      case 'rebuild-tensor-v2':
        arity([6, 7]);
        if (typeof args[4] !== 'boolean') this.fail(`${name}: requires_grad is ${describePickleValue(args[4])}, not a bool`);
        if (!(args[5] instanceof PickleDict)) this.fail(`${name}: backward_hooks is ${describePickleValue(args[5])}, not a dict`);
        return this.tensor(name, args);
      case 'rebuild-parameter':
      case 'rebuild-parameter-with-state': {
        arity(allowed!.kind === 'rebuild-parameter' ? [3] : [4]);
        if (!(args[0] instanceof TensorReference)) this.fail(`${name}: the data is ${describePickleValue(args[0])}, not a tensor`);
        return args[0]!;
      }
      case 'rebuild-from-type': {
        arity([4]);
        const [rebuild, type, rebuildArgs] = args;
        const rebuildKind = this.kind(rebuild!)?.kind;
        if (rebuildKind === undefined || !rebuildKind.startsWith('rebuild-') || rebuildKind === 'rebuild-from-type') {
          this.fail(`${name}: the rebuild function is ${describePickleValue(rebuild)}, not a torch tensor rebuild`);
        }
        if (this.kind(type!)?.kind !== 'tensor-class') this.fail(`${name}: the type is ${describePickleValue(type)}, not torch.Tensor or Parameter`);
        if (!isTuple(rebuildArgs)) this.fail(`${name}: the arguments are ${describePickleValue(rebuildArgs)}, not a tuple`);
        const result = this.call(rebuild!, rebuildArgs as PickleValue[]);
        if (!(result instanceof TensorReference)) this.fail(`${name} did not rebuild a tensor`);
        return result;
      }
      case 'size': {
        arity([0, 1]);
        const dims = args[0] ?? [];
        if (!Array.isArray(dims) || !dims.every((dim) => isCount(dim))) this.fail(`torch.Size is called with ${describePickleValue(args[0])}`);
        return Object.freeze([...(dims as number[])]) as PickleValue[];
      }
      case 'codecs-encode': {
        arity([2]);
        const [text, encoding] = args;
        if (typeof text !== 'string' || (encoding !== 'latin1' && encoding !== 'latin-1')) {
          this.fail(`_codecs.encode is only allowed as encode(text, 'latin1') (protocol 2 bytes), got encoding ${describePickleValue(encoding)}`);
        }
        const out = new Uint8Array((text as string).length);
        for (let index = 0; index < out.length; index++) {
          const code = (text as string).charCodeAt(index);
          if (code > 0xff) this.fail(`_codecs.encode: the text is not latin-1`);
          out[index] = code;
        }
        return out;
      }
      case 'empty-bytes':
        arity([0]);
        return new Uint8Array(0);
      case 'placeholder':
        return new PickleObject(name, args);
      default:
        return this.fail(`REDUCE calls ${name}, which is ${allowed!.becomes} and cannot be called`);
    }
  }

  newObject(cls: PickleValue, args: readonly PickleValue[], keywords: PickleDict | undefined): PickleValue {
    const allowed = this.kind(cls);
    if (allowed?.kind === 'ordered-dict' && args.length === 0) return new PickleDict('collections.OrderedDict');
    if (allowed?.kind !== 'placeholder') this.fail(`NEWOBJ instantiates ${describePickleValue(cls)}, which is not allowed`);
    const created = new PickleObject((cls as PickleGlobal).qualifiedName, args);
    if (keywords !== undefined && keywords.items.size > 0) created.state = keywords;
    return created;
  }

  build(target: PickleValue, state: PickleValue): void {
    if (target instanceof PickleDict) target.attributes = state;
    else if (target instanceof PickleObject) target.state = state;
    else this.fail(`BUILD sets state on ${describePickleValue(target)}, which takes none`);
  }

  persistentLoad(id: PickleValue): PickleValue {
    if (!isTuple(id) || id.length === 0) this.fail(`a persistent id is ${describePickleValue(id)}, not a tuple`);
    const [tag, storageType, key, location, elementCount, view] = id as PickleValue[];
    // Python 2 pickles may carry the tag as bytes.
    const tagText = tag instanceof Uint8Array && tag.byteLength < 16 ? String.fromCharCode(...tag) : tag;
    if (tagText === 'module') {
      this.fail(`it pickles a whole nn.Module (a 'module' persistent id); only state dicts can be read safely — re-save model.state_dict()`);
    }
    if (tagText !== 'storage') this.fail(`a persistent id has the unknown type ${describePickleValue(tag)}`);
    if (id.length !== 5 && id.length !== 6) this.fail(`a storage persistent id has ${id.length} fields, expected 5 (zip) or 6 (legacy)`);
    const dtype = this.kind(storageType!)?.dtype;
    if (dtype === undefined) this.fail(`a storage persistent id names ${describePickleValue(storageType)}, not a torch storage type`);
    if (!isKey(key!) || typeof key === 'boolean' || key === null) this.fail(`a storage key is ${describePickleValue(key)}`);
    if (typeof location !== 'string') this.fail(`a storage location is ${describePickleValue(location)}, not a string`);
    if (!isCount(elementCount!)) this.fail(`a storage size is ${describePickleValue(elementCount)}, not a non-negative integer`);
    const request: StorageRequest = { dtype: dtype!, key: String(key), location: location as string, elementCount: elementCount as number };
    if (view !== undefined && view !== null) {
      const [viewKey, offset, viewCount] = isTuple(view) && view.length === 3 ? view : [];
      if (!isKey(viewKey!) || !isCount(offset!) || !isCount(viewCount!)) this.fail(`a storage view is ${describePickleValue(view)}, not (key, offset, size)`);
      request.view = { key: String(viewKey), offset: offset as number, elementCount: viewCount as number };
    }
    return this.loadStorage(request);
  }

  private tensor(name: string, args: readonly PickleValue[]): TensorReference {
    const [storage, offset, shape, stride] = args;
    if (!(storage instanceof StorageReference)) this.fail(`${name}: the storage is ${describePickleValue(storage)}, not a persistent storage`);
    if (!isCount(offset!)) this.fail(`${name}: the storage offset is ${describePickleValue(offset)}, not a non-negative integer`);
    if (!isTuple(shape) || !shape.every(isCount)) this.fail(`${name}: the size is ${describePickleValue(shape)}, not a tuple of non-negative integers below 2^53`);
    if (!isTuple(stride) || !stride.every(isCount)) this.fail(`${name}: the stride is ${describePickleValue(stride)}, not a tuple of non-negative integers below 2^53`);
    if ((shape as PickleValue[]).length !== (stride as PickleValue[]).length) this.fail(`${name}: size and stride have different lengths`);
    return new TensorReference(storage as StorageReference, offset as number, shape as number[], stride as number[]);
  }
}

function isCount(value: PickleValue): value is number {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0;
}

function isKey(value: PickleValue): boolean {
  return value === null || ['string', 'number', 'bigint', 'boolean'].includes(typeof value) || isTuple(value);
}
