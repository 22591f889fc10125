import type { Value } from '../builder.js';
import type { GraphLayers } from './graph-layers.js';

/** PyTorch's bicubic parameter for antialiased interpolation (and Pillow's). */
const CUBIC_A = -0.5;

/**
 * The weights of `torch.nn.functional.interpolate(mode='bicubic', antialias=True,
 * align_corners=False)` along one axis, as a matrix [outSize, inSize] built in the graph for an
 * output size known only at run time: output sample i sits at input coordinate
 * (i + 0.5)·scale − 0.5 (scale = in/out), the cubic kernel (a = −0.5) is stretched by
 * max(scale, 1), and each row is normalised to sum 1 (taps outside the axis get no weight).
 *
 * Plain operators (Range, Where, MatMul, …) rather than ONNX `Resize` with `antialias`, which
 * WebGPU does not run (KERNELS.md rule 10): the same numbers on every execution provider.
 */
export function antialiasedBicubicMatrix(layers: GraphLayers, inSize: number, outSize: Value): Value {
  const { g } = layers;
  const float = (value: Value) => g.op('Cast', [value], { to: 1 });
  const count = float(outSize);
  const scale = g.div(g.scalar(inSize, 'in_size'), count);
  const stretch = g.op('Max', [scale, g.scalar(1, 'one')]);
  const index = float(g.op('Range', [g.constant('int64', [], BigInt64Array.of(0n), 'zero'), outSize, g.constant('int64', [], BigInt64Array.of(1n), 'step')]));
  const centre = g.sub(g.mul(g.add(index, g.scalar(0.5, 'half')), scale), g.scalar(0.5, 'half'));
  const taps = g.constant('float32', [1, inSize], Float32Array.from({ length: inSize }, (_, j) => j), 'taps');
  const distance = g.op('Abs', [g.div(g.sub(taps, g.reshape(centre, [-1, 1])), stretch)]);
  const squared = g.mul(distance, distance);
  const near = g.add(g.mul(g.sub(g.mul(g.scalar(CUBIC_A + 2, 'a_plus_2'), distance), g.scalar(CUBIC_A + 3, 'a_plus_3')), squared), g.scalar(1, 'one'));
  const far = g.mul(g.sub(g.mul(g.add(g.mul(g.sub(distance, g.scalar(5, 'five')), distance), g.scalar(8, 'eight')), distance), g.scalar(4, 'four')), g.scalar(CUBIC_A, 'a'));
  const zero = g.scalar(0, 'zero');
  const weights = g.op('Where', [g.op('LessOrEqual', [distance, g.scalar(1, 'one')]), near, g.op('Where', [g.op('Less', [distance, g.scalar(2, 'two')]), far, zero])]);
  return g.div(weights, g.reduceSum(weights, [1], true));
}

/**
 * A grid image [C, fromHeight, fromWidth] resampled to the run-time size `to` (int64 [2]: height,
 * width) with `antialiasedBicubicMatrix` along each axis: [C, height, width].
 */
export function resampleGridBicubic(layers: GraphLayers, image: Value, from: readonly [number, number], to: Value): Value {
  const { g } = layers;
  const size = (axis: number) => g.gather(to, g.constant('int64', [], BigInt64Array.of(BigInt(axis)), 'axis'), 0);
  const rows = antialiasedBicubicMatrix(layers, from[0], size(0));
  const columns = antialiasedBicubicMatrix(layers, from[1], size(1));
  const across = g.matMul(image, g.transpose(columns, [1, 0])); // [C, fromHeight, width]
  return g.matMul(rows, across); // [height, fromHeight] · [C, fromHeight, width] → [C, height, width]
}
