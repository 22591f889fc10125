import { convertCheckpoint, createTensor, graphBytes, InvalidArgumentError, type OutputRequest } from '@vitzoo/core';
import { modulesWithOp, normalGenerator, randomStateDict } from '@vitzoo/conformance/sweep';
import { nodeBackend } from '@vitzoo/runtime-node';
import { describe, expect, it } from 'vitest';
import { swin } from './index.js';
import { listNodes, withExtraOutputs } from './model-proto.test-support.js';

/** Grid 10 and 5 against window 4: padded and shifted windows in both stages. */
const padded = { img_size: 20, patch_size: 2, embed_dim: 8, depths: [2, 2], num_heads: [2, 2], window_size: 4, num_classes: 5 };

function build(kwargs: Record<string, unknown>, outputs: OutputRequest[], seed = 1) {
  const config = swin.parseConfig(kwargs);
  return convertCheckpoint({ architecture: swin, kwargs, stateDict: randomStateDict(swin.checkpointShapes(config), seed), outputs });
}

describe('swin graph outputs', () => {
  it('exposes only the requested outputs, in the requested order, with timm shapes', () => {
    const graph = build(padded, ['features', 'logits', 'attention.layers.0.blocks.1.attn', 'intermediates.1', 'attention.layers.1.blocks.0.attn']);
    expect(graph.outputs.map((o) => [o.name, o.shape])).toEqual([
      ['features', ['batch', 5, 5, 16]],
      ['logits', ['batch', 5]],
      // 12×12 padded map, 4×4 windows: 9 windows per image.
      ['attention.layers.0.blocks.1.attn', ['batch*9', 2, 16, 16]],
      ['intermediates.1', ['batch', 16, 5, 5]],
      ['attention.layers.1.blocks.0.attn', ['batch*4', 2, 16, 16]],
    ]);
    expect(graph.inputs).toEqual([{ name: 'pixel_values', dtype: 'float32', shape: ['batch', 3, 20, 20] }]);
  });

  it("lists every block's attention and one intermediate per stage, and refuses what it cannot give", () => {
    const config = swin.parseConfig(padded);
    expect(swin.outputCatalog!(config)).toEqual({
      attention: ['layers.0.blocks.0.attn', 'layers.0.blocks.1.attn', 'layers.1.blocks.0.attn', 'layers.1.blocks.1.attn'],
      intermediates: 2,
      rollout: false,
    });
    expect(build(padded, ['attention', 'intermediates']).outputs.map((o) => o.name)).toEqual([
      'attention.layers.0.blocks.0.attn',
      'attention.layers.0.blocks.1.attn',
      'attention.layers.1.blocks.0.attn',
      'attention.layers.1.blocks.1.attn',
      'intermediates.0',
      'intermediates.1',
    ]);
    for (const output of ['rollout', 'intermediates.2', 'attention.layers.0.blocks.2.attn'] as OutputRequest[]) {
      expect(() => build(padded, [output]), output).toThrow(InvalidArgumentError);
    }
  });

  it("keeps fused MultiHeadAttention in every block whose map is not asked for", () => {
    const fused = (outputs: OutputRequest[]) => modulesWithOp(build(padded, outputs), 'MultiHeadAttention');
    expect(fused(['logits'])).toEqual(['layers.0.blocks.0.attn', 'layers.0.blocks.1.attn', 'layers.1.blocks.0.attn', 'layers.1.blocks.1.attn']);
    expect(fused(['logits', 'attention.layers.0.blocks.1.attn', 'intermediates.0'])).toEqual(['layers.0.blocks.0.attn', 'layers.1.blocks.0.attn', 'layers.1.blocks.1.attn']);
    expect(fused(['attention'])).toEqual([]);
  });
});

describe('attention bias at the full MultiHeadAttention batch', () => {
  // onnxruntime-web's WebGPU MultiHeadAttention accepts attention_bias only as exactly
  // (batch_size, num_heads, sequence_length, total_sequence_length), with no broadcasting (ONNX
  // Runtime's CPU kernel also broadcasts a [1, heads, N, N] bias, so CPU parity alone would not
  // notice). Every block's bias must come out as [B*num_windows, heads, N, N] at run time.
  const bodies = [
    { name: 'padding + shifted windows in both stages', kwargs: padded },
    { name: 'the swin_tiny fixture geometry (shifted stage, single-window stage)', kwargs: { img_size: 32, patch_size: 4, embed_dim: 8, depths: [2, 2], num_heads: [2, 4], window_size: 4, num_classes: 3 } },
    { name: 'non-square windows', kwargs: { img_size: [16, 24], patch_size: 2, embed_dim: 6, depths: [2, 1], num_heads: [2, 3], head_dim: 3, window_size: [4, 8], num_classes: 4 } },
  ];
  for (const body of bodies) {
    it(body.name, async () => {
      const config = swin.parseConfig(body.kwargs);
      const bytes = graphBytes(build(body.kwargs, ['logits'], 5));
      const attention = listNodes(bytes).filter((node) => node.opType === 'MultiHeadAttention' && node.domain === 'com.microsoft');
      const expected = config.stages.flatMap((stage) =>
        stage.blocks.map((block) => {
          const windows = (block.padded[0] / block.window[0]) * (block.padded[1] / block.window[1]);
          return { windows, heads: stage.numHeads, area: block.window[0] * block.window[1] };
        }),
      );
      expect(attention.length).toBe(expected.length);
      const biasNames = attention.map((node) => node.inputs[5]!);
      for (const name of biasNames) expect(name).not.toBe('');
      const session = await nodeBackend.createSession(withExtraOutputs(bytes, biasNames));
      try {
        for (const batch of [2, 1]) {
          const [height, width] = config.imgSize;
          const pixels = createTensor('float32', [batch, 3, height, width], Float32Array.from({ length: batch * 3 * height * width }, normalGenerator(batch)));
          const result = await session.run({ pixel_values: pixels });
          expect(biasNames.map((name) => result[name]!.shape)).toEqual(expected.map(({ windows, heads, area }) => [batch * windows, heads, area, area]));
        }
      } finally {
        await session.dispose();
      }
    });
  }
});
