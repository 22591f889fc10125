import { InvalidConfigError, renameKeys, toFloat32, unwrapStateDict, type StateDict, type Tensor } from '@vitzoo/core';
import { axisCoefficients } from '@vitzoo/preprocess';
import { sequenceLength, type VisionTransformerConfig } from './config.js';

/**
 * timm's `resample_abs_pos_embed` for a grid of tokens [1, oldH·oldW, C] (row-major): bicubic with
 * antialiasing (torch `interpolate(mode='bicubic', antialias=True)`, the same weights as Pillow's
 * resampling: a = -0.5, the filter stretched when shrinking, taps outside the grid dropped and the
 * rest normalised), separable, computed in float64.
 */
export function resampleTokenGrid(values: Float32Array, channels: number, from: readonly [number, number], to: readonly [number, number]): Float32Array {
  const [oldHeight, oldWidth] = from;
  const [height, width] = to;
  const rows = axisCoefficients(oldHeight, height, 'bicubic');
  const columns = axisCoefficients(oldWidth, width, 'bicubic');
  // Along the width first: [oldHeight, width, C].
  const across = new Float64Array(oldHeight * width * channels);
  for (let y = 0; y < oldHeight; y++) {
    for (let x = 0; x < width; x++) {
      const out = (y * width + x) * channels;
      for (let tap = 0; tap < columns.length[x]!; tap++) {
        const weight = columns.weights[x * columns.kernelSize + tap]!;
        const source = (y * oldWidth + columns.start[x]! + tap) * channels;
        for (let c = 0; c < channels; c++) across[out + c] = across[out + c]! + weight * values[source + c]!;
      }
    }
  }
  const result = new Float32Array(height * width * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      const out = (y * width + x) * channels;
      for (let c = 0; c < channels; c++) {
        let sum = 0;
        for (let tap = 0; tap < rows.length[y]!; tap++) sum += rows.weights[y * rows.kernelSize + tap]! * across[((rows.start[y]! + tap) * width + x) * channels + c]!;
        result[out + c] = sum;
      }
    }
  }
  return result;
}

/**
 * A position embedding made for another image size, resampled to the config's patch grid as timm's
 * `checkpoint_filter_fn` does: prefix tokens (class, distillation, registers; none with
 * no_embed_class) kept, the rest a square grid resampled with `resampleTokenGrid`.
 */
function resamplePositionEmbedding(tensor: Tensor, config: VisionTransformerConfig): Tensor {
  const prefix = config.noEmbedClass ? 0 : config.numPrefixTokens;
  const [, tokens, channels] = tensor.shape as [number, number, number];
  const oldTokens = tokens - prefix;
  const side = Math.round(Math.sqrt(Math.max(oldTokens, 0)));
  if (oldTokens <= 0 || side * side !== oldTokens) {
    throw new InvalidConfigError(
      'pos_embed',
      `[${tensor.shape.join(', ')}]`,
      `${prefix} prefix token(s) plus a square grid of patch positions (timm resamples only square grids)`,
      'vision transformer checkpoint',
    );
  }
  const values = toFloat32(tensor).data;
  const [gridHeight, gridWidth] = config.gridSize;
  const grid = resampleTokenGrid(values.subarray(prefix * channels), channels, [side, side], [gridHeight, gridWidth]);
  const data = new Float32Array((prefix + gridHeight * gridWidth) * channels);
  data.set(values.subarray(0, prefix * channels));
  data.set(grid, prefix * channels);
  return { dtype: 'float32', shape: [1, prefix + gridHeight * gridWidth, channels], data };
}

/**
 * timm's `checkpoint_filter_fn` (vision_transformer.py): strips a DataParallel `module.` prefix,
 * maps the pre-0.9 LayerScale names (`gamma_1`/`gamma_2`) to `ls1`/`ls2`, and resamples a position
 * embedding made for another image size to this config's grid (bicubic, antialiased, prefix tokens
 * kept). Does not modify its input.
 */
export function filterVisionTransformerCheckpoint(stateDict: StateDict, config: VisionTransformerConfig): StateDict {
  const out = renameKeys(unwrapStateDict(stateDict), (key) =>
    key.replace(/^(blocks\.\d+)\.gamma_1$/, '$1.ls1.gamma').replace(/^(blocks\.\d+)\.gamma_2$/, '$1.ls2.gamma'),
  );
  const position = out.pos_embed;
  const expectedTokens = config.noEmbedClass ? config.numPatches : sequenceLength(config);
  if (config.posEmbed === 'learn' && position?.shape.length === 3 && position.shape[2] === config.embedDim && position.shape[1] !== expectedTokens) {
    out.pos_embed = resamplePositionEmbedding(position, config);
  }
  return out;
}
