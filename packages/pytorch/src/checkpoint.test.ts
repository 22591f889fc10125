import { InvalidCheckpointError, float32ToFloat16, toFloat32, type Tensor } from '@vitzoo/core';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { PickleDict, PickleObject, detectPytorchFormat, readPytorchCheckpoint, type ReadPytorchCheckpointOptions } from './index.js';
import { bytesOf, concatenate, writeLegacyCheckpoint, writeZipCheckpoint, type LegacyStorage } from './testing/checkpoint-writer.js';
import { PickleWriter, type PyValue, type StorageSpec, type TensorSpec } from './testing/pickle-writer.js';

const range = (count: number, start = 0) => Array.from({ length: count }, (_, index) => start + index);
const floats = (values: number[]) => bytesOf(new Float32Array(values));
const tensor = (spec: TensorSpec): PyValue => ({ tensor: spec });
const values = (t: Tensor | undefined) => Array.from(toFloat32(t!).data);

function refusal(run: () => unknown): InvalidCheckpointError {
  try {
    run();
  } catch (error) {
    if (InvalidCheckpointError.isInstance(error)) return error as InvalidCheckpointError;
    throw error;
  }
  throw new Error('expected InvalidCheckpointError, nothing was thrown');
}

/** One model's storages in both container formats. */
function storages(...entries: [StorageSpec, Uint8Array][]) {
  return {
    zip: Object.fromEntries(entries.map(([spec, bytes]) => [spec.key, bytes])),
    legacy: entries.map(([spec, bytes]): LegacyStorage => ({ spec, bytes })),
  };
}

function both(root: PyValue, data: ReturnType<typeof storages>, options: ReadPytorchCheckpointOptions = {}) {
  return {
    zip: readPytorchCheckpoint(writeZipCheckpoint(root, { storages: data.zip }), options),
    legacy: readPytorchCheckpoint(writeLegacyCheckpoint(root, data.legacy), options),
  };
}

