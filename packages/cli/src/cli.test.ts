import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseSafetensors, serializeSafetensors } from '@vitzoo/core';
import { GraphBuilder, serializeModel } from '@vitzoo/onnx';
import { nodeBackend } from '@vitzoo/runtime-node';
import { runCli } from './test-cli.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const fixtures = join(root, 'fixtures/models');
let scratch: string;

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'vitzoo-cli-'));
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A copy of a fixture case in the scratch folder, optionally with files replaced. */
function caseCopy(name: string, edit: (dir: string) => void = () => {}): string {
  const dir = join(scratch, `${name}-${Math.random().toString(36).slice(2)}`);
  mkdirSync(dir);
  for (const file of ['config.json', 'model.safetensors', 'io.safetensors']) copyFileSync(join(fixtures, name, file), join(dir, file));
  edit(dir);
  return dir;
}

/** Bad input must never surface a stack trace or an onnxruntime trace (runCli checks). */
const cli = (args: string[]) => runCli(args, root);

describe('vitzoo verify', () => {
  test('every fixture case in the repository passes (≤ 1e-4 on every stored output, batch 2 and each sample alone)', async () => {
    const { code, out } = await cli(['verify', 'fixtures/models', '--json']);
    const report = JSON.parse(out);
    const cases = readdirSync(fixtures).filter((name) => existsSync(join(fixtures, name, 'config.json')));
    expect(report.version).toBe(1);
    expect(report.cases.map((c: { case: string }) => c.case).sort()).toEqual(cases.sort());
    for (const item of report.cases) {
      expect({ case: item.case, status: item.status, error: item.error }).toEqual({ case: item.case, status: 'pass', error: undefined });
      expect(item.comparisons.length).toBeGreaterThanOrEqual(6);
      for (const comparison of item.comparisons) expect(comparison.maxAbsDiff).toBeLessThanOrEqual(1e-4);
    }
    expect(report.passed).toBe(true);
    expect(report.summary).toEqual({ pass: cases.length, fail: 0, error: 0, crashed: 0, 'not-implemented': 0 });
    expect(code).toBe(0);
  });

  test('each case runs isolated: one that crashes ONNX Runtime natively is reported, the others still run', async () => {
    // A third-party architecture whose graph feeds com.microsoft Attention no bias: the CPU kernel
    // dereferences it and the process dies with SIGSEGV.
    const g = new GraphBuilder({ graphName: 'crasher' });
    const pixels = g.input('pixel_values', 'float32', ['batch', 3, 2, 2]);
    const tokens = g.reshape(pixels, [-1, 3, 4]);
    const qkvWeight = g.constant('float32', [4, 12], Float32Array.from({ length: 48 }, (_, i) => i / 48), 'qkv');
    const attended = g.op('Attention', [tokens, qkvWeight, null], { num_heads: 2 }, { domain: 'com.microsoft' });
    g.output(g.reduceMean(attended, [1]), 'logits', 'float32', ['batch', 4]);
    const onnx = join(scratch, 'crasher.onnx');
    writeFileSync(onnx, serializeModel(g.build()));
    const plugin = join(scratch, 'crasher-plugin.mjs');
    writeFileSync(
      plugin,
      `import { readFileSync } from 'node:fs';
export default {
  specificationVersion: 'v1', id: 'crasher', variants: {},
  parseConfig: (kwargs) => kwargs, checkpointShapes: () => ({}),
  buildGraph() {
    const bytes = new Uint8Array(readFileSync(${JSON.stringify(onnx)}));
    return { inputs: [], outputs: [], byteLength: bytes.byteLength, chunks: () => [bytes] };
  },
};
`,
    );
    const folder = join(scratch, `crash-${Math.random().toString(36).slice(2)}`);
    mkdirSync(join(folder, 'a_crasher'), { recursive: true });
    writeFileSync(join(folder, 'a_crasher', 'config.json'), JSON.stringify({ architecture: 'crasher', kwargs: {} }));
    writeFileSync(join(folder, 'a_crasher', 'model.safetensors'), serializeSafetensors({}));
    const pixelsValue = { dtype: 'float32' as const, shape: [1, 3, 2, 2], data: new Float32Array(12).fill(0.5) };
    writeFileSync(join(folder, 'a_crasher', 'io.safetensors'), serializeSafetensors({ pixel_values: pixelsValue, logits: { dtype: 'float32', shape: [1, 4], data: new Float32Array(4) } }));
    const good = join(folder, 'b_vit_tiny');
    mkdirSync(good);
    for (const file of ['config.json', 'model.safetensors', 'io.safetensors']) copyFileSync(join(fixtures, 'vit_tiny', file), join(good, file));

    const { code, out } = await cli(['--plugin', plugin, 'verify', folder]);
    expect(out).toMatch(/CRASHED \(SIGSEGV\)\s+a_crasher \(crasher\)/);
    expect(out).toMatch(/PASS\s+b_vit_tiny \(vit\)/);
    expect(out).toMatch(/1 passed, 1 failed \(1 crashed\)/);
    expect(code).toBe(1);
    const json = JSON.parse((await cli(['--plugin', plugin, 'verify', folder, '--json'])).out);
    expect(json.summary).toEqual({ pass: 1, fail: 0, error: 0, crashed: 1, 'not-implemented': 0 });
    expect(json.cases[0]).toMatchObject({ case: 'a_crasher', status: 'crashed', signal: 'SIGSEGV' });
  });

  test('a case whose outputs differ fails with exit 1 and says by how much', async () => {
    const dir = caseCopy('vit_tiny', (d) => {
      const io = parseSafetensors(readFileSync(join(d, 'io.safetensors'))).tensors;
      const logits = io.logits!.data as Float32Array;
      logits[3] = logits[3]! + 0.01;
      writeFileSync(join(d, 'io.safetensors'), serializeSafetensors(io));
    });
    const { code, out } = await cli(['verify', dir]);
    expect(out).toMatch(/FAIL\s+vit-tiny|FAIL\s+vit_tiny/);
    expect(out).toMatch(/logits\s+batch 2\s+max \|diff\| 1\.00e-2\s+> 0\.0001/);
    expect(code).toBe(1);
  });

  test('a NaN difference is printed as NaN (and as "NaN" in --json), and fails', async () => {
    const dir = caseCopy('vit_tiny', (d) => {
      const io = parseSafetensors(readFileSync(join(d, 'io.safetensors'))).tensors;
      (io.logits!.data as Float32Array)[0] = Number.NaN;
      writeFileSync(join(d, 'io.safetensors'), serializeSafetensors(io));
    });
    const text = await cli(['verify', dir]);
    expect(text.out).toMatch(/logits\s+batch 2\s+max \|diff\| NaN\s+> 0\.0001/);
    expect(text.code).toBe(1);
    const json = JSON.parse((await cli(['verify', dir, '--json'])).out);
    expect(json.cases[0].comparisons.find((c: { output: string; batch: number }) => c.output === 'logits' && c.batch === 2).maxAbsDiff).toBe('NaN');
  });

  test('bad inputs: typed, readable errors and a non-zero exit', async () => {
    const truncated = caseCopy('vit_tiny', (d) => {
      const bytes = readFileSync(join(d, 'model.safetensors'));
      writeFileSync(join(d, 'model.safetensors'), bytes.subarray(0, bytes.byteLength - 100));
    });
    const malformed = caseCopy('vit_tiny', (d) => writeFileSync(join(d, 'model.safetensors'), 'not a safetensors file at all'));
    const missing = caseCopy('vit_tiny', (d) => rmSync(join(d, 'model.safetensors')));
    const wrongShape = caseCopy('vit_tiny', (d) => {
      const config = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
      config.kwargs.embed_dim = 96;
      writeFileSync(join(d, 'config.json'), JSON.stringify(config));
    });
    const badKwargs = caseCopy('vit_tiny', (d) => {
      const config = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
      config.kwargs.num_heads = 5;
      writeFileSync(join(d, 'config.json'), JSON.stringify(config));
    });
    const unknownArchitecture = caseCopy('vit_tiny', (d) => {
      const config = JSON.parse(readFileSync(join(d, 'config.json'), 'utf8'));
      config.architecture = 'resnet';
      writeFileSync(join(d, 'config.json'), JSON.stringify(config));
    });
    const brokenJson = caseCopy('vit_tiny', (d) => writeFileSync(join(d, 'config.json'), '{"architecture": '));
    const expectations: [string, RegExp][] = [
      [truncated, /Invalid safetensors file .*model\.safetensors: .*truncated/],
      [malformed, /Invalid safetensors file .*model\.safetensors/],
      [missing, /Weights file not found: .*model\.safetensors/],
      [wrongShape, /does not match the 'vit' config: .*wrong shape: .*expected/],
      [badKwargs, /'num_heads' is 5; expected a divisor of embed_dim \(48\)/],
      [unknownArchitecture, /Architecture 'resnet' is not implemented/],
      [brokenJson, /'config\.json' .*expected valid JSON/],
    ];
    for (const [dir, message] of expectations) {
      const { code, out } = await cli(['verify', dir, '--json']);
      const report = JSON.parse(out);
      expect(report.cases[0].status).not.toBe('pass');
      expect(report.cases[0].error.message).toMatch(message);
      expect(code).toBe(1);
    }
    const nowhere = await cli(['verify', join(scratch, 'does-not-exist')]);
    expect(nowhere.err).toMatch(/error: No such folder/);
    expect(nowhere.code).toBe(1);
  });
});

