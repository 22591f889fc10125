import { InvalidCheckpointError } from '@vitzoo/core';
import { PickleDict, PickleObject, describePickleValue, isTuple, type PickleValue } from './pickle-values.js';

/**
 * What a restricted unpickle may do with the few opcodes that could run code in Python (GLOBAL,
 * REDUCE, NEWOBJ, BUILD, persistent ids). The unpickler itself only moves data around; every
 * decision about a global is the policy's, and a policy never imports or calls anything.
 */
export interface UnpicklePolicy {
  /** The value of GLOBAL / STACK_GLOBAL `module.name`; throws for anything not allowed. */
  findGlobal(module: string, name: string): PickleValue;
  /** REDUCE: the result of `callable(*args)`. */
  call(callable: PickleValue, args: readonly PickleValue[]): PickleValue;
  /** NEWOBJ / NEWOBJ_EX: the result of `cls.__new__(cls, *args, **keywords)`. */
  newObject(cls: PickleValue, args: readonly PickleValue[], keywords: PickleDict | undefined): PickleValue;
  /** BUILD: apply `state` to `target` (in place). */
  build(target: PickleValue, state: PickleValue): void;
  /** BINPERSID: the object a persistent id names. */
  persistentLoad(id: PickleValue): PickleValue;
}

/** Bounds on one unpickle; a pickle beyond them is refused rather than allowed to exhaust memory. */
export interface UnpickleLimits {
  /** Values on the stack at once (all marks included). */
  maxStackSize: number;
  /** Nested MARKs open at once. */
  maxMarkDepth: number;
  /** Memo entries. */
  maxMemoSize: number;
}

export const DEFAULT_UNPICKLE_LIMITS: UnpickleLimits = {
  maxStackSize: 1 << 22,
  maxMarkDepth: 1 << 12,
  maxMemoSize: 1 << 24,
};

/** Longest LONG1/LONG4 integer accepted, in bytes (torch's largest is the 10-byte legacy magic number). */
const maxLongBytes = 64;

export interface UnpickleResult {
  value: PickleValue;
  /** Offset just past the STOP opcode (the next pickle of a legacy file starts there). */
  end: number;
}

const opcodeNames: Record<number, string> = {
  0x28: 'MARK',
  0x2e: 'STOP',
  0x30: 'POP',
  0x31: 'POP_MARK',
  0x32: 'DUP',
  0x42: 'BINBYTES',
  0x43: 'SHORT_BINBYTES',
  0x47: 'BINFLOAT',
  0x4a: 'BININT',
  0x4b: 'BININT1',
  0x4d: 'BININT2',
  0x4e: 'NONE',
  0x51: 'BINPERSID',
  0x52: 'REDUCE',
  0x54: 'BINSTRING',
  0x55: 'SHORT_BINSTRING',
  0x58: 'BINUNICODE',
  0x5d: 'EMPTY_LIST',
  0x61: 'APPEND',
  0x62: 'BUILD',
  0x63: 'GLOBAL',
  0x64: 'DICT',
  0x65: 'APPENDS',
  0x68: 'BINGET',
  0x6a: 'LONG_BINGET',
  0x6c: 'LIST',
  0x71: 'BINPUT',
  0x72: 'LONG_BINPUT',
  0x73: 'SETITEM',
  0x74: 'TUPLE',
  0x75: 'SETITEMS',
  0x7d: 'EMPTY_DICT',
  0x29: 'EMPTY_TUPLE',
  0x80: 'PROTO',
  0x81: 'NEWOBJ',
  0x85: 'TUPLE1',
  0x86: 'TUPLE2',
  0x87: 'TUPLE3',
  0x88: 'NEWTRUE',
  0x89: 'NEWFALSE',
  0x8a: 'LONG1',
  0x8b: 'LONG4',
  0x8c: 'SHORT_BINUNICODE',
  0x8d: 'BINUNICODE8',
  0x8e: 'BINBYTES8',
  0x8f: 'EMPTY_SET',
  0x90: 'ADDITEMS',
  0x91: 'FROZENSET',
  0x92: 'NEWOBJ_EX',
  0x93: 'STACK_GLOBAL',
  0x94: 'MEMOIZE',
  0x95: 'FRAME',
  0x96: 'BYTEARRAY8',
};

