#!/usr/bin/env node
// `pnpm bench`: every benchmark, each measured against a baseline in the same run; prints ratios.
// Usage: pnpm bench [name-filter]   (run `pnpm build` first; `pnpm install` does it)
import { existsSync } from 'node:fs';

const suites = [
  ['deit-vs-torch', './src/deit-vs-torch.mjs'],
  ['conversion', './src/conversion.mjs'],
  ['architectures', './src/architectures.mjs'],
  ['precision', './src/precision-bench.mjs'],
  ['preprocess', './src/preprocess-bench.mjs'],
  ['classify', './src/classify-bench.mjs'],
  ['browser', './src/browser-bench.mjs'],
  ['serve', './src/serve-bench.mjs'],
  ['soup', './src/soup-bench.mjs'],
];

const filter = process.argv[2];
const results = [];
for (const [name, path] of suites) {
  if (filter && !name.includes(filter)) continue;
  if (!existsSync(new URL(path, import.meta.url))) continue;
  console.log(`# ${name}`);
  try {
    const module = await import(path);
    for (const row of await module.run({ log: (line) => console.log(line) })) results.push({ suite: name, ...row });
  } catch (error) {
    console.log(`  failed: ${error instanceof Error ? error.message : error}`);
    results.push({ suite: name, name, note: `failed: ${error instanceof Error ? error.message : error}` });
  }
}

const format = (value, digits = 2) => (typeof value === 'number' && Number.isFinite(value) ? value.toFixed(digits) : '-');
console.log('\n| benchmark | ours (ms) | baseline (ms) | ratio | target | note |');
console.log('|---|---|---|---|---|---|');
for (const row of results) {
  console.log(`| ${row.name} | ${format(row.ours_ms)} | ${format(row.baseline_ms)} | ${format(row.ratio, 3)} | ${row.target ?? ''} | ${row.note ?? ''} |`);
}
