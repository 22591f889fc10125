import { defineConfig } from 'vitest/config';
// @ts-expect-error plain JavaScript helper shared with tools/bench
import { workspaceSourceAliases } from './browser-tests/support/workspace.mjs';

/**
 * The real-browser suite (`pnpm test:browser`): Node-side vitest files that build test pages,
 * serve them on 127.0.0.1 and drive Debian's headless Chromium through playwright-core.
 */
export default defineConfig({
  resolve: { alias: workspaceSourceAliases() },
  test: {
    include: ['browser-tests/**/*.spec.ts'],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: 'forks',
    reporters: ['default'],
  },
});
