/**
 * The kernel contract probes of @vitzoo/conformance/kernel-contracts in the page:
 * every probe on onnxruntime-web's 'wasm' or 'webgpu' backend. On WebGPU each session logs where
 * ONNX Runtime placed its nodes; a marker line before each probe lets the test attribute the log.
 */
import { resolveBackend } from '@vitzoo/runtime';
import { NODE_PLACEMENT_LOGGING, runKernelProbes, type ProbeBackend } from '@vitzoo/conformance/kernel-contracts';

/** Printed on the console before each probe, followed by the probe's id. */
export const PROBE_MARKER = '[vitzoo kernel probe] ';

interface GpuAdapterLike {
  features: { has(name: string): boolean };
  info?: { vendor?: string; architecture?: string };
}

async function adapterFacts() {
  const gpu = (navigator as { gpu?: { requestAdapter(): Promise<GpuAdapterLike | null> } }).gpu;
  const adapter = gpu ? await gpu.requestAdapter() : null;
  if (!adapter) return null;
  return { shaderF16: adapter.features.has('shader-f16'), vendor: adapter.info?.vendor ?? '', architecture: adapter.info?.architecture ?? '' };
}

export async function kernelProbes(backendName: 'wasm' | 'webgpu', only?: string[]) {
  const backend = await resolveBackend([backendName]);
  const adapter = backendName === 'webgpu' ? await adapterFacts() : null;
  const started = performance.now();
  const results = await runKernelProbes(backend as ProbeBackend, backendName, {
    ...(only ? { only } : {}),
    ...(adapter ? { extra: { ...NODE_PLACEMENT_LOGGING }, shaderF16: adapter.shaderF16 } : {}),
    beforeEach: (probe) => console.log(`${PROBE_MARKER}${probe.id}`),
  });
  console.log(`${PROBE_MARKER}end`);
  return { results, adapter, milliseconds: performance.now() - started };
}
