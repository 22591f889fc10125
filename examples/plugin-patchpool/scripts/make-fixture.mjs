// Writes fixtures/patchpool_tiny: random weights, random inputs, and the expected outputs computed by
// a direct float64 loop implementation of the forward pass (independent of the ONNX graph).
// Usage: node scripts/make-fixture.mjs (needs `pnpm build`).
import { mkdirSync, writeFileSync } from 'node:fs';
import { serializeSafetensors } from '@vitzoo/core';

const kwargs = { img_size: 32, patch_size: 8, embed_dim: 16, num_classes: 10, in_chans: 3 };
const { img_size: S, patch_size: P, embed_dim: D, num_classes: K, in_chans: C } = kwargs;
const G = S / P, N = G * G, B = 2;
let seed = 12345;
const normal = () => {
  // Box-Muller on a small LCG: reproducible without dependencies.
  const uniform = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) + 1) / 2147483649;
  return Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
};
const tensor = (shape, scale, offset = 0) => ({ dtype: 'float32', shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => offset + scale * normal()) });
const w = {
  'patch_embed.weight': tensor([D, C, P, P], 1 / Math.sqrt(C * P * P)),
  'patch_embed.bias': tensor([D], 0.1),
  'norm.weight': tensor([D], 0.1, 1),
  'norm.bias': tensor([D], 0.1),
  'head.weight': tensor([K, D], 1 / Math.sqrt(D)),
  'head.bias': tensor([K], 0.1),
};
const x = tensor([B, C, S, S], 1);
const features = new Float32Array(B * N * D), preLogits = new Float32Array(B * D), logits = new Float32Array(B * K);
for (let b = 0; b < B; b++) {
  const pooled = new Float64Array(D);
  for (let gy = 0; gy < G; gy++) for (let gx = 0; gx < G; gx++) {
    const token = new Float64Array(D);
    for (let d = 0; d < D; d++) {
      let sum = w['patch_embed.bias'].data[d];
      for (let c = 0; c < C; c++) for (let i = 0; i < P; i++) for (let j = 0; j < P; j++) {
        sum += w['patch_embed.weight'].data[((d * C + c) * P + i) * P + j] * x.data[((b * C + c) * S + gy * P + i) * S + gx * P + j];
      }
      token[d] = sum;
    }
    const mean = token.reduce((a, v) => a + v, 0) / D;
    const variance = token.reduce((a, v) => a + (v - mean) ** 2, 0) / D;
    for (let d = 0; d < D; d++) {
      const normed = ((token[d] - mean) / Math.sqrt(variance + 1e-6)) * w['norm.weight'].data[d] + w['norm.bias'].data[d];
      features[(b * N + gy * G + gx) * D + d] = normed;
      pooled[d] += normed / N;
    }
  }
  for (let d = 0; d < D; d++) preLogits[b * D + d] = pooled[d];
  for (let k = 0; k < K; k++) {
    let sum = w['head.bias'].data[k];
    for (let d = 0; d < D; d++) sum += w['head.weight'].data[k * D + d] * pooled[d];
    logits[b * K + k] = sum;
  }
}
const dir = new URL('../fixtures/patchpool_tiny/', import.meta.url);
mkdirSync(dir, { recursive: true });
writeFileSync(new URL('model.safetensors', dir), serializeSafetensors(w));
writeFileSync(new URL('io.safetensors', dir), serializeSafetensors({
  pixel_values: x,
  logits: { dtype: 'float32', shape: [B, K], data: logits },
  pre_logits: { dtype: 'float32', shape: [B, D], data: preLogits },
  features: { dtype: 'float32', shape: [B, N, D], data: features },
}));
writeFileSync(new URL('config.json', dir), JSON.stringify({
  architecture: 'patchpool',
  description: 'example plugin case; expected outputs from a float64 loop implementation (scripts/make-fixture.mjs)',
  kwargs,
  num_classes: K,
  tolerance: { logits_max_abs_diff: 1e-4 },
}, null, 2) + '\n');
console.log('wrote', dir.pathname);
