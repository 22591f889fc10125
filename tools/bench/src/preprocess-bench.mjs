// Preprocessing the fixtures' photos to 224x224 tensors: @vitzoo/preprocess vs transformers.js's image
// processor, both built from the same Hugging Face preprocessor_config object (no network), measured
// in the same run, interleaved. Run `pnpm build` first.
import { readFileSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createHuggingFaceTransform, decodeImage } from '@vitzoo/preprocess/node';
import { parseSafetensors } from '@vitzoo/core';
import { DeiTImageProcessor, RawImage, ViTImageProcessor, env } from '@huggingface/transformers';
import { interleavedMedians } from './timing.mjs';

const FIXTURES = fileURLToPath(new URL('../../../fixtures/', import.meta.url));
const IMAGES = join(FIXTURES, 'images');

/** transformers' ViTImageProcessor defaults: exact 224x224 bilinear, mean = std = 0.5. */
const VIT_CONFIG = {
  do_resize: true,
  size: { height: 224, width: 224 },
  resample: 2,
  do_rescale: true,
  rescale_factor: 1 / 255,
  do_normalize: true,
  image_mean: [0.5, 0.5, 0.5],
  image_std: [0.5, 0.5, 0.5],
};

/** facebook/deit-*-patch16-224's preprocessor_config: 256x256 bicubic, center crop 224, ImageNet mean/std. */
export const DEIT_CONFIG = {
  do_resize: true,
  size: { height: 256, width: 256 },
  resample: 3,
  do_center_crop: true,
  crop_size: { height: 224, width: 224 },
  do_rescale: true,
  rescale_factor: 1 / 255,
  do_normalize: true,
  image_mean: [0.485, 0.456, 0.406],
  image_std: [0.229, 0.224, 0.225],
};

function maxAbsDiff(a, b) {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

export async function run({ log }) {
  env.allowRemoteModels = false;
  const photos = readdirSync(IMAGES).filter((name) => /\.(png|jpe?g)$/i.test(name)).sort();
  const paths = photos.map((name) => join(IMAGES, name));
  const rows = [];

  // How close each is to Python: the fixture's hf_vit tensors (PIL-made) for each photo.
  const vitOurs = createHuggingFaceTransform(VIT_CONFIG);
  const vitTheirs = new ViTImageProcessor(VIT_CONFIG);
  let oursDiff = 0;
  let theirsDiff = 0;
  for (const [index, path] of paths.entries()) {
    const reference = parseSafetensors(readFileSync(join(FIXTURES, 'preprocess', photos[index].replace(/\.\w+$/, '.safetensors')))).tensors.hf_vit;
    if (!reference) continue;
    oursDiff = Math.max(oursDiff, maxAbsDiff(vitOurs.apply(await decodeImage(await readFile(path), path)).data, reference.data));
    theirsDiff = Math.max(theirsDiff, maxAbsDiff((await vitTheirs(await RawImage.read(path))).pixel_values.data, reference.data));
  }
  const exactness = `max |diff| vs PIL (hf_vit fixtures): ours ${oursDiff.toExponential(1)}, transformers.js ${theirsDiff.toFixed(2)}`;
  log?.(`  ${exactness}`);

  for (const [label, config, Processor] of [
    ['ViTImageProcessor (224x224 bilinear)', VIT_CONFIG, ViTImageProcessor],
    ['DeiT processor (256 bicubic + crop 224)', DEIT_CONFIG, DeiTImageProcessor],
  ]) {
    const ours = createHuggingFaceTransform(config);
    const theirs = new Processor(config);
    const oursEndToEnd = async () => {
      for (const path of paths) ours.apply(await decodeImage(await readFile(path), path));
    };
    const theirsEndToEnd = async () => {
      for (const path of paths) await theirs(await RawImage.read(path));
    };
    const [mine, baseline] = await interleavedMedians([oursEndToEnd, theirsEndToEnd], { warmup: 3, runs: 21 });
    rows.push({
      name: `preprocess ${paths.length} photos -> 224 (read + decode + transform), ${label}`,
      ours_ms: mine,
      baseline_ms: baseline,
      ratio: mine / baseline,
      target: '<= 0.5',
      note: `baseline: transformers.js ${Processor.name} from the same config object; ${exactness}`,
    });
    log?.(`  ${rows.at(-1).name}: ${mine.toFixed(1)} ms vs ${baseline.toFixed(1)} ms`);

    // The transform alone, from pixels already decoded by each library.
    const oursDecoded = await Promise.all(paths.map(async (path) => decodeImage(await readFile(path), path)));
    const theirsDecoded = await Promise.all(paths.map((path) => RawImage.read(path)));
    const [mineOnly, baselineOnly] = await interleavedMedians(
      [
        async () => {
          for (const image of oursDecoded) ours.apply(image);
        },
        async () => {
          for (const image of theirsDecoded) await theirs(image);
        },
      ],
      { warmup: 3, runs: 21 },
    );
    rows.push({
      name: `preprocess ${paths.length} decoded photos -> 224 (transform only), ${label}`,
      ours_ms: mineOnly,
      baseline_ms: baselineOnly,
      ratio: mineOnly / baselineOnly,
      target: '<= 0.5',
      note: 'pixels decoded beforehand by each library',
    });
    log?.(`  ${rows.at(-1).name}: ${mineOnly.toFixed(1)} ms vs ${baselineOnly.toFixed(1)} ms`);
  }
  return rows;
}
