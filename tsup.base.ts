import { defineConfig, type Options } from 'tsup';

/** The build every vitzoo package shares: ESM with .d.ts and source maps, ES2022. */
export function packageBuild(entry: string[] = ['src/index.ts'], overrides: Options = {}) {
  return defineConfig({ entry, format: ['esm'], dts: true, sourcemap: true, clean: true, target: 'es2022', ...overrides });
}
