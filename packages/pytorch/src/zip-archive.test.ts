import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { InvalidCheckpointError } from '@vitzoo/core';
import { zipSync } from 'fflate';
import { describe, expect, it } from 'vitest';
import { readZipArchive } from './zip-archive.js';

const text = (value: string) => new TextEncoder().encode(value);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

function refusal(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    if (InvalidCheckpointError.isInstance(error)) return (error as Error).message;
    throw error;
  }
  throw new Error('expected InvalidCheckpointError');
}

describe('readZipArchive', () => {
  it('lists stored entries as views of the archive and inflates deflated ones', () => {
    const stored = zipSync({ 'a/x': text('hello'), 'a/y': text('') }, { level: 0 });
    const entries = readZipArchive(stored, 'test.zip');
    expect([...entries.keys()]).toEqual(['a/x', 'a/y']);
    const x = entries.get('a/x')!.read();
    expect(decode(x)).toBe('hello');
    expect(x.buffer).toBe(stored.buffer);
    const deflated = zipSync({ 'a/x': text('hello '.repeat(100)) }, { level: 9 });
    expect(deflated.byteLength).toBeLessThan(300);
    expect(decode(readZipArchive(deflated, 'test.zip').get('a/x')!.read())).toBe('hello '.repeat(100));
  });

  it('reads the zip64 end records torch writes', () => {
    const bytes = new Uint8Array(readFileSync(fileURLToPath(new URL('../../../fixtures/malicious/os_system.pth', import.meta.url))));
    const entries = readZipArchive(bytes, 'os_system.pth');
    expect([...entries.keys()]).toEqual(['os_system/data.pkl', 'os_system/data/0', 'os_system/version']);
    expect(decode(entries.get('os_system/version')!.read())).toBe('3\n');
    expect(entries.get('os_system/data/0')!.size).toBe(8);
  });

  it('refuses duplicate names, encryption, unknown methods and lying sizes', () => {
    const base = zipSync({ 'a/x': text('hello'), 'a/y': text('world') }, { level: 0 });
    const patch = (edit: (bytes: Uint8Array, view: DataView, directory: number) => void) => {
      const bytes = base.slice();
      const view = new DataView(bytes.buffer);
      const end = bytes.byteLength - 22;
      edit(bytes, view, view.getUint32(end + 16, true));
      return bytes;
    };
    const secondName = (directory: number, view: DataView) => directory + 46 + view.getUint16(directory + 28, true) + 46;
    expect(refusal(() => readZipArchive(patch((bytes, view, directory) => bytes.set(text('a/x'), secondName(directory, view))), 'z'))).toMatch(/two entries named 'a\/x'/);
    expect(refusal(() => readZipArchive(patch((_, view, directory) => view.setUint16(directory + 8, 1, true)), 'z'))).toMatch(/'a\/x' is encrypted/);
    expect(refusal(() => readZipArchive(patch((_, view, directory) => view.setUint16(directory + 10, 12, true)), 'z'))).toMatch(/compression method 12/);
    expect(refusal(() => readZipArchive(patch((_, view, directory) => view.setUint32(directory + 20, 500, true)), 'z'))).toMatch(/different compressed \(500\) and uncompressed \(5\) sizes/);
    expect(
      refusal(() =>
        readZipArchive(
          patch((_, view, directory) => {
            view.setUint16(directory + 10, 8, true);
            view.setUint32(directory + 24, 2 ** 31, true);
          }),
          'z',
        ),
      ),
    ).toMatch(/claims 2147483648 bytes from 5 compressed/);
    expect(refusal(() => readZipArchive(patch((_, view, directory) => view.setUint32(directory + 42, 3, true)), 'z'))).toMatch(/local header of 'a\/x' \(at byte 3\) is missing/);
    expect(refusal(() => readZipArchive(base.subarray(0, base.byteLength - 1), 'z'))).toMatch(/no end-of-central-directory record/);
    expect(refusal(() => readZipArchive(new Uint8Array(10), 'z'))).toMatch(/no end-of-central-directory record/);
  });
});