/** Opcodes refused by name: text-mode (protocol 0/1) object creation, extensions, out-of-band buffers. */
const refusedOpcodes: Record<number, string> = {
  0x69: 'INST (protocol 0 object creation)',
  0x6f: 'OBJ (protocol 1 object creation)',
  0x50: 'PERSID (text persistent id)',
  0x82: 'EXT1 (extension registry)',
  0x83: 'EXT2 (extension registry)',
  0x84: 'EXT4 (extension registry)',
  0x97: 'NEXT_BUFFER (out-of-band buffer)',
  0x98: 'READONLY_BUFFER (out-of-band buffer)',
};

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Runs one pickle (protocol 2 to 5, the binary opcodes) starting at `start` under `policy`.
 * Malformed, truncated or oversized pickles throw `InvalidCheckpointError`, naming `what` (e.g.
 * 'data.pkl') and the byte offset.
 */
export function unpickle(
  bytes: Uint8Array,
  start: number,
  policy: UnpicklePolicy,
  context: { source: string; what: string; limits?: UnpickleLimits },
): UnpickleResult {
  const limits = context.limits ?? DEFAULT_UNPICKLE_LIMITS;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let position = start;
  let opcodeStart = start;
  let opcode = 0;
  const fail = (reason: string): never => {
    const name = opcodeNames[opcode] ?? `0x${opcode.toString(16).padStart(2, '0')}`;
    throw new InvalidCheckpointError(context.source, `${context.what}: ${reason} (opcode ${name} at byte ${opcodeStart})`);
  };
  const need = (count: number) => {
    if (count > bytes.byteLength - position) fail(`the pickle is truncated: ${count} more bytes needed, ${bytes.byteLength - position} left`);
  };
  const readUint8 = () => {
    need(1);
    return bytes[position++]!;
  };
  const readUint16 = () => {
    need(2);
    const value = view.getUint16(position, true);
    position += 2;
    return value;
  };
  const readUint32 = () => {
    need(4);
    const value = view.getUint32(position, true);
    position += 4;
    return value;
  };
  const readUint64 = () => {
    need(8);
    const value = view.getBigUint64(position, true);
    position += 8;
    if (value > BigInt(bytes.byteLength)) fail(`a length of ${value} bytes exceeds the file`);
    return Number(value);
  };
  const take = (length: number) => {
    need(length);
    const slice = bytes.subarray(position, position + length);
    position += length;
    return slice;
  };
  const readText = (length: number) => {
    const raw = take(length);
    try {
      return utf8.decode(raw);
    } catch {
      return fail('a string is not valid UTF-8');
    }
  };
  const readLine = () => {
    const newline = bytes.indexOf(0x0a, position);
    if (newline < 0 || newline - position > 1024) fail('a GLOBAL name is not terminated by a newline (truncated?)');
    const text = readText(newline - position);
    position++;
    return text;
  };

  const stack: PickleValue[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PickleValue>();

  const push = (value: PickleValue) => {
    if (stack.length >= limits.maxStackSize) fail(`the pickle stack exceeds ${limits.maxStackSize} values`);
    stack.push(value);
  };
  const pop = (): PickleValue => {
    const floor = marks.length > 0 ? marks[marks.length - 1]! : 0;
    if (stack.length <= floor) fail('the pickle pops from an empty stack');
    return stack.pop()!;
  };
  const top = (): PickleValue => {
    const floor = marks.length > 0 ? marks[marks.length - 1]! : 0;
    if (stack.length <= floor) fail('the pickle reads an empty stack');
    return stack[stack.length - 1]!;
  };
  const popMark = (): PickleValue[] => {
    const mark = marks.pop();
    if (mark === undefined) fail('the pickle closes a MARK it never opened');
    return stack.splice(mark!);
  };
  const tuple = (items: PickleValue[]): PickleValue[] => Object.freeze(items) as PickleValue[];
  const memoize = (index: number) => {
    if (!memo.has(index) && memo.size >= limits.maxMemoSize) fail(`the pickle memo exceeds ${limits.maxMemoSize} entries`);
    memo.set(index, top());
  };
  const recall = (index: number) => {
    const value = memo.get(index);
    if (value === undefined) fail(`memo entry ${index} is read before it is written`);
    push(value!);
  };
  const list = (target: PickleValue): PickleValue[] => {
    if (!Array.isArray(target) || Object.isFrozen(target)) fail(`APPEND to ${describePickleValue(target)}, not a list`);
    return target as PickleValue[];
  };
  const dict = (target: PickleValue): PickleDict => {
    if (!(target instanceof PickleDict)) fail(`SETITEM on ${describePickleValue(target)}, not a dict`);
    return target as PickleDict;
  };
  const hashable = (key: PickleValue): PickleValue => {
    const ok =
      key === null ||
      typeof key === 'string' ||
      typeof key === 'number' ||
      typeof key === 'bigint' ||
      typeof key === 'boolean' ||
      isTuple(key);
    if (!ok) fail(`a dict key is ${describePickleValue(key)}, which is not hashable`);
    return key;
  };
  const set = (target: PickleValue): PickleObject => {
    if (!(target instanceof PickleObject) || target.className !== 'builtins.set') fail(`ADDITEMS to ${describePickleValue(target)}, not a set`);
    return target as PickleObject;
  };
  const argumentTuple = (value: PickleValue, what: string): readonly PickleValue[] => {
    if (!isTuple(value)) fail(`the ${what} arguments are ${describePickleValue(value)}, not a tuple`);
    return value as PickleValue[];
  };
  const longFromBytes = (raw: Uint8Array): number | bigint => {
    if (raw.byteLength === 0) return 0;
    let value = 0n;
    for (let index = raw.byteLength - 1; index >= 0; index--) value = (value << 8n) | BigInt(raw[index]!);
    if (raw[raw.byteLength - 1]! & 0x80) value -= 1n << BigInt(raw.byteLength * 8);
    return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value;
  };

  for (;;) {
    opcodeStart = position;
    if (position >= bytes.byteLength) {
      opcode = 0;
      fail('the pickle is truncated: it ends without a STOP opcode');
    }
    opcode = bytes[position++]!;
    switch (opcode) {
      case 0x80: {
        const protocol = readUint8();
        if (protocol > 5) fail(`pickle protocol ${protocol} is not supported (0 to 5 are)`);
        break;
      }
      case 0x95: {
        const length = readUint64();
        if (length > bytes.byteLength - position) fail(`a frame of ${length} bytes runs past the end (truncated?)`);
        break;
      }
      case 0x2e: {
        const value = pop();
        if (marks.length > 0) fail('the pickle stops with an open MARK');
        return { value, end: position };
      }
      case 0x28:
        if (marks.length >= limits.maxMarkDepth) fail(`more than ${limits.maxMarkDepth} MARKs are open`);
        marks.push(stack.length);
        break;
      case 0x30:
        if (stack.length > (marks.length > 0 ? marks[marks.length - 1]! : 0)) stack.pop();
        else popMark();
        break;
      case 0x31:
        popMark();
        break;
      case 0x32:
        push(top());
        break;
      // Constants and numbers.
      case 0x4e:
        push(null);
        break;
      case 0x88:
        push(true);
        break;
      case 0x89:
        push(false);
        break;
      case 0x4a: {
        need(4);
        const value = view.getInt32(position, true);
        position += 4;
        push(value);
        break;
      }
      case 0x4b:
        push(readUint8());
        break;
      case 0x4d:
        push(readUint16());
        break;
      case 0x8a: {
        const length = readUint8();
        if (length > maxLongBytes) fail(`an integer of ${length} bytes is larger than any checkpoint needs`);
        push(longFromBytes(take(length)));
        break;
      }
      case 0x8b: {
        need(4);
        const length = view.getInt32(position, true);
        position += 4;
        if (length < 0 || length > maxLongBytes) fail(`an integer of ${length} bytes is larger than any checkpoint needs`);
        push(longFromBytes(take(length)));
        break;
      }
      case 0x47: {
        need(8);
        push(view.getFloat64(position, false));
        position += 8;
        break;
      }
      // Strings and bytes.
      case 0x58:
        push(readText(readUint32()));
        break;
      case 0x8c:
        push(readText(readUint8()));
        break;
      case 0x8d:
        push(readText(readUint64()));
        break;
      case 0x54: {
        need(4);
        const length = view.getInt32(position, true);
        position += 4;
        if (length < 0) fail('a string has a negative length');
        push(readText(length));
        break;
      }
      case 0x55:
        push(readText(readUint8()));
        break;
      case 0x42:
        push(take(readUint32()).slice());
        break;
      case 0x43:
        push(take(readUint8()).slice());
        break;
      case 0x8e:
      case 0x96:
        push(take(readUint64()).slice());
        break;
      // Containers.
      case 0x29:
        push(tuple([]));
        break;
      case 0x74:
        push(tuple(popMark()));
        break;
      case 0x85: {
        const first = pop();
        push(tuple([first]));
        break;
      }
      case 0x86: {
        const second = pop();
        const first = pop();
        push(tuple([first, second]));
        break;
      }
      case 0x87: {
        const third = pop();
        const second = pop();
        const first = pop();
        push(tuple([first, second, third]));
        break;
      }
      case 0x5d:
        push([]);
        break;
      case 0x6c:
        push(popMark());
        break;
      case 0x61: {
        const item = pop();
        list(top()).push(item);
        break;
      }
      case 0x65: {
        const items = popMark();
        const target = list(top());
        for (const item of items) target.push(item);
        break;
      }
      case 0x7d:
        push(new PickleDict());
        break;
      case 0x64: {
        const items = popMark();
        if (items.length % 2 !== 0) fail('DICT has an odd number of items');
        const created = new PickleDict();
        for (let index = 0; index < items.length; index += 2) created.items.set(hashable(items[index]!), items[index + 1]!);
        push(created);
        break;
      }
      case 0x73: {
        const value = pop();
        const key = pop();
        dict(top()).items.set(hashable(key), value);
        break;
      }
      case 0x75: {
        const items = popMark();
        if (items.length % 2 !== 0) fail('SETITEMS has an odd number of items');
        const target = dict(top());
        for (let index = 0; index < items.length; index += 2) target.items.set(hashable(items[index]!), items[index + 1]!);
        break;
      }
      case 0x8f:
        push(new PickleObject('builtins.set', []));
        break;
      case 0x90: {
        const items = popMark();
        const target = set(top()).items;
        for (const item of items) target.push(item);
        break;
      }
      case 0x91: {
        const created = new PickleObject('builtins.frozenset', []);
        for (const item of popMark()) created.items.push(item);
        push(created);
        break;
      }
      // Memo.
      case 0x71:
        memoize(readUint8());
        break;
      case 0x72:
        memoize(readUint32());
        break;
      case 0x94:
        memoize(memo.size);
        break;
      case 0x68:
        recall(readUint8());
        break;
      case 0x6a:
        recall(readUint32());
        break;
      // The opcodes that could run code: all decided by the policy.
      case 0x63: {
        const module = readLine();
        const name = readLine();
        push(policy.findGlobal(module, name));
        break;
      }
      case 0x93: {
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') fail('STACK_GLOBAL needs two strings');
        push(policy.findGlobal(module as string, name as string));
        break;
      }
      case 0x52: {
        const args = argumentTuple(pop(), 'REDUCE');
        const callable = pop();
        push(policy.call(callable, args));
        break;
      }
      case 0x81: {
        const args = argumentTuple(pop(), 'NEWOBJ');
        const cls = pop();
        push(policy.newObject(cls, args, undefined));
        break;
      }
      case 0x92: {
        const keywords = pop();
        const args = argumentTuple(pop(), 'NEWOBJ_EX');
        const cls = pop();
        if (!(keywords instanceof PickleDict)) fail('NEWOBJ_EX keywords are not a dict');
        push(policy.newObject(cls, args, keywords as PickleDict));
        break;
      }
      case 0x62: {
        const state = pop();
        policy.build(top(), state);
        break;
      }
      case 0x51:
        push(policy.persistentLoad(pop()));
        break;
      default: {
        const refused = refusedOpcodes[opcode];
        fail(refused ? `opcode ${refused} is not allowed` : `unknown or unsupported pickle opcode 0x${opcode.toString(16).padStart(2, '0')}`);
      }
    }
  }
}
