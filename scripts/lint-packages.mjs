#!/usr/bin/env node
/**
 * The packaging half of `pnpm lint`: publint (strict) and @arethetypeswrong/cli (ESM-only profile)
 * on every published package, from its build (run after `turbo run build`). Prints one line per
 * package and exits non-zero when any finds a problem.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const bin = (name) => join(root, 'node_modules', '.bin', name);
let failed = 0;
let checked = 0;
for (const folder of readdirSync(join(root, 'packages')).sort()) {
  const dir = join(root, 'packages', folder);
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
  if (manifest.private) continue;
  checked++;
  for (const [tool, args] of [
    ['publint', ['--strict']],
    ['attw', ['--pack', '.', '--profile', 'esm-only']],
  ]) {
    try {
      execFileSync(bin(tool), args, { cwd: dir, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      failed++;
      console.log(`${manifest.name}: ${tool} found problems\n${error.stdout ?? ''}${error.stderr ?? ''}`);
    }
  }
}
console.log(`publint + attw: ${checked} packages, ${failed === 0 ? 'clean' : `${failed} failing check(s)`}`);
process.exit(failed === 0 ? 0 : 1);
