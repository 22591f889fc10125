/** Deterministic random weights for an architecture's checkpoint shapes (xorshift, scaled by 1/sqrt(fan-in)). */
export function randomStateDict(architecture, config, seed = 1) {
  let state = seed >>> 0 || 1;
  const next = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296 - 0.5;
  };
  const stateDict = {};
  for (const [key, shape] of Object.entries(architecture.checkpointShapes(config))) {
    const count = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape.length > 1 ? shape.slice(1).reduce((a, b) => a * b, 1) : 1;
    const scale = (key.endsWith('.weight') && shape.length === 1) ? 0.1 : 2 / Math.sqrt(fanIn);
    const data = new Float32Array(count);
    const offset = key.endsWith('norm1.weight') || key.endsWith('norm2.weight') || key.endsWith('norm.weight') ? 1 : 0;
    for (let i = 0; i < count; i++) data[i] = offset + next() * scale;
    stateDict[key] = { dtype: 'float32', shape: [...shape], data };
  }
  return stateDict;
}