describe('dtypes', () => {
  const f32: StorageSpec = { key: '0', type: 'FloatStorage', elementCount: 3 };
  const f16: StorageSpec = { key: '1', type: 'HalfStorage', elementCount: 3 };
  const bf16: StorageSpec = { key: '2', type: 'BFloat16Storage', elementCount: 2 };
  const i64: StorageSpec = { key: '3', type: 'LongStorage', elementCount: 2 };
  const f64: StorageSpec = { key: '4', type: 'DoubleStorage', elementCount: 1 };
  const flags: StorageSpec = { key: '5', type: 'BoolStorage', elementCount: 3 };
  const half = new Uint16Array([1, -2.5, 65504].map(float32ToFloat16));
  // bfloat16 = the top 16 bits of float32 (exact for these values).
  const brain = new Uint16Array([...new Uint32Array(new Float32Array([1.5, -3]).buffer)].map((bits) => bits >>> 16));
  const data = storages(
    [f32, floats([0.5, -1, 3])],
    [f16, bytesOf(half)],
    [bf16, bytesOf(brain)],
    [i64, bytesOf(new BigInt64Array([-7n, 2n ** 40n]))],
    [f64, bytesOf(new Float64Array([Math.PI]))],
    [flags, new Uint8Array([1, 0, 1])],
  );
  const root: PyValue = {
    orderedDict: [
      ['weight', tensor({ storage: f32, shape: [3] })],
      ['half', tensor({ storage: f16, shape: [3] })],
      ['brain', tensor({ storage: bf16, shape: [2, 1] })],
      ['bn.num_batches_tracked', tensor({ storage: i64, shape: [2] })],
      ['scalar', tensor({ storage: f64, shape: [] })],
      ['mask', tensor({ storage: flags, shape: [3] })],
    ],
    metadata: { orderedDict: [['', { dict: [['version', 1]] }]] },
  };

  it.each(['zip', 'legacy'] as const)('%s: F32, F16, BF16, I64, F64 and bool storages keep their type and values', (format) => {
    const { stateDict, format: detected, stateDictKey, root: saved } = both(root, data)[format];
    expect(detected).toBe(format);
    expect(stateDictKey).toBeUndefined();
    // `_metadata` (set by BUILD on the OrderedDict) is an attribute, not a weight.
    expect(Object.keys(stateDict)).toEqual(['weight', 'half', 'brain', 'bn.num_batches_tracked', 'scalar', 'mask']);
    expect((saved as PickleDict).className).toBe('collections.OrderedDict');
    expect((saved as PickleDict).attributes).toBeInstanceOf(PickleDict);
    expect(stateDict.weight).toMatchObject({ dtype: 'float32', shape: [3] });
    expect(values(stateDict.weight)).toEqual([0.5, -1, 3]);
    expect(stateDict.half!.dtype).toBe('float16');
    expect(values(stateDict.half)).toEqual([1, -2.5, 65504]);
    expect(stateDict.brain).toMatchObject({ dtype: 'bfloat16', shape: [2, 1] });
    expect(values(stateDict.brain)).toEqual([1.5, -3]);
    expect(stateDict['bn.num_batches_tracked']!.dtype).toBe('int64');
    expect([...(stateDict['bn.num_batches_tracked']!.data as BigInt64Array)]).toEqual([-7n, 2n ** 40n]);
    expect(stateDict.scalar).toMatchObject({ dtype: 'float64', shape: [] });
    expect([...(stateDict.scalar!.data as Float64Array)]).toEqual([Math.PI]);
    expect(stateDict.mask!.dtype).toBe('bool');
    expect([...(stateDict.mask!.data as Uint8Array)]).toEqual([1, 0, 1]);
  });

  it('reads deflated zip entries too', () => {
    const bytes = writeZipCheckpoint(root, { storages: data.zip, level: 6 });
    expect(values(readPytorchCheckpoint(bytes).stateDict.weight)).toEqual([0.5, -1, 3]);
  });

  it('byte-swaps storages of a big-endian archive', () => {
    const big = (bytes: Uint8Array, width: number) => {
      const out = new Uint8Array(bytes.length);
      for (let index = 0; index < bytes.length; index++) out[index] = bytes[index - (index % width) + width - 1 - (index % width)]!;
      return out;
    };
    const swapped = { ...data.zip, '0': big(data.zip['0']!, 4), '1': big(data.zip['1']!, 2), '2': big(data.zip['2']!, 2), '3': big(data.zip['3']!, 8), '4': big(data.zip['4']!, 8) };
    const { stateDict } = readPytorchCheckpoint(writeZipCheckpoint(root, { storages: swapped, byteOrder: 'big' }));
    expect(values(stateDict.weight)).toEqual([0.5, -1, 3]);
    expect(values(stateDict.half)).toEqual([1, -2.5, 65504]);
    expect([...(stateDict['bn.num_batches_tracked']!.data as BigInt64Array)]).toEqual([-7n, 2n ** 40n]);
    expect([...(stateDict.mask!.data as Uint8Array)]).toEqual([1, 0, 1]);
  });
});

