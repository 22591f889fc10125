import { readdirSync, existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import { defineConfig } from 'vitest/config';

const root = fileURLToPath(new URL('.', import.meta.url));

/**
 * Tests run against the TypeScript sources of every workspace package, not their builds:
 * `@vitzoo/<name>` resolves to `packages/<name>/src/index.ts` and `@vitzoo/<name>/<entry>` to
 * `packages/<name>/src/<entry>.ts`.
 */
function workspaceAliases() {
  const aliases: { find: RegExp; replacement: string }[] = [];
  for (const name of readdirSync(join(root, 'packages'))) {
    const source = join(root, 'packages', name, 'src');
    if (!existsSync(source)) continue;
    const packageName = name === 'vitzoo' ? 'vitzoo' : `@vitzoo/${name}`;
    const escaped = packageName.replace(/[/.]/g, '\\$&');
    aliases.push({ find: new RegExp(`^${escaped}/([a-z-]+)$`), replacement: join(source, '$1.ts') });
    aliases.push({ find: new RegExp(`^${escaped}$`), replacement: join(source, 'index.ts') });
  }
  return aliases;
}

export default defineConfig({
  resolve: { alias: workspaceAliases() },
  test: {
    include: ['packages/*/src/**/*.test.ts', 'tools/*/src/**/*.test.ts', 'examples/*/src/**/*.test.ts', 'examples/*/test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
  },
});
