import { existsSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** The repository root. */
export const repositoryRoot = fileURLToPath(new URL('../../../../', import.meta.url));
export const fixturesDirectory = join(repositoryRoot, 'fixtures');
/** The bundled models (models/digits-vit, models/digits-deit). */
export const modelsDirectory = join(repositoryRoot, 'models');
export const webExampleDirectory = join(repositoryRoot, 'examples', 'web');

/**
 * Vite aliases sending every workspace package to its TypeScript sources (as the root vitest
 * config does), so the test pages run the code in the tree without a build. These aliases are for
 * pages: 'vitzoo' is its browser entry.
 */
export function workspaceSourceAliases() {
  const aliases = [];
  const packages = join(repositoryRoot, 'packages');
  for (const name of readdirSync(packages)) {
    const source = join(packages, name, 'src');
    if (!existsSync(source)) continue;
    const packageName = name === 'vitzoo' ? 'vitzoo' : `@vitzoo/${name}`;
    const escaped = packageName.replace(/[/.]/g, '\\$&');
    aliases.push({ find: new RegExp(`^${escaped}/([a-z-]+)$`), replacement: join(source, '$1.ts') });
    // Pages get vitzoo's browser entry (its package.json "browser" condition); the rest their root.
    aliases.push({ find: new RegExp(`^${escaped}$`), replacement: join(source, packageName === 'vitzoo' ? 'browser.ts' : 'index.ts') });
  }
  return aliases;
}