describe('strides and shared storages', () => {
  const grid: StorageSpec = { key: '0', type: 'FloatStorage', elementCount: 24 };
  const longs: StorageSpec = { key: '1', type: 'LongStorage', elementCount: 6 };
  const halves: StorageSpec = { key: '2', type: 'HalfStorage', elementCount: 6 };
  const data = storages(
    [grid, floats(range(24))],
    [longs, bytesOf(new BigInt64Array(range(6).map((value) => BigInt(value * 10))))],
    [halves, bytesOf(new Uint16Array(range(6).map(float32ToFloat16)))],
  );
  const root: PyValue = {
    dict: [
      // [2, 3] viewed transposed: shape [3, 2], stride [1, 3].
      ['transposed', tensor({ storage: grid, shape: [3, 2], stride: [1, 3] })],
      // [2, 3, 4].permute(2, 0, 1): shape [4, 2, 3], stride [1, 12, 4].
      ['permuted', tensor({ storage: grid, shape: [4, 2, 3], stride: [1, 12, 4] })],
      // A row expanded to 3 rows (stride 0), starting at element 4.
      ['expanded', tensor({ storage: grid, offset: 4, shape: [3, 4], stride: [0, 1] })],
      // Every other element from offset 1.
      ['sliced', tensor({ storage: grid, offset: 1, shape: [5], stride: [2] })],
      // Shared storage, contiguous views at offsets 0 and 10.
      ['first', tensor({ storage: grid, shape: [2, 5] })],
      ['second', tensor({ storage: grid, offset: 10, shape: [14] })],
      ['longs.t', tensor({ storage: longs, shape: [3, 2], stride: [1, 3] })],
      ['halves.t', tensor({ storage: halves, shape: [3, 2], stride: [1, 3] })],
    ],
  };

  it.each(['zip', 'legacy'] as const)('%s: non-contiguous views are materialised row-major', (format) => {
    const { stateDict } = both(root, data)[format];
    expect(stateDict.transposed!.shape).toEqual([3, 2]);
    expect(values(stateDict.transposed)).toEqual([0, 3, 1, 4, 2, 5]);
    const permuted: number[] = [];
    for (let i = 0; i < 4; i++) for (let j = 0; j < 2; j++) for (let k = 0; k < 3; k++) permuted.push(j * 12 + k * 4 + i);
    expect(values(stateDict.permuted)).toEqual(permuted);
    expect(values(stateDict.expanded)).toEqual([4, 5, 6, 7, 4, 5, 6, 7, 4, 5, 6, 7]);
    expect(values(stateDict.sliced)).toEqual([1, 3, 5, 7, 9]);
    expect(values(stateDict.first)).toEqual(range(10));
    expect(values(stateDict.second)).toEqual(range(14, 10));
    // Views of one storage share one buffer (the file, or one aligned copy of an unaligned storage).
    expect(stateDict.second!.data.buffer).toBe(stateDict.first!.data.buffer);
    expect([...(stateDict['longs.t']!.data as BigInt64Array)]).toEqual([0n, 30n, 10n, 40n, 20n, 50n]);
    expect(stateDict['halves.t']!.dtype).toBe('float16');
    expect(values(stateDict['halves.t'])).toEqual([0, 3, 1, 4, 2, 5]);
  });

  it('contiguous views of an aligned storage are zero-copy and share one buffer', () => {
    // A zip entry placed at a 64-byte boundary, as torch.save aligns them.
    const pickle = PickleWriter.pickle(root);
    const pad = (64 - ((30 + 'archive/data.pkl'.length + pickle.length + 30 + 'archive/data/0'.length) % 64)) % 64;
    const bytes = zipSync({ 'archive/data.pkl': pickle, 'archive/data/0': [data.zip['0']!, { extra: { 0x4246: new Uint8Array(pad - 4) } }], 'archive/data/1': data.zip['1']!, 'archive/data/2': data.zip['2']! }, { level: 0 });
    const { stateDict } = readPytorchCheckpoint(bytes);
    expect(stateDict.first!.data.buffer).toBe(bytes.buffer);
    expect(stateDict.second!.data.buffer).toBe(bytes.buffer);
    expect(stateDict.second!.data.byteOffset - stateDict.first!.data.byteOffset).toBe(40);
  });

  it('a view reaching past its storage is refused', () => {
    const small: StorageSpec = { key: '0', type: 'FloatStorage', elementCount: 10 };
    const cases: [TensorSpec, RegExp][] = [
      [{ storage: small, offset: 8, shape: [4] }, /tensor 'w' \(shape \[4\], stride \[1\], offset 8\) reaches element 11 of storage '0' \(10 × float32\), which has only 10/],
      [{ storage: small, shape: [2, 2], stride: [9, 2] }, /reaches element 11/],
      [{ storage: small, shape: [2, 2], stride: [0, 2 ** 52] }, /reaches element 4503599627370496/],
      [{ storage: small, shape: [2 ** 26, 2 ** 26, 2 ** 26], stride: [0, 0, 0] }, /out-of-range shape/],
      [{ storage: small, shape: [2 ** 30, 2 ** 30, 2 ** 30] }, /the stride is a tuple of 3, not a tuple of non-negative integers below 2\^53/],
    ];
    for (const [spec, message] of cases) {
      for (const bytes of [
        writeZipCheckpoint({ dict: [['w', tensor(spec)]] }, { storages: { '0': floats(range(10)) } }),
        writeLegacyCheckpoint({ dict: [['w', tensor(spec)]] }, [{ spec: small, bytes: floats(range(10)) }]),
      ]) {
        expect(refusal(() => readPytorchCheckpoint(bytes)).message).toMatch(message);
      }
    }
  });

  it('bounds the bytes spent materialising strided views', () => {
    const one: StorageSpec = { key: '0', type: 'FloatStorage', elementCount: 1 };
    const bytes = writeZipCheckpoint({ dict: [['w', tensor({ storage: one, shape: [1000, 1000], stride: [0, 0] })]] }, { storages: { '0': floats([2]) } });
    expect(refusal(() => readPytorchCheckpoint(bytes, { maxStridedCopyBytes: 1_000_000 })).message).toMatch(/strided view of 4000000 bytes.*maxStridedCopyBytes/);
    const { stateDict } = readPytorchCheckpoint(bytes);
    expect(stateDict.w!.shape).toEqual([1000, 1000]);
    expect((stateDict.w!.data as Float32Array).every((value) => value === 2)).toBe(true);
  });
});