describe('PyTorch checkpoints through --weights', () => {
  test('verify and convert take the authors\' .pth files (and the legacy format) in place of model.safetensors', async () => {
    for (const [name, weights] of [['cswin_tiny', 'model.pth'], ['fdvit_tiny', 'model.pth'], ['vit_tiny', 'model_legacy.pth']] as const) {
      const { code, out } = await cli(['verify', `fixtures/models/${name}`, '--weights', `fixtures/models/${name}/${weights}`, '--json']);
      expect(JSON.parse(out).cases[0].status).toBe('pass');
      expect(code).toBe(0);
    }
    const output = join(scratch, 'cswin.onnx');
    const converted = await cli(['convert', 'fixtures/models/cswin_tiny', '--weights', 'fixtures/models/cswin_tiny/model.pth', '-o', output]);
    expect(converted.code).toBe(0);
    expect(existsSync(output)).toBe(true);
  });

  test('malicious or malformed checkpoints are refused with a typed error and run nothing', async () => {
    for (const file of ['os_system.pth', 'builtins_eval.pth', 'truncated_storage.pth']) {
      const { code, out } = await cli(['verify', 'fixtures/models/vit_tiny', '--weights', `fixtures/malicious/${file}`, '--json']);
      const report = JSON.parse(out).cases[0];
      expect(report.status).toBe('error');
      expect(report.error.code).toBe('invalid-checkpoint');
      expect(out).not.toMatch(/vitzoo-fixture-code-execution|vitzoo-fixture-eval/);
      expect(code).toBe(1);
    }
  });
});

