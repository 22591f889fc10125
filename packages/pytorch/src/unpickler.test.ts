import { InvalidCheckpointError } from '@vitzoo/core';
import { describe, expect, it } from 'vitest';
import { PickleDict, PickleGlobal, PickleObject, isTuple, type PickleValue } from './pickle-values.js';
import { PickleWriter, type PyValue } from './testing/pickle-writer.js';
import { TorchUnpicklePolicy } from './torch-globals.js';
import { DEFAULT_UNPICKLE_LIMITS, unpickle, type UnpickleLimits } from './unpickler.js';

const policy = new TorchUnpicklePolicy('test.pkl', 'data.pkl', () => {
  throw new Error('no storages in these tests');
});
const load = (bytes: Uint8Array, limits?: UnpickleLimits) => unpickle(bytes, 0, policy, { source: 'test.pkl', what: 'data.pkl', limits }).value;
const loadValue = (value: PyValue) => load(PickleWriter.pickle(value));
const raw = (build: (writer: PickleWriter) => void) => {
  const writer = new PickleWriter().proto(2);
  build(writer);
  return writer.finish();
};

function refusal(run: () => unknown): InvalidCheckpointError {
  try {
    run();
  } catch (error) {
    if (InvalidCheckpointError.isInstance(error)) return error as InvalidCheckpointError;
    throw error;
  }
  throw new Error('expected InvalidCheckpointError, nothing was thrown');
}

describe('plain data', () => {
  it('rebuilds numbers, strings, bytes, None, bools, lists, tuples and dicts', () => {
    const value = loadValue({
      dict: [
        ['small', 7],
        ['two-byte', 1000],
        ['negative', -5],
        ['four-byte', 2 ** 31 - 1],
        ['long', { int: 2n ** 70n + 3n }],
        ['negative long', { int: -(2n ** 40n) }],
        ['float', 0.1],
        ['integral float', { float: 2 }],
        ['text', 'héllo ✓'],
        ['bytes', new Uint8Array([0, 255, 7])],
        ['none', null],
        ['yes', true],
        ['no', false],
        ['list', [1, [2, 3], 'x']],
        ['tuple', { tuple: [1, { tuple: [] }] }],
        [3, 'int key'],
      ],
    }) as PickleDict;
    expect(value).toBeInstanceOf(PickleDict);
    const get = (key: PickleValue) => value.get(key);
    expect(get('small')).toBe(7);
    expect(get('two-byte')).toBe(1000);
    expect(get('negative')).toBe(-5);
    expect(get('four-byte')).toBe(2147483647);
    expect(get('long')).toBe(2n ** 70n + 3n);
    expect(get('negative long')).toBe(-(2 ** 40));
    expect(get('float')).toBe(0.1);
    expect(get('integral float')).toBe(2);
    expect(get('text')).toBe('héllo ✓');
    expect(get('bytes')).toEqual(new Uint8Array([0, 255, 7]));
    expect(get('none')).toBeNull();
    expect(get('yes')).toBe(true);
    expect(get('no')).toBe(false);
    expect(get('list')).toEqual([1, [2, 3], 'x']);
    expect(isTuple(get('list'))).toBe(false);
    expect(isTuple(get('tuple'))).toBe(true);
    expect(get('tuple')).toEqual([1, []]);
    expect(get(3)).toBe('int key');
    expect([...value.items.keys()][0]).toBe('small');
  });

  it('shares memoized objects (BINPUT/BINGET, MEMOIZE) instead of copying them', () => {
    const bytes = raw((w) => {
      w.byte(0x5d); // shared = []
      w.put();
      w.byte(0x94); // MEMOIZE at index 1
      w.byte(0x30); // POP
      w.mark().get(0).get(1).byte(0x32).byte(0x74); // (shared, shared, shared)
      w.stop();
    });
    const value = load(bytes) as PickleValue[];
    expect(value).toHaveLength(3);
    expect(value[0]).toBe(value[1]);
    expect(value[1]).toBe(value[2]);
  });

  it('reads STACK_GLOBAL, FRAME and protocol 4 short strings', () => {
    const bytes = raw((w) => {
      w.byte(0x95, 5, 0, 0, 0, 0, 0, 0, 0); // FRAME of the next 5 bytes
      w.byte(0x8c, 2, 0x68, 0x69); // SHORT_BINUNICODE 'hi'
      w.stop();
    });
    expect(load(bytes)).toBe('hi');
    const global = loadValue({ stackGlobal: ['collections', 'OrderedDict'] });
    expect(global).toBeInstanceOf(PickleGlobal);
    expect((global as PickleGlobal).qualifiedName).toBe('collections.OrderedDict');
  });
});

