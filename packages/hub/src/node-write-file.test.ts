import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeFileAtomic } from './node-write-file.js';

const scratch = mkdtempSync(join(tmpdir(), 'vitzoo-write-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe('writeFileAtomic', () => {
  it('writes chunks produced asynchronously, in order', async () => {
    const path = join(scratch, 'async.bin');
    async function* chunks() {
      for (let i = 0; i < 3; i++) {
        await new Promise((resolve) => setTimeout(resolve, 1));
        yield Uint8Array.of(i, i + 10);
      }
    }
    expect(await writeFileAtomic(path, chunks())).toBe(6);
    expect(Array.from(readFileSync(path))).toEqual([0, 10, 1, 11, 2, 12]);
  });

  it('a producer that fails mid-way leaves the existing file as it was and no temporary file', async () => {
    const path = join(scratch, 'kept.bin');
    writeFileSync(path, 'original');
    async function* failing() {
      yield Uint8Array.of(1, 2, 3);
      throw new Error('producer failed');
    }
    await expect(writeFileAtomic(path, failing())).rejects.toThrow('producer failed');
    expect(readFileSync(path, 'utf8')).toBe('original');
    expect(readdirSync(scratch).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });
});
