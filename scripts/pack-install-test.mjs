#!/usr/bin/env node
/**
 * `pnpm test:pack`: the packages as a user gets them. Packs every published package with
 * `pnpm pack`, checks each tarball has its README and LICENSE, installs the tarballs into a fresh
 * app with npm (no workspace links; the app's .npmrc has `onnxruntime-node-install=skip`, as the
 * READMEs tell users without access to onnxruntime's CUDA downloads) and runs there:
 *   1. the root README's first example (`import { loadImage, loadModel } from 'vitzoo'`) on the
 *      bundled digits model, from a local folder;
 *   2. the vitzoo README's heat-map example (explain, imageSize, dtype; a PNG written);
 *   3. the @vitzoo/pipeline README's example (pipeline/node + runtime-node + vitzoo/registry);
 *   4. @vitzoo/preprocess without sharp (an optional peer): the typed error naming `npm install sharp`.
 * Needs the packages built (`pnpm build`) and the npm registry for third-party dependencies.
 */
import { execFileSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'vitzoo-pack-'));
const tarballs = join(work, 'tarballs');
mkdirSync(tarballs);
let passed = 0;
let failed = 0;

function run(command, args, cwd, options = {}) {
  return execFileSync(command, args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], ...options });
}

function check(name, body) {
  try {
    body();
    passed++;
    console.log(`ok - ${name}`);
  } catch (error) {
    failed++;
    console.log(`not ok - ${name}\n${String(error.stderr ?? '')}${error.stdout ?? ''}${error.message}`);
  }
}

/** Installs `packages` (names of packed packages) into a fresh app folder; returns it. */
function app(name, packages, files) {
  const dir = join(work, name);
  mkdirSync(dir);
  const dependencies = Object.fromEntries(packages.map((pkg) => [pkg, `file:${packed.get(pkg)}`]));
  // Transitive @vitzoo dependencies come from the tarballs too, never from the registry.
  const overrides = Object.fromEntries(packages.map((pkg) => [pkg, `$${pkg}`]));
  writeFileSync(join(dir, 'package.json'), `${JSON.stringify({ name, private: true, type: 'module', dependencies, overrides }, null, 2)}\n`);
  writeFileSync(join(dir, '.npmrc'), 'onnxruntime-node-install=skip\nfund=false\naudit=false\n');
  for (const [file, content] of Object.entries(files)) writeFileSync(join(dir, file), content);
  run('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--loglevel=error'], dir, { timeout: 900_000 });
  return dir;
}