describe('allowed harmless globals become inert placeholders', () => {
  it('argparse.Namespace via NEWOBJ + BUILD keeps its attributes as data', () => {
    const value = loadValue({
      build: [{ newObject: [{ global: ['argparse', 'Namespace'] }, []] }, { dict: [['lr', 0.001], ['model', 'cswin_tiny']] }],
    });
    expect(value).toBeInstanceOf(PickleObject);
    const object = value as PickleObject;
    expect(object.className).toBe('argparse.Namespace');
    expect((object.state as PickleDict).get('lr')).toBe(0.001);
  });

  it('a numpy scalar (protocol 2: dtype + _codecs.encode bytes) is kept, not constructed', () => {
    const dtype = { build: [{ reduce: [{ global: ['numpy', 'dtype'] }, ['f8', false, true]] }, { tuple: [3, '<', null, null, null, -1, -1, 0] }] } as PyValue;
    const payload = '\u0000\u0000\u0000\u0000\u0000\u0000\u00f0\u003f'; // 1.0 as little-endian f8, latin-1 text
    const value = loadValue({
      reduce: [{ global: ['numpy.core.multiarray', 'scalar'] }, [dtype, { reduce: [{ global: ['_codecs', 'encode'] }, [payload, 'latin1']] }]],
    }) as PickleObject;
    expect(value.className).toBe('numpy.core.multiarray.scalar');
    const data = value.args[1] as Uint8Array;
    expect(new DataView(data.buffer).getFloat64(0, true)).toBe(1);
    expect((value.args[0] as PickleObject).className).toBe('numpy.dtype');
  });

  it('protocol 2 sets (__builtin__.set) and torch.Size', () => {
    const set = loadValue({ reduce: [{ global: ['__builtin__', 'set'] }, [[1, 2]]] }) as PickleObject;
    expect(set.className).toBe('builtins.set');
    expect(set.args).toEqual([[1, 2]]);
    const size = loadValue({ reduce: [{ global: ['torch', 'Size'] }, [{ tuple: [2, 3] }]] });
    expect(size).toEqual([2, 3]);
    expect(isTuple(size)).toBe(true);
  });

  it('_codecs.encode is only allowed as latin-1 bytes', () => {
    const error = refusal(() => loadValue({ reduce: [{ global: ['_codecs', 'encode'] }, ['x', 'rot13']] }));
    expect(error.message).toMatch(/encode\(text, 'latin1'\)/);
  });

  it('allowed globals that are not callables cannot be called', () => {
    expect(refusal(() => loadValue({ reduce: [{ global: ['torch', 'FloatStorage'] }, [4]] })).message).toMatch(/torch\.FloatStorage.*cannot be called/);
    expect(refusal(() => loadValue({ reduce: ['not a function', []] })).message).toMatch(/REDUCE calls the string "not a function"/);
    expect(refusal(() => loadValue({ newObject: [{ global: ['torch._utils', '_rebuild_tensor_v2'] }, []] })).message).toMatch(/NEWOBJ instantiates the global torch\._utils\._rebuild_tensor_v2/);
  });
});

describe('every other global is refused by name, before anything uses it', () => {
  it.each([
    [['os', 'system'], "'os.system'"],
    [['posix', 'system'], "'posix.system'"],
    [['__builtin__', 'eval'], "'__builtin__.eval' (builtins.eval)"],
    [['builtins', 'exec'], "'builtins.exec'"],
    [['subprocess', 'Popen'], "'subprocess.Popen'"],
    [['torch.nn.modules.linear', 'Linear'], "'torch.nn.modules.linear.Linear'"],
    [['copy_reg', '_reconstructor'], "'copy_reg._reconstructor' (copyreg._reconstructor)"],
    [['collections', 'constructor'], "'collections.constructor'"],
    [['__proto__', 'constructor'], "'__proto__.constructor'"],
  ] as const)('GLOBAL %j', ([module, name], naming) => {
    const error = refusal(() => loadValue({ reduce: [{ global: [module, name] }, ['echo pwned']] }));
    expect(error.message).toContain(`references the global ${naming}`);
    expect(error.message).toContain('It was neither imported nor run');
    // The same through STACK_GLOBAL (protocol 4).
    expect(refusal(() => loadValue({ stackGlobal: [module, name] })).message).toContain(naming);
  });

  it('torch.storage._load_from_bytes (a nested unrestricted torch.load) is refused with its own reason', () => {
    const error = refusal(() => loadValue({ reduce: [{ global: ['torch.storage', '_load_from_bytes'] }, [new Uint8Array(4)]] }));
    expect(error.message).toMatch(/'torch\.storage\._load_from_bytes'.*nested torch\.save blob/);
  });
});

