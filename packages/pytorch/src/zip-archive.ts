import { InvalidCheckpointError } from '@vitzoo/core';
import { inflateSync } from 'fflate';

/** One file of a zip archive; `read()` returns its bytes (a view of the archive when stored). */
export interface ZipEntry {
  readonly name: string;
  /** Uncompressed size, from the central directory. */
  readonly size: number;
  read(): Uint8Array;
}

const localHeaderSignature = 0x04034b50;
const centralHeaderSignature = 0x02014b50;
const endOfCentralDirectorySignature = 0x06054b50;
const zip64EndLocatorSignature = 0x07064b50;
const zip64EndSignature = 0x06064b50;
const maxCommentLength = 0xffff;

/**
 * Reads a zip archive's central directory. Stored entries (what `torch.save` writes) are returned
 * as zero-copy views of `bytes`; deflated entries are inflated with fflate on `read()`. Every offset
 * and size is checked against the buffer (zip64 records included), encrypted entries and duplicate
 * names are refused, and any structural problem throws `InvalidCheckpointError`.
 *
 * (fflate's `unzipSync` copies every stored entry and does not bound-check a malformed directory, so
 * the directory is walked here and fflate only inflates.)
 */
export function readZipArchive(bytes: Uint8Array, source: string): Map<string, ZipEntry> {
  const fail = (reason: string): never => {
    throw new InvalidCheckpointError(source, `the zip container is malformed: ${reason}`);
  };
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (offset: number) => (offset + 2 <= bytes.byteLength ? view.getUint16(offset, true) : fail(`a record at byte ${offset} runs past the end of the file (truncated?)`));
  const u32 = (offset: number) => (offset + 4 <= bytes.byteLength ? view.getUint32(offset, true) : fail(`a record at byte ${offset} runs past the end of the file (truncated?)`));
  const u64 = (offset: number): number => {
    if (offset + 8 > bytes.byteLength) fail(`a record at byte ${offset} runs past the end of the file (truncated?)`);
    const value = view.getBigUint64(offset, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) fail(`a 64-bit size or offset (${value}) is out of range`);
    return Number(value);
  };

  // The end-of-central-directory record sits in the last 22 + (comment ≤ 65535) bytes.
  let end = -1;
  const lowest = Math.max(0, bytes.byteLength - 22 - maxCommentLength);
  for (let offset = bytes.byteLength - 22; offset >= lowest; offset--) {
    if (view.getUint32(offset, true) === endOfCentralDirectorySignature) {
      end = offset;
      break;
    }
  }
  if (end < 0) fail('no end-of-central-directory record (the file is truncated or not a zip archive)');
  let entryCount: number = u16(end + 10);
  let directorySize: number = u32(end + 12);
  let directoryOffset: number = u32(end + 16);
  if (end >= 20 && u32(end - 20) === zip64EndLocatorSignature) {
    const zip64End = u64(end - 12);
    if (u32(zip64End) !== zip64EndSignature) fail('the zip64 end-of-central-directory locator points to no zip64 record');
    entryCount = u64(zip64End + 32);
    directorySize = u64(zip64End + 40);
    directoryOffset = u64(zip64End + 48);
  }
  if (directoryOffset + directorySize > bytes.byteLength) {
    fail(`the central directory (${directorySize} bytes at ${directoryOffset}) lies outside the ${bytes.byteLength}-byte file (truncated?)`);
  }
  // Each central record is at least 46 bytes: a count that cannot fit is a lie.
  if (entryCount * 46 > directorySize) fail(`the directory claims ${entryCount} entries in ${directorySize} bytes`);

  const entries = new Map<string, ZipEntry>();
  const decoder = new TextDecoder('utf-8', { fatal: false });
  let offset = directoryOffset;
  for (let index = 0; index < entryCount; index++) {
    if (u32(offset) !== centralHeaderSignature) fail(`central directory entry ${index} has a bad signature`);
    const flags = u16(offset + 8);
    const method = u16(offset + 10);
    let compressedSize: number = u32(offset + 20);
    let size: number = u32(offset + 24);
    const nameLength = u16(offset + 28);
    const extraLength = u16(offset + 30);
    const commentLength = u16(offset + 32);
    let localOffset: number = u32(offset + 42);
    const nameStart = offset + 46;
    const extraStart = nameStart + nameLength;
    const next = extraStart + extraLength + commentLength;
    if (next > directoryOffset + directorySize) fail(`central directory entry ${index} runs past the directory`);
    const name = decoder.decode(bytes.subarray(nameStart, extraStart));
    // zip64 extended information: the 0xffffffff fields, in the order size, compressed size, offset.
    if (size === 0xffffffff || compressedSize === 0xffffffff || localOffset === 0xffffffff) {
      let field = extraStart;
      let found = false;
      while (field + 4 <= extraStart + extraLength) {
        const id = u16(field);
        const length = u16(field + 2);
        if (id === 0x0001) {
          let cursor = field + 4;
          const take = (): number => {
            if (cursor + 8 > field + 4 + length) fail(`the zip64 field of '${name}' is too short`);
            const value = u64(cursor);
            cursor += 8;
            return value;
          };
          if (size === 0xffffffff) size = take();
          if (compressedSize === 0xffffffff) compressedSize = take();
          if (localOffset === 0xffffffff) localOffset = take();
          found = true;
          break;
        }
        field += 4 + length;
      }
      if (!found) fail(`'${name}' needs a zip64 extra field but has none`);
    }
    offset = next;
    if (flags & 0x1) fail(`'${name}' is encrypted`);
    if (method !== 0 && method !== 8) fail(`'${name}' uses compression method ${method} (only stored and deflate are supported)`);
    if (method === 0 && compressedSize !== size) fail(`stored entry '${name}' has different compressed (${compressedSize}) and uncompressed (${size}) sizes`);
    // Deflate cannot expand more than ~1032:1, so a larger claim is a lie (and would be a huge allocation).
    if (method === 8 && size > compressedSize * 1032 + 1024) fail(`'${name}' claims ${size} bytes from ${compressedSize} compressed`);
    if (entries.has(name)) fail(`the archive holds two entries named '${name}'`);
    if (u32(localOffset) !== localHeaderSignature) fail(`the local header of '${name}' (at byte ${localOffset}) is missing`);
    const dataStart = localOffset + 30 + u16(localOffset + 26) + u16(localOffset + 28);
    if (dataStart + compressedSize > bytes.byteLength) {
      fail(`the data of '${name}' (${compressedSize} bytes at ${dataStart}) runs past the end of the file (truncated?)`);
    }
    const raw = bytes.subarray(dataStart, dataStart + compressedSize);
    let inflated: Uint8Array | undefined;
    entries.set(name, {
      name,
      size,
      read() {
        if (method === 0) return raw;
        if (inflated === undefined) {
          try {
            inflated = inflateSync(raw, { out: new Uint8Array(size) });
          } catch (error) {
            fail(`'${name}' does not inflate (${(error as Error).message})`);
          }
          if (inflated!.byteLength !== size) fail(`'${name}' inflates to ${inflated!.byteLength} bytes, not the ${size} its header claims`);
        }
        return inflated!;
      },
    });
  }
  return entries;
}
