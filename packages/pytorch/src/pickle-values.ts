/**
 * The values a restricted unpickle produces. Nothing here can run code: globals are names, calls
 * to allowed globals produce data or inert placeholders.
 */
import type { StorageReference, TensorReference } from './tensor-reference.js';

/**
 * A Python value rebuilt from a pickle: `None` → null, bool, int → number (bigint beyond 2^53),
 * float → number, str → string, bytes → Uint8Array, list → array, tuple → frozen array, dict /
 * OrderedDict → `PickleDict`, an allowed global → `PickleGlobal`, an allowed object → `PickleObject`,
 * a torch storage / tensor → `StorageReference` / `TensorReference`.
 */
export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | PickleDict
  | PickleGlobal
  | PickleObject
  | StorageReference
  | TensorReference;

/** A Python dict (or `collections.OrderedDict`), insertion ordered. */
export class PickleDict {
  readonly items = new Map<PickleValue, PickleValue>();
  /** Instance attributes set by BUILD (e.g. a state dict's `_metadata`), never mixed into `items`. */
  attributes: PickleValue | undefined;
  constructor(readonly className: 'dict' | 'collections.OrderedDict' = 'dict') {}

  get(key: PickleValue): PickleValue | undefined {
    return this.items.get(key);
  }
}

/** A reference to an allowed global (`module.name`), never imported or called. */
export class PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
  ) {}
  get qualifiedName(): string {
    return `${this.module}.${this.name}`;
  }
}

/**
 * An inert stand-in for an instance of an allowed harmless class (e.g. `argparse.Namespace`,
 * a numpy scalar, a set): its class name, the constructor arguments the pickle gave, the state
 * BUILD set and, for sets, the items. No constructor or `__setstate__` is ever run.
 */
export class PickleObject {
  state: PickleValue | undefined;
  readonly items: PickleValue[] = [];
  constructor(
    readonly className: string,
    readonly args: readonly PickleValue[],
  ) {}
}

/** A Python tuple (a frozen array); lists are plain arrays. */
export function isTuple(value: PickleValue | undefined): value is readonly PickleValue[] & PickleValue[] {
  return Array.isArray(value) && Object.isFrozen(value);
}

/** A short description of a value for error messages (never recursive). */
export function describePickleValue(value: PickleValue | undefined): string {
  if (value === undefined) return 'nothing';
  if (value === null) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (typeof value === 'number' || typeof value === 'bigint') return `the number ${value}`;
  if (typeof value === 'string') return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 37)}...` : value)}`;
  if (value instanceof Uint8Array) return `${value.byteLength} bytes`;
  if (Array.isArray(value)) return `a ${Object.isFrozen(value) ? 'tuple' : 'list'} of ${value.length}`;
  if (value instanceof PickleDict) return `a ${value.className} of ${value.items.size} entries`;
  if (value instanceof PickleGlobal) return `the global ${value.qualifiedName}`;
  if (value instanceof PickleObject) return `a ${value.className} object`;
  return value.description;
}