describe('finding the state dict', () => {
  const spec: StorageSpec = { key: '0', type: 'FloatStorage', elementCount: 2 };
  const data = storages([spec, floats([1, 2])]);
  const weights = (prefix = ''): PyValue => ({ orderedDict: [[`${prefix}head.weight`, tensor({ storage: spec, shape: [2] })]] });
  const namespace: PyValue = { build: [{ newObject: [{ global: ['argparse', 'Namespace'] }, []] }, { dict: [['lr', 0.1]] }] };

  it('prefers state_dict_ema, then model_ema, state_dict, model; other entries stay in root', () => {
    const root: PyValue = {
      dict: [
        ['epoch', 300],
        ['args', namespace],
        ['model', weights('model.')],
        ['state_dict_ema', weights('ema.')],
        ['optimizer', { dict: [['state', { dict: [] }]] }],
      ],
    };
    for (const checkpoint of Object.values(both(root, data))) {
      expect(checkpoint.stateDictKey).toBe('state_dict_ema');
      expect(Object.keys(checkpoint.stateDict)).toEqual(['ema.head.weight']);
      const saved = checkpoint.root as PickleDict;
      expect(saved.get('epoch')).toBe(300);
      expect((saved.get('args') as PickleObject).className).toBe('argparse.Namespace');
    }
    const model = readPytorchCheckpoint(writeZipCheckpoint(root, { storages: data.zip }), { stateDictKey: 'model' });
    expect(Object.keys(model.stateDict)).toEqual(['model.head.weight']);
    const order = readPytorchCheckpoint(
      writeZipCheckpoint({ dict: [['model', weights('model.')], ['state_dict', weights('plain.')], ['model_ema', weights('ema.')]] }, { storages: data.zip }),
    );
    expect(order.stateDictKey).toBe('model_ema');
  });

  it('skips a container entry that is not a dict (model_ema = None)', () => {
    const checkpoint = readPytorchCheckpoint(writeZipCheckpoint({ dict: [['model_ema', null], ['model', weights()]] }, { storages: data.zip }));
    expect(checkpoint.stateDictKey).toBe('model');
  });

  it("strips a DataParallel 'module.' prefix", () => {
    const checkpoint = readPytorchCheckpoint(writeZipCheckpoint({ dict: [['state_dict', weights('module.')]] }, { storages: data.zip }));
    expect(Object.keys(checkpoint.stateDict)).toEqual(['head.weight']);
    expect(checkpoint.strippedModulePrefix).toBe(true);
    expect(values(checkpoint.stateDict['head.weight'])).toEqual([1, 2]);
  });

  it('reads parameters (_rebuild_parameter, _rebuild_from_type_v2) as their tensors', () => {
    const fromType: PyValue = {
      reduce: [
        { global: ['torch._tensor', '_rebuild_from_type_v2'] },
        [{ global: ['torch._utils', '_rebuild_parameter'] }, { global: ['torch.nn.parameter', 'Parameter'] }, { tuple: [tensor({ storage: spec, shape: [2] }), true, { orderedDict: [] }] }, { dict: [] }],
      ],
    };
    const root: PyValue = { dict: [['parameter', tensor({ storage: spec, shape: [1], offset: 1, parameter: true })], ['typed', fromType]] };
    for (const { stateDict } of Object.values(both(root, data))) {
      expect(values(stateDict.parameter)).toEqual([2]);
      expect(values(stateDict.typed)).toEqual([1, 2]);
    }
  });

  it('refuses a chosen dict holding something other than tensors, and a checkpoint without weights', () => {
    const mixed = writeZipCheckpoint({ dict: [['model', { dict: [['w', tensor({ storage: spec, shape: [2] })], ['step', 5]] }]] }, { storages: data.zip });
    expect(refusal(() => readPytorchCheckpoint(mixed)).message).toMatch(/the state dict 'model' maps 'step' to the number 5, not a tensor/);
    const bare = writeZipCheckpoint({ dict: [['w', tensor({ storage: spec, shape: [2] })], ['note', 'hi']] }, { storages: data.zip });
    expect(refusal(() => readPytorchCheckpoint(bare)).message).toMatch(/maps 'note' to the string "hi", not a tensor \(pass stateDictKey/);
    const none = writeZipCheckpoint({ dict: [['epoch', 1], ['args', namespace]] });
    expect(refusal(() => readPytorchCheckpoint(none)).message).toMatch(/no state dict found.*top-level keys: epoch, args/);
    expect(refusal(() => readPytorchCheckpoint(none, { stateDictKey: 'weights' })).message).toMatch(/stateDictKey 'weights' is nothing, not a dict/);
    expect(refusal(() => readPytorchCheckpoint(writeZipCheckpoint([1, 2]))).message).toMatch(/the saved object is a list of 2, not a dict of tensors/);
  });
});

describe('malicious checkpoints are refused, naming the global', () => {
  const spec: StorageSpec = { key: '0', type: 'FloatStorage', elementCount: 2 };
  const data = storages([spec, floats([1, 2])]);
  const weights: PyValue = { orderedDict: [['w', tensor({ storage: spec, shape: [2] })]] };
  const cases: [string, PyValue, string][] = [
    ['os.system via REDUCE', { dict: [['state_dict', weights], ['extra', { reduce: [{ global: ['os', 'system'] }, ['echo pwned']] }]] }, "'os.system'"],
    ['builtins.eval', { dict: [['model', { reduce: [{ global: ['__builtin__', 'eval'] }, ["print('pwned')"]] }]] }, "'__builtin__.eval' (builtins.eval)"],
    ['subprocess.Popen via REDUCE', { dict: [['x', { reduce: [{ global: ['subprocess', 'Popen'] }, [['touch', '/tmp/pwned']]] }], ['model', weights]] }, "'subprocess.Popen'"],
    [
      'a global hidden inside a BUILD state',
      { dict: [['model', { build: [weights, { dict: [['_metadata', { reduce: [{ global: ['posix', 'system'] }, ['id']] }]] }] }]] },
      "'posix.system'",
    ],
    ['a model class (a whole pickled nn.Module)', { reduce: [{ global: ['timm.models.vision_transformer', 'VisionTransformer'] }, []] }, "'timm.models.vision_transformer.VisionTransformer'"],
    ['a global named by STACK_GLOBAL', { dict: [['model', weights], ['x', { reduce: [{ stackGlobal: ['builtins', 'exec'] }, ['1']] }]] }, "'builtins.exec'"],
  ];
  it.each(cases)('%s', (_, root, naming) => {
    for (const bytes of [writeZipCheckpoint(root, { storages: data.zip }), writeLegacyCheckpoint(root, data.legacy)]) {
      const error = refusal(() => readPytorchCheckpoint(bytes, { source: 'evil.pth' }));
      expect(error.message).toContain(`Refusing checkpoint evil.pth:`);
      expect(error.message).toContain(`references the global ${naming}`);
    }
  });

  it("refuses a 'module' persistent id (legacy whole-module pickles)", () => {
    const bytes = writeZipCheckpoint({ persistentId: ['module', { global: ['torch', 'Size'] }, 'source.py', 'class X: pass'] });
    expect(refusal(() => readPytorchCheckpoint(bytes)).message).toMatch(/pickles a whole nn\.Module/);
  });

  it('refuses a persistent id that is not a torch storage', () => {
    const bytes = writeZipCheckpoint({ dict: [['w', { persistentId: ['storage', { global: ['torch', 'Size'] }, '0', 'cpu', 2] }]] }, { storages: data.zip });
    expect(refusal(() => readPytorchCheckpoint(bytes)).message).toMatch(/names the global torch\.Size, not a torch storage type/);
  });
});

describe('malformed containers', () => {
  const spec: StorageSpec = { key: '0', type: 'FloatStorage', elementCount: 4 };
  const root: PyValue = { orderedDict: [['w', tensor({ storage: spec, shape: [2, 2] })], ['b', tensor({ storage: spec, shape: [2], offset: 2 })]] };
  const zip = writeZipCheckpoint(root, { storages: { '0': floats([1, 2, 3, 4]) } });
  const legacy = writeLegacyCheckpoint(root, [{ spec, bytes: floats([1, 2, 3, 4]) }]);

  it('detects the formats from their first bytes', () => {
    expect(detectPytorchFormat(zip)).toBe('zip');
    expect(detectPytorchFormat(legacy)).toBe('legacy');
    expect(detectPytorchFormat(new Uint8Array([0x80, 0x02, 0x7d]))).toBeUndefined();
    expect(detectPytorchFormat(new Uint8Array(0))).toBeUndefined();
    expect(refusal(() => readPytorchCheckpoint(new TextEncoder().encode('{"hello": 1}'))).message).toMatch(/neither a zip archive .* nor a legacy torch\.save pickle/);
  });

  it('refuses a zip whose storage record is missing or shorter than declared', () => {
    const missing = writeZipCheckpoint(root, { storages: {} });
    expect(refusal(() => readPytorchCheckpoint(missing)).message).toMatch(/the storage record 'archive\/data\/0' that data\.pkl refers to is missing/);
    const short = writeZipCheckpoint(root, { storages: { '0': floats([1, 2, 3]) } });
    expect(refusal(() => readPytorchCheckpoint(short)).message).toMatch(/'archive\/data\/0' holds 12 bytes, but data\.pkl declares 4 float32 elements \(16 bytes\)/);
  });

  it('refuses a zip without data.pkl (e.g. TorchScript)', () => {
    const script = zipSync({ 'model/constants.pkl': new Uint8Array([0x80, 2, 0x29, 0x2e]), 'model/code/x.py': new Uint8Array(1) }, { level: 0 });
    expect(refusal(() => readPytorchCheckpoint(script)).message).toMatch(/no 'model\/data\.pkl' \(it looks like a TorchScript archive/);
  });

  it('refuses every truncation of a zip and of a legacy file with a typed error', () => {
    expect(readPytorchCheckpoint(zip).stateDict.b).toBeDefined();
    expect(values(readPytorchCheckpoint(legacy).stateDict.b)).toEqual([3, 4]);
    for (const bytes of [zip, legacy]) {
      for (let length = 0; length < bytes.byteLength; length++) refusal(() => readPytorchCheckpoint(bytes.subarray(0, length)));
    }
  });

  it('refuses a legacy file whose storage section disagrees with its pickle', () => {
    const countOf = (value: number) => bytesOf(new BigInt64Array([BigInt(value)]));
    const head = legacy.subarray(0, legacy.byteLength - 8 - 16);
    expect(refusal(() => readPytorchCheckpoint(concatenate([head, countOf(5), floats([1, 2, 3, 4, 5])]))).message).toMatch(/storage '0' is written with 5 elements but declared with 4/);
    const unlisted = writeLegacyCheckpoint(root, []);
    expect(refusal(() => readPytorchCheckpoint(unlisted)).message).toMatch(/storage '0' is used but never written/);
    const bogus = writeLegacyCheckpoint(root, [{ spec, bytes: floats([1, 2, 3, 4]) }, { spec: { key: '99', type: 'FloatStorage', elementCount: 1 }, bytes: floats([0]) }]);
    expect(refusal(() => readPytorchCheckpoint(bogus)).message).toMatch(/lists '99', which the main pickle never refers to/);
  });

  it('never throws anything but InvalidCheckpointError on corrupted bytes (deterministic fuzz)', () => {
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    let refused = 0;
    for (const original of [zip, legacy]) {
      for (let trial = 0; trial < 1500; trial++) {
        const bytes = original.slice();
        const flips = 1 + Math.floor(random() * 3);
        for (let flip = 0; flip < flips; flip++) bytes[Math.floor(random() * bytes.length)] = Math.floor(random() * 256);
        try {
          readPytorchCheckpoint(bytes);
        } catch (error) {
          if (!InvalidCheckpointError.isInstance(error)) throw error;
          refused++;
        }
      }
    }
    expect(refused).toBeGreaterThan(100);
  });
});
