/**
 * The kernel contract probes (kernel-contracts.ts) on onnxruntime-node's CPU provider, each session
 * in a child process: a probe that crashes ONNX Runtime fails with its id instead of killing the
 * test runner. What each probe must do on 'cpu' is written in KERNEL_PROBES and in KERNELS.md.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readModelNodes } from '@vitzoo/onnx';
import { createIsolatedNodeBackend } from '@vitzoo/runtime-node/isolated';
import { bicubicTaps, dynamicQuantizeReference, linearAlignCornersTaps, resampleReference } from './kernel-contracts-reference.js';
import { erf } from './reference.js';
import { KERNEL_PROBES, runKernelProbe } from './kernel-contracts.js';

const backend = createIsolatedNodeBackend({ name: 'kernel-probes', timeoutMs: 30_000 });
afterAll(() => backend.close());

describe('the float64 references, against hand-computed values', () => {
  test('erf', () => {
    expect(erf(1)).toBeCloseTo(0.8427007929497149, 14);
    expect(erf(-0.5)).toBeCloseTo(-0.5204998778130465, 14);
    expect(erf(3)).toBeCloseTo(0.9999779095030014, 14);
  });

  test("PyTorch's bicubic (A = -0.75, half-pixel, edge taps) and align-corners bilinear", () => {
    // [0, 1] → 4 samples. Sample 1: source 0.25, taps -1..2 clamped to 0, 0, 1, 1 with weights
    // -0.10546875, 0.87890625, 0.26171875, -0.03515625, so 0.26171875 - 0.03515625; sample 0: source
    // -0.25, only the last tap (weight -0.10546875) reaches index 1. The other two mirror them.
    const row = [{ index: 0, weight: 1 }];
    expect(Array.from(resampleReference([0, 1], [1, 1, 1, 2], [row], bicubicTaps(2, 4)))).toEqual([-0.10546875, 0.2265625, 0.7734375, 1.10546875]);
    expect(Array.from(resampleReference([0, 3], [1, 1, 1, 2], [row], linearAlignCornersTaps(2, 4)))).toEqual([0, 1, 2, 3]);
  });

  test('DynamicQuantizeLinear: range including 0, zero point and values rounded half to even', () => {
    // scale = 3/255, zero point 85; 0.5 / scale = 42.5 → 42.
    const quantized = dynamicQuantizeReference(Float32Array.of(-1, 0, 0.5, 2));
    expect(quantized.zeroPoint).toBe(85);
    expect(quantized.scale).toBeCloseTo(3 / 255, 7);
    expect(Array.from(quantized.values)).toEqual([0, 85, 127, 255]);
  });
});

const probe = (id: string) => KERNEL_PROBES.find((candidate) => candidate.id === id)!;

describe('ONNX Runtime kernel contracts on onnxruntime-node (CPU, isolated)', () => {
  test.each(KERNEL_PROBES.map((entry) => [entry.id, entry] as const))('%s', async (_, entry) => {
    const result = await runKernelProbe(entry, backend, 'cpu');
    expect({ outcome: result.outcome, passed: result.passed }, `${entry.contract}: ${result.detail}`).toEqual({ outcome: result.expected, passed: true });
  });
});

describe("what ONNX Runtime's CPU provider makes of the float16 and quantized forms (its optimised graph)", () => {
  let folder: string;
  beforeAll(() => {
    folder = mkdtempSync(join(tmpdir(), 'vitzoo-kernel-probes-'));
  });
  afterAll(() => rmSync(folder, { recursive: true, force: true }));

  /** The node types of the graph ONNX Runtime runs for a probe (written by the session's optimizedModelFilePath). */
  async function optimisedNodes(id: string): Promise<string[]> {
    const path = join(folder, `${id.replace(/\W/g, '_')}.onnx`);
    const session = await backend.createSession(probe(id).build().model, { extra: { optimizedModelFilePath: path } });
    await session.dispose();
    return readModelNodes(readFileSync(path)).map((node) => (node.domain ? `${node.domain}.${node.opType}` : node.opType));
  }

  test.each([
    // float16 compute: only LayerNormalization has a float16 CPU kernel; the others run in float32 between inserted Casts.
    ['LayerNormalization/float16', ['LayerNormalization']],
    ['MatMul/float16', ['Cast', 'MatMul', 'Cast']],
    ['MultiHeadAttention/float16', ['Cast', 'Cast', 'Cast', 'com.microsoft.MultiHeadAttention', 'Cast']],
    // com.microsoft Gelu has no float16 CPU kernel: its function body is inlined, in float32.
    ['Gelu/com.microsoft-float16', ['Cast', 'Mul', 'Erf', 'Add', 'Mul', 'Mul', 'Cast']],
    // float16 storage: Cast(initializer) is constant-folded, so the session holds the weights as float32.
    ['Cast/float16-weights', ['MatMul']],
    // DynamicQuantizeLinear + MatMulIntegerToFloat is fused into DynamicQuantizeMatMul; MatMulInteger + Cast + Mul is not.
    ['MatMulIntegerToFloat/per-column-bias', ['com.microsoft.DynamicQuantizeMatMul']],
    ['MatMulInteger/dynamic-quantize-linear', ['DynamicQuantizeLinear', 'MatMulInteger', 'Cast', 'Mul', 'Mul']],
  ] as const)('%s runs as %j', async (id, nodes) => {
    expect(await optimisedNodes(id)).toEqual(nodes);
  });
});