describe('malformed pickles', () => {
  const sample = PickleWriter.pickle({
    dict: [
      ['a', [1, 2.5, 'three', { tuple: [null, true] }]],
      ['b', { int: 2n ** 64n }],
      ['c', { orderedDict: [['x', new Uint8Array([1, 2])]] }],
    ],
  });

  it('every truncation of a valid pickle is refused with a typed error', () => {
    expect(load(sample)).toBeInstanceOf(PickleDict);
    for (let length = 0; length < sample.byteLength; length++) {
      const error = refusal(() => load(sample.subarray(0, length)));
      expect(error.reason).toMatch(/truncated|empty stack|open MARK|never opened/);
    }
  });

  it.each([
    ['an unknown opcode', raw((w) => w.byte(0xff)), /unknown or unsupported pickle opcode 0xff/],
    ['INST', raw((w) => w.byte(0x69)), /INST \(protocol 0 object creation\) is not allowed/],
    ['EXT1', raw((w) => w.byte(0x82, 1)), /EXT1/],
    ['a pop from an empty stack', raw((w) => w.byte(0x30).stop()), /closes a MARK it never opened/],
    ['a pop below a MARK', raw((w) => w.byte(0x4e).mark().byte(0x85)), /pops from an empty stack/],
    ['APPEND to a tuple', raw((w) => w.byte(0x29).byte(0x4e).byte(0x61)), /APPEND to a tuple of 0, not a list/],
    ['SETITEM on a list', raw((w) => w.byte(0x5d).byte(0x4e, 0x4e).byte(0x73)), /SETITEM on a list of 0, not a dict/],
    ['an unhashable dict key', raw((w) => w.byte(0x7d).byte(0x5d).byte(0x4e).byte(0x73)), /not hashable/],
    ['a memo read before write', raw((w) => w.get(9)), /memo entry 9 is read before it is written/],
    ['protocol 6', raw((w) => w.proto(6)), /pickle protocol 6 is not supported/],
    ['a huge string length', raw((w) => w.byte(0x58).uint32(0xfffffff0)), /truncated/],
    ['a huge BINUNICODE8 length', raw((w) => w.byte(0x8d, 0, 0, 0, 0, 0, 0, 0, 0x7f)), /exceeds the file/],
    ['invalid UTF-8', raw((w) => w.byte(0x58).uint32(2).byte(0xc3, 0x28).stop()), /not valid UTF-8/],
    ['a 1000-byte integer', raw((w) => w.byte(0x8a, 200)), /larger than any checkpoint needs/],
    ['REDUCE with non-tuple args', raw((w) => w.global('collections', 'OrderedDict').byte(0x5d).byte(0x52)), /REDUCE arguments are a list of 0, not a tuple/],
    ['BUILD on a string', raw((w) => w.string('x').byte(0x7d).byte(0x62)), /BUILD sets state on the string "x"/],
  ])('refuses %s', (_, bytes, message) => {
    expect(refusal(() => load(bytes)).message).toMatch(message);
  });

  it('enforces the stack, mark and memo limits', () => {
    const limits = { ...DEFAULT_UNPICKLE_LIMITS, maxStackSize: 10, maxMarkDepth: 3, maxMemoSize: 2 };
    expect(refusal(() => load(raw((w) => w.byte(...new Array(11).fill(0x4e))), limits)).message).toMatch(/stack exceeds 10 values/);
    expect(refusal(() => load(raw((w) => w.mark().mark().mark().mark()), limits)).message).toMatch(/more than 3 MARKs/);
    expect(refusal(() => load(raw((w) => w.byte(0x4e).byte(0x94, 0x94, 0x94)), limits)).message).toMatch(/memo exceeds 2 entries/);
  });

  it('errors name the file, the pickle and the byte offset', () => {
    const error = refusal(() => load(raw((w) => w.byte(0x4e, 0xff))));
    expect(error.source).toBe('test.pkl');
    expect(error.message).toBe('Refusing checkpoint test.pkl: data.pkl: unknown or unsupported pickle opcode 0xff (opcode 0xff at byte 3).');
  });
});
