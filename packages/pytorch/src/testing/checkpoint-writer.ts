/** Test-only: torch.save-shaped files (zip and legacy) built from `PyValue`s and raw storages. */
import { zipSync, type Zippable } from 'fflate';
import { PickleWriter, type PyValue, type StorageSpec } from './pickle-writer.js';

export interface ZipCheckpointOptions {
  /** The archive folder (torch uses the file's stem, or 'archive'). */
  prefix?: string;
  /** Storage bytes by key. */
  storages?: Record<string, Uint8Array>;
  /** Deflate level (torch stores: 0). */
  level?: 0 | 6;
  byteOrder?: 'little' | 'big';
  /** Replace data.pkl with these bytes. */
  pickle?: Uint8Array;
}

export function writeZipCheckpoint(root: PyValue, options: ZipCheckpointOptions = {}): Uint8Array {
  const prefix = options.prefix ?? 'archive';
  const files: Zippable = { [`${prefix}/data.pkl`]: options.pickle ?? PickleWriter.pickle(root, 'zip') };
  if (options.byteOrder !== undefined) files[`${prefix}/byteorder`] = new TextEncoder().encode(options.byteOrder);
  for (const [key, bytes] of Object.entries(options.storages ?? {})) files[`${prefix}/data/${key}`] = bytes;
  files[`${prefix}/version`] = new TextEncoder().encode('3\n');
  return zipSync(files, { level: options.level ?? 0 });
}

export interface LegacyStorage {
  spec: StorageSpec;
  bytes: Uint8Array;
}

/** `torch.save(obj, f, _use_new_zipfile_serialization=False)`. */
export function writeLegacyCheckpoint(root: PyValue, storages: LegacyStorage[]): Uint8Array {
  const parts: Uint8Array[] = [
    PickleWriter.pickle({ int: 0x1950a86a20f9469cfc6cn }),
    PickleWriter.pickle(1001),
    PickleWriter.pickle({
      dict: [
        ['protocol_version', 1001],
        ['little_endian', true],
        ['type_sizes', { dict: [['short', 2], ['int', 4], ['long', 4]] }],
      ],
    }),
    PickleWriter.pickle(root, 'legacy'),
    PickleWriter.pickle(storages.map((storage) => storage.spec.key)),
  ];
  for (const { spec, bytes } of storages) {
    const count = new Uint8Array(8);
    new DataView(count.buffer).setBigInt64(0, BigInt(spec.elementCount), true);
    parts.push(count, bytes);
  }
  return concatenate(parts);
}

export function concatenate(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((total, part) => total + part.byteLength, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.byteLength;
  }
  return out;
}

/** Little-endian bytes of typed values. */
export function bytesOf(values: Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Uint8Array | Int8Array | Int16Array): Uint8Array {
  return new Uint8Array(values.buffer.slice(values.byteOffset, values.byteOffset + values.byteLength));
}
