/**
 * Round half to even (banker's rounding): Python 3's `round(x)`, PIL's size arithmetic and
 * ONNX Runtime's quantizers (80.5 → 80, 79.5 → 80, -1.5 → -2); everything else to the nearest.
 */
export function roundHalfEven(value: number): number {
  // Math.round takes halves up: step back where that made an odd number from a half.
  const rounded = Math.round(value);
  return rounded - value === 0.5 && (rounded & 1) !== 0 ? rounded - 1 : rounded;
}
