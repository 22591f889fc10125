import { UnsupportedError, type Dtype } from '@vitzoo/core';

/** The precision a graph was built with (`BuiltGraph.dtype` / `q4BlockSize`, or the build options). */
export interface GraphPrecision {
  dtype?: Dtype;
  q4BlockSize?: number;
}

/** Block sizes onnxruntime-web's WebGPU MatMulNBits computes right (larger blocks give wrong numbers without an error). */
export const WEBGPU_Q4_BLOCK_SIZES: readonly number[] = [16, 32];

/**
 * Refuses, with a typed error naming what does run, a graph precision a backend would run wrong:
 * on `webgpu`, q4 graphs with blocks over 32 (onnxruntime-web 1.30's WebGPU MatMulNBits reads the
 * wrong words of larger blocks, see @vitzoo/onnx's KERNELS.md). Every other combination runs:
 * fp16 graphs compute in float32 everywhere, and WebGPU runs int8's kernels on its CPU fallback.
 */
export function checkPrecisionRuns(backend: string, precision: GraphPrecision): void {
  if (backend === 'webgpu' && precision.dtype === 'q4' && precision.q4BlockSize !== undefined && !WEBGPU_Q4_BLOCK_SIZES.includes(precision.q4BlockSize)) {
    throw new UnsupportedError(
      `q4 graphs with q4BlockSize ${precision.q4BlockSize} give wrong numbers on WebGPU (onnxruntime-web's MatMulNBits handles blocks of ${WEBGPU_Q4_BLOCK_SIZES.join(' and ')} only): ` +
        `build with q4BlockSize ${WEBGPU_Q4_BLOCK_SIZES.join(' or ')}, or run on 'wasm'.`,
    );
  }
}
