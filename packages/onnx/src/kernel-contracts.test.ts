/**
 * The kernel contract probes (kernel-contracts.ts) on onnxruntime-node's CPU provider, each session
 * in a child process: a probe that crashes ONNX Runtime fails with its id instead of killing the
 * test runner. What each probe must do on 'cpu' is written in KERNEL_PROBES and in KERNELS.md.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { KERNEL_PROBES, runKernelProbe, type ProbeBackend } from './kernel-contracts.js';
import { ModelProto } from './schema.js';

interface IsolatedModule {
  createIsolatedNodeBackend(options: { name?: string; timeoutMs?: number }): ProbeBackend & { close(): Promise<void> };
}

/**
 * @vitzoo/runtime-node depends on this package (its tests build graphs), so this package cannot
 * declare it back; the workspace aliases of vitest.config.ts resolve it for the test.
 */
const ISOLATED_BACKEND_MODULE = '@vitzoo/runtime-node/isolated';

let backend: ProbeBackend & { close(): Promise<void> };
beforeAll(async () => {
  const { createIsolatedNodeBackend } = (await import(/* @vite-ignore */ ISOLATED_BACKEND_MODULE)) as IsolatedModule;
  backend = createIsolatedNodeBackend({ name: 'kernel-probes', timeoutMs: 30_000 });
});
afterAll(() => backend?.close());

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
    const model = ModelProto.toObject(ModelProto.decode(readFileSync(path)), { defaults: true }) as { graph: { node: { opType: string; domain: string }[] } };
    return model.graph.node.map((node) => (node.domain ? `${node.domain}.${node.opType}` : node.opType));
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
