import { convertCheckpoint, InvalidArgumentError, type OutputRequest } from '@vitzoo/core';
import { modulesWithOp, randomStateDict } from '@vitzoo/conformance/sweep';
import { describe, expect, it } from 'vitest';
import { cait } from './index.js';

const kwargs = { img_size: 16, patch_size: 4, embed_dim: 12, depth: 2, num_heads: 3, depth_token_only: 2, num_classes: 5 };

function build(outputs: OutputRequest[], options: Record<string, unknown> = {}) {
  const config = cait.parseConfig({ ...kwargs, ...options });
  return convertCheckpoint({ architecture: cait, kwargs: { ...kwargs, ...options }, stateDict: randomStateDict(cait.checkpointShapes(config), 1), outputs });
}

/** Modules that run ONNX Runtime's fused MultiHeadAttention. */
const fusedModules = (outputs: OutputRequest[]) => modulesWithOp(build(outputs), 'MultiHeadAttention');

describe('cait graph outputs', () => {
  it('lists the talking-heads and class-attention maps and one intermediate per block; no rollout', () => {
    expect(cait.outputCatalog!(cait.parseConfig(kwargs))).toEqual({
      attention: ['blocks.0.attn', 'blocks.1.attn', 'blocks_token_only.0.attn', 'blocks_token_only.1.attn'],
      intermediates: 2,
      rollout: false,
    });
    for (const output of ['rollout', 'intermediates.2', 'attention.blocks.2.attn'] as OutputRequest[]) expect(() => build([output]), output).toThrow(InvalidArgumentError);
  });

  it('declares the requested outputs in order with the reference shapes', () => {
    expect(build(['logits', 'attention', 'intermediates', 'features', 'pre_logits']).outputs.map((o) => [o.name, o.shape])).toEqual([
      ['logits', ['batch', 5]],
      ['attention.blocks.0.attn', ['batch', 3, 16, 16]],
      ['attention.blocks.1.attn', ['batch', 3, 16, 16]],
      ['attention.blocks_token_only.0.attn', ['batch', 3, 1, 17]],
      ['attention.blocks_token_only.1.attn', ['batch', 3, 1, 17]],
      ['intermediates.0', ['batch', 12, 4, 4]],
      ['intermediates.1', ['batch', 12, 4, 4]],
      ['features', ['batch', 17, 12]],
      ['pre_logits', ['batch', 12]],
    ]);
    expect(build(['logits', 'pre_logits'], { global_pool: '' }).outputs.map((o) => o.shape)).toEqual([
      ['batch', 17, 5],
      ['batch', 17, 12],
    ]);
  });

  it('keeps fused MultiHeadAttention for class attention whose map is not asked for', () => {
    expect(fusedModules(['logits'])).toEqual(['blocks_token_only.0.attn', 'blocks_token_only.1.attn']);
    expect(fusedModules(['logits', 'attention.blocks_token_only.1.attn', 'attention.blocks.0.attn'])).toEqual(['blocks_token_only.0.attn']);
    expect(fusedModules(['attention'])).toEqual([]);
  });
});
