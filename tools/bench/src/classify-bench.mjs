// End-to-end classification of a photo with DeiT-tiny/16 @224: vitzoo (read + decode + timm
// preprocessing + ONNX Runtime + float64 softmax top-5) vs the transformers.js image-classification
// pipeline on the SAME ONNX model (our converted graph, written to a temporary folder in the
// transformers.js layout), same onnxruntime-node, same thread settings. No network: the pipeline
// loads the local folder only. Run `pnpm build` first.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { convertCheckpoint, createDefaultRegistry, graphBytes, parseSafetensors } from 'vitzoo';
import { createModel, readImageFile } from '@vitzoo/pipeline/node';
import { nodeBackend } from '@vitzoo/runtime-node';
import { env, pipeline } from '@huggingface/transformers';
import { DEIT_CONFIG } from './preprocess-bench.mjs';
import { interleavedMedians } from './timing.mjs';

const PERF_DIR = process.env.VITZOO_PERF_DIR ?? fileURLToPath(new URL('../../../../shared/perf/deit_tiny_patch16_224/', import.meta.url));
const PHOTOS = ['chelsea.png', 'rocket.jpg'].map((name) => fileURLToPath(new URL(`../../../fixtures/images/${name}`, import.meta.url)));

/** facebook/deit-tiny-patch16-224's preprocessor_config.json (what a transformers.js user of this model gets). */
const PREPROCESSOR_CONFIG = { image_processor_type: 'DeiTImageProcessor', ...DEIT_CONFIG };

export async function run({ log }) {
  if (!existsSync(join(PERF_DIR, 'model.safetensors'))) {
    return [{ name: 'classify deit_tiny_patch16_224 end to end', note: `skipped: ${PERF_DIR} not found (set VITZOO_PERF_DIR)` }];
  }
  const registry = createDefaultRegistry();
  const resolved = registry.resolve('deit_tiny_patch16_224');
  const config = JSON.parse(readFileSync(join(PERF_DIR, 'config.json'), 'utf8'));
  const stateDict = parseSafetensors(readFileSync(join(PERF_DIR, 'model.safetensors'))).tensors;
  const graph = convertCheckpoint({ architecture: resolved.architecture, kwargs: config.kwargs, stateDict });
  const bytes = graphBytes(graph);

  // The same ONNX model in the transformers.js layout: <root>/<name>/{config.json, preprocessor_config.json, onnx/model.onnx}.
  const root = mkdtempSync(join(tmpdir(), 'vitzoo-bench-tjs-'));
  const name = 'deit-tiny-vitzoo';
  mkdirSync(join(root, name, 'onnx'), { recursive: true });
  writeFileSync(join(root, name, 'onnx', 'model.onnx'), bytes);
  const id2label = Object.fromEntries(resolved.pretrained.labelNames?.map((label, index) => [String(index), label]) ?? []);
  const { IMAGENET_1K_LABELS } = await import('@vitzoo/pipeline');
  IMAGENET_1K_LABELS.forEach((label, index) => (id2label[String(index)] ??= label));
  writeFileSync(
    join(root, name, 'config.json'),
    JSON.stringify({ model_type: 'vit', architectures: ['ViTForImageClassification'], id2label, label2id: {}, image_size: 224, num_channels: 3 }),
  );
  writeFileSync(join(root, name, 'preprocessor_config.json'), JSON.stringify(PREPROCESSOR_CONFIG));
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = root;
  env.useFSCache = false;

  const rows = [];
  try {
    for (const threads of [1, 2]) {
      const sessionOptions = { intraOpNumThreads: threads, interOpNumThreads: 1 };
      const model = await createModel({ graph: bytes, backend: nodeBackend, pretrained: resolved.pretrained, sessionOptions });
      const classifier = await pipeline('image-classification', name, { dtype: 'fp32', device: 'cpu', session_options: { ...sessionOptions } });
      try {
        for (const photo of PHOTOS) {
          const ours = async () => (await model.classify(await readImageFile(photo), { topK: 5 }))[0];
          const theirs = () => classifier(photo, { top_k: 5 });
          const [ourTop, theirTop] = [await ours(), await theirs()];
          const [mine, baseline] = await interleavedMedians([ours, theirs], { warmup: 3, runs: 21 });
          const photoName = photo.split('/').at(-1);
          rows.push({
            name: `classify ${photoName} end to end, deit_tiny_patch16_224, ${threads} thread(s)`,
            ours_ms: mine,
            baseline_ms: baseline,
            ratio: mine / baseline,
            target: '<= 0.7',
            note:
              `baseline: transformers.js image-classification pipeline, same ONNX and threads (its DeiT preprocessing: 256x256 + crop 224; ours: timm's ` +
              `${resolved.pretrained.interpolation} shortest side ${Math.floor(224 / resolved.pretrained.cropPct)} + crop 224); top-1 ours ${ourTop[0].index} vs theirs ${theirTop[0].label}`,
          });
          log?.(`  ${rows.at(-1).name}: ${mine.toFixed(1)} ms vs ${baseline.toFixed(1)} ms (ratio ${(mine / baseline).toFixed(3)})`);
        }
      } finally {
        await model.dispose();
        await classifier.dispose?.();
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return rows;
}