describe('vitzoo convert', () => {
  test('writes a graph with the requested outputs that runs and matches the case', async () => {
    const output = join(scratch, 'deit.onnx');
    const { code, out } = await cli(['convert', 'fixtures/models/deit_distilled', '-o', output, '--outputs', 'pre_logits,logits', '--json']);
    expect(code).toBe(0);
    const summary = JSON.parse(out);
    expect(summary.outputs.map((o: { name: string }) => o.name)).toEqual(['pre_logits', 'logits']);
    expect(summary.inputs).toEqual([{ name: 'pixel_values', dtype: 'float32', shape: ['batch', 3, 32, 32] }]);
    const session = await nodeBackend.createSession(readFileSync(output));
    expect(session.outputNames).toEqual(['pre_logits', 'logits']);
    const io = parseSafetensors(readFileSync(join(fixtures, 'deit_distilled/io.safetensors'))).tensors;
    const result = await session.run({ pixel_values: io.pixel_values! });
    const expected = io.logits!.data as Float32Array;
    const actual = result.logits!.data as Float32Array;
    for (let i = 0; i < expected.length; i++) expect(Math.abs(actual[i]! - expected[i]!)).toBeLessThanOrEqual(1e-4);
    await session.dispose();
    expect(readdirSync(scratch).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  test('accepts the timm hub layout (architecture = registered variant name + model_args)', async () => {
    const dir = join(scratch, 'hub-layout');
    mkdirSync(dir);
    copyFileSync(join(fixtures, 'vit_gap/model.safetensors'), join(dir, 'model.safetensors'));
    const { kwargs } = JSON.parse(readFileSync(join(fixtures, 'vit_gap/config.json'), 'utf8'));
    const { num_classes, ...modelArgs } = kwargs;
    writeFileSync(join(dir, 'config.json'), JSON.stringify({ architecture: 'vit_tiny_patch16_224', num_classes, model_args: modelArgs }));
    const { code, out } = await cli(['convert', dir, '-o', join(scratch, 'hub.onnx'), '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(out).architecture).toBe('vit');
    const unknown = join(scratch, 'hub-unknown');
    mkdirSync(unknown);
    writeFileSync(join(unknown, 'config.json'), JSON.stringify({ architecture: 'vit_tiny_patch16_244' }));
    const failed = await cli(['convert', unknown, '-o', join(scratch, 'never.onnx')]);
    expect(failed.err).toMatch(/Unknown model 'vit_tiny_patch16_244'\. Did you mean 'vit_tiny_patch16_224'/);
    expect(failed.code).toBe(1);
  });

  test('attention maps, rollout and intermediates are graph outputs on request', async () => {
    const output = join(scratch, 'vit-extras.onnx');
    const { code, out } = await cli(['convert', 'fixtures/models/vit_tiny', '-o', output, '--outputs', 'logits,attention,rollout,intermediates.1', '--json']);
    expect(code).toBe(0);
    expect(JSON.parse(out).outputs).toEqual([
      { name: 'logits', dtype: 'float32', shape: ['batch', 10] },
      { name: 'attention.blocks.0.attn', dtype: 'float32', shape: ['batch', 3, 17, 17] },
      { name: 'attention.blocks.1.attn', dtype: 'float32', shape: ['batch', 3, 17, 17] },
      { name: 'rollout', dtype: 'float32', shape: ['batch', 4, 4] },
      { name: 'intermediates.1', dtype: 'float32', shape: ['batch', 48, 4, 4] },
    ]);
  });

  test('weights holding NaN or ±Inf are refused naming the tensor, unless --allow-non-finite', async () => {
    const poisoned = caseCopy('vit_tiny', (d) => {
      const weights = parseSafetensors(readFileSync(join(d, 'model.safetensors'))).tensors;
      (weights['blocks.1.mlp.fc1.weight']!.data as Float32Array)[10] = Number.POSITIVE_INFINITY;
      writeFileSync(join(d, 'model.safetensors'), serializeSafetensors(weights));
    });
    const refused = await cli(['convert', poisoned, '-o', join(scratch, 'poisoned.onnx')]);
    expect(refused.err).toMatch(/tensor 'blocks\.1\.mlp\.fc1\.weight' holds 1 ±Inf value\(s\).*--allow-non-finite/);
    expect(refused.code).toBe(1);
    expect(existsSync(join(scratch, 'poisoned.onnx'))).toBe(false);
    const allowed = await cli(['convert', poisoned, '-o', join(scratch, 'poisoned.onnx'), '--allow-non-finite']);
    expect(allowed.code).toBe(0);
  });

  test('a failed conversion leaves an existing output untouched and no temporary files', async () => {
    const output = join(scratch, 'keep.onnx');
    writeFileSync(output, 'previous content');
    const bad = caseCopy('vit_tiny', (d) => writeFileSync(join(d, 'model.safetensors'), new Uint8Array(12)));
    const { code, err } = await cli(['convert', bad, '-o', output]);
    expect(err).toMatch(/^error: Invalid safetensors file/);
    expect(code).toBe(1);
    expect(readFileSync(output, 'utf8')).toBe('previous content');
    expect(readdirSync(scratch).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  test('usage errors: unknown output name, missing -o, unknown command, output folder missing', async () => {
    const badOutput = await cli(['convert', 'fixtures/models/vit_tiny', '-o', join(scratch, 'x.onnx'), '--outputs', 'logits,attention.blocks.7.attn']);
    expect(badOutput.err).toMatch(/Unknown output 'attention\.blocks\.7\.attn' for architecture 'vit'; it can give logits, pre_logits, features, attention \(attention\.blocks\.0\.attn, attention\.blocks\.1\.attn\), intermediates \(intermediates\.0, intermediates\.1\), rollout/);
    expect(badOutput.code).toBe(1);
    expect((await cli(['convert', 'fixtures/models/vit_tiny'])).code).toBe(2);
    expect((await cli(['frobnicate'])).code).toBe(2);
    const noFolder = await cli(['convert', 'fixtures/models/vit_tiny', '-o', join(scratch, 'missing-folder/x.onnx')]);
    expect(noFolder.err).toMatch(/folder .*missing-folder does not exist/);
    expect(noFolder.code).toBe(1);
  });
});

describe('vitzoo list', () => {
  test('lists registered names with wildcards', async () => {
    const { out } = await cli(['list', 'deit_*distilled*', '--json']);
    expect(JSON.parse(out)).toEqual([
      'deit_base_distilled_patch16_224.fb_in1k',
      'deit_base_distilled_patch16_384.fb_in1k',
      'deit_small_distilled_patch16_224.fb_in1k',
      'deit_tiny_distilled_patch16_224.fb_in1k',
    ]);
    const names = await cli(['list', 'deit_*distilled*', '--names']);
    expect(names.out).toBe('deit_base_distilled_patch16_224\ndeit_base_distilled_patch16_384\ndeit_small_distilled_patch16_224\ndeit_tiny_distilled_patch16_224\n');
  });
});

test('the built binary runs (pnpm vitzoo) and exits non-zero on failure', () => {
  const bin = join(root, 'packages/cli/dist/bin.js');
  const out = execFileSync(process.execPath, [bin, 'verify', 'fixtures/models/vit_tiny', '--json'], { cwd: root, encoding: 'utf8' });
  expect(JSON.parse(out).passed).toBe(true);
  let status = 0;
  try {
    execFileSync(process.execPath, [bin, 'verify', 'nowhere'], { cwd: root, stdio: 'pipe' });
  } catch (error) {
    status = (error as { status: number }).status;
  }
  expect(status).toBe(1);
});
