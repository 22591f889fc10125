import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));

/** Every module the platform-free entry reaches, following relative imports from index.ts. */
function reachable(entry: string): Map<string, string[]> {
  const seen = new Map<string, string[]>();
  const visit = (file: string) => {
    if (seen.has(file)) return;
    const source = readFileSync(file, 'utf8');
    const specifiers = [...source.matchAll(/^(?:import|export)\s[^;{}()]*(?:\{[^}]*\}[^;{}()]*)?from\s*'([^']+)'|^import\s+'([^']+)'|\bimport\(\s*'([^']+)'\s*\)/gm)].map(
      (m) => (m[1] ?? m[2] ?? m[3])!,
    );
    seen.set(file, specifiers);
    for (const specifier of specifiers) if (specifier.startsWith('.')) visit(join(dirname(file), specifier.replace(/\.js$/, '.ts')));
  };
  visit(join(here, entry));
  return seen;
}

describe('the @vitzoo/pipeline entry is platform-free', () => {
  it('imports no Node built-ins, no decoder and no runtime implementation', () => {
    const modules = reachable('index.ts');
    expect([...modules.keys()].map((file) => file.slice(here.length + 1)).sort()).toEqual([
      'compare-dtypes.ts',
      'ensemble.ts',
      'explain.ts',
      'index.ts',
      'label-sets/imagenet-1k.ts',
      'labels.ts',
      'load-model.ts',
      'model-config.ts',
      'model.ts',
      'predictions.ts',
      'progress.ts',
      'soup.ts',
      'train-head.ts',
    ]);
    const external = [...new Set([...modules.values()].flat().filter((specifier) => !specifier.startsWith('.')))].sort();
    // Each of these is a platform-free root entry itself (their own tests say so).
    expect(external).toEqual(['@vitzoo/core', '@vitzoo/hub', '@vitzoo/onnx', '@vitzoo/preprocess', '@vitzoo/pytorch', '@vitzoo/runtime']);
  });
});