const packed = new Map();
const started = performance.now();
try {
  for (const folder of readdirSync(join(root, 'packages')).sort()) {
    const manifest = JSON.parse(readFileSync(join(root, 'packages', folder, 'package.json'), 'utf8'));
    if (manifest.private) continue;
    const output = run('pnpm', ['pack', '--pack-destination', tarballs], join(root, 'packages', folder)).trim().split('\n').pop();
    packed.set(manifest.name, output);
  }
  check(`${packed.size} packages packed, each tarball with README.md, LICENSE and dist/`, () => {
    for (const [name, tarball] of packed) {
      const entries = run('tar', ['-tzf', tarball], work).split('\n');
      for (const file of ['package/README.md', 'package/LICENSE', 'package/package.json']) {
        if (!entries.includes(file)) throw new Error(`${name}: ${file} missing from ${tarball}`);
      }
      if (!entries.some((entry) => entry.startsWith('package/dist/'))) throw new Error(`${name}: no dist/ in ${tarball}`);
      if (entries.some((entry) => entry.startsWith('package/src/') || entry.endsWith('.test.js'))) throw new Error(`${name}: sources or tests in ${tarball}`);
      const license = readFileSync(join(root, 'LICENSE'), 'utf8');
      if (!license.includes('Apache License') || !license.includes('Version 2.0')) throw new Error('the repository LICENSE is not the Apache-2.0 text');
    }
  });

  const digit = join(root, 'fixtures', 'digits', 'test', '0024_4.png');
  const user = app('user-app', [...packed.keys()].filter((name) => name !== '@vitzoo/cli'), {
    'readme.mjs': [
      "import { loadImage, loadModel } from 'vitzoo';",
      '',
      "const model = await loadModel('./digits-vit');",
      "const [top5] = await model.classify(await loadImage('./digit.png'));",
      'console.log(JSON.stringify(top5[0]));',
      'await model.dispose();',
      '',
    ].join('\n'),
    // The vitzoo README's heat-map example (a local model at another size, int8).
    'heatmap.mjs': [
      "import { encodePng, loadImage, loadModel, overlayHeatmap } from 'vitzoo';",
      "import { writeFile } from 'node:fs/promises';",
      '',
      "const model = await loadModel('./digits-vit', { dtype: 'int8', imageSize: 48, explain: 'auto' });",
      "const image = await loadImage('./digit.png');",
      'const [heatmap] = await model.explain(image, { classify: { topK: 1 } });',
      "await writeFile('./digit.heatmap.png', await encodePng(overlayHeatmap(image, heatmap, { opacity: 0.5 })));",
      'console.log(JSON.stringify({ method: heatmap.method, size: [heatmap.width, heatmap.height], grid: heatmap.grid.width, top: heatmap.predictions[0] }));',
      'await model.dispose();',
      '',
    ].join('\n'),
    'pipeline.mjs': [
      "import { loadModel, readImageFile } from '@vitzoo/pipeline/node';",
      "import '@vitzoo/runtime-node'; // registers the 'node' backend",
      "import { createDefaultRegistry } from 'vitzoo/registry';",
      '',
      "const model = await loadModel('./digits-vit', { registry: createDefaultRegistry() });",
      "const [predictions] = await model.classify(await readImageFile('./digit.png'), { topK: 3 });",
      'console.log(JSON.stringify(predictions[0]));',
      'await model.dispose();',
      '',
    ].join('\n'),
  });
  cpSync(join(root, 'models', 'digits-vit'), join(user, 'digits-vit'), { recursive: true });
  cpSync(digit, join(user, 'digit.png'));

  check("the root README's example runs in the installed app: import { loadModel } from 'vitzoo' classifies a digit", () => {
    const top = JSON.parse(run('node', ['readme.mjs'], user).trim().split('\n').pop());
    if (top.label !== '4' || !(top.score > 0.5)) throw new Error(`expected the digit 4, got ${JSON.stringify(top)}`);
  });
  check("vitzoo's README heat-map example runs: int8 at 48 px, rollout over the digit, a PNG of the image's size", () => {
    const result = JSON.parse(run('node', ['heatmap.mjs'], user).trim().split('\n').pop());
    if (result.method !== 'rollout' || result.size.join('x') !== '32x32' || result.grid !== 12 || result.top.label !== '4') throw new Error(`got ${JSON.stringify(result)}`);
    const png = readFileSync(join(user, 'digit.heatmap.png'));
    if (png.readUInt32BE(16) !== 32 || png.readUInt32BE(20) !== 32) throw new Error('the PNG is not 32x32');
  });
  check("@vitzoo/pipeline's README example runs (pipeline/node + runtime-node + vitzoo/registry)", () => {
    const top = JSON.parse(run('node', ['pipeline.mjs'], user).trim().split('\n').pop());
    if (top.label !== '4') throw new Error(`expected the digit 4, got ${JSON.stringify(top)}`);
  });

  const bare = app('no-sharp-app', ['@vitzoo/core', '@vitzoo/preprocess'], {
    'decode.mjs': [
      "import { readFile } from 'node:fs/promises';",
      "import { decodeImage } from '@vitzoo/preprocess/node';",
      "try { await decodeImage(await readFile('./digit.png')); console.log('decoded'); }",
      "catch (error) { console.log(JSON.stringify({ code: error.code, message: error.message })); }",
      '',
    ].join('\n'),
  });
  cpSync(digit, join(bare, 'digit.png'));
  check('@vitzoo/preprocess without sharp (an optional peer): a typed error naming `npm install sharp`', () => {
    const result = JSON.parse(run('node', ['decode.mjs'], bare).trim());
    if (result.code !== 'unsupported' || !result.message.includes('`npm install sharp`')) throw new Error(`got ${JSON.stringify(result)}`);
  });
} catch (error) {
  failed++;
  console.log(`not ok - packing or installing failed\n${String(error.stderr ?? '')}${error.message}`);
} finally {
  rmSync(work, { recursive: true, force: true });
}
console.log(`pack-install: ${((performance.now() - started) / 1000).toFixed(0)} s`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
