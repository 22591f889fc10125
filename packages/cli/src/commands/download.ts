import type { Command } from 'commander';
import { resolveModelSource } from '@vitzoo/hub/node';
import type { CommandContext } from '../context.js';
import { JSON_FORMAT_VERSION } from '../exit.js';
import { addBuildOptions, buildOptions, type BuildFlags } from '../build-options.js';
import { addModelSourceOptions, createModelLoader } from '../model-loading.js';
import { createProgressBars, sourceOptions, type ModelSourceFlags } from '../model-sources.js';

export function registerDownload(program: Command, context: CommandContext): void {
  const command = program
    .command('download')
    .description('fetch a model into the cache: a registry name (vit_tiny_patch16_224.augreg_in21k_ft_in1k), org/repo[@revision], hf-hub:org/repo or a URL')
    .argument('<model>', 'registry name, hub repo, or URL of a .safetensors/.pth/.onnx file')
    .option('--quantized', 'ONNX repos: take onnx/model_quantized.onnx instead of onnx/model.onnx')
    .option('--build', 'also build the graph into the graph cache (at --dtype, --q4-block-size, --image-size, with --outputs), so classify and serve with the same flags start without converting')
    .option('--outputs <names>', '--build: graph outputs, comma-separated (as classify and serve ask for them)', 'logits')
    .option('--json', 'print a JSON summary');
  // Where models come from: the flags every command that fetches models takes (--revision, --offline, …).
  addModelSourceOptions(addBuildOptions(command)).action(async (model: string, options: ModelSourceFlags & BuildFlags & { build?: boolean; outputs: string }) => {
    const { io } = context;
    const registry = await context.registry();
    const build = buildOptions(options); // checked before anything is fetched
    const bars = createProgressBars(io, { ...options, model });
    const started = performance.now();
    let resolved;
    try {
      resolved = await resolveModelSource(model, { ...sourceOptions(options, io.cwd), registry, ...(bars.progress ? { progress: bars.progress } : {}) });
    } finally {
      bars.stop();
    }
    // The graph exactly as classify / serve would build it (the one loader, the same cache key).
    const graph = options.build
      ? await createModelLoader(context, registry, { ...options, graphCache: true }).graph(model, { ...build, outputs: options.outputs.split(',').map((name) => name.trim()).filter(Boolean) })
      : undefined;
    const built = graph && { status: graph.status, dtype: graph.dtype, outputs: graph.outputs, ...(graph.architecture ? { architecture: graph.architecture } : {}) };
    const seconds = (performance.now() - started) / 1000;
    if (options.json) {
      io.stdout(`${JSON.stringify({ version: JSON_FORMAT_VERSION, ...resolved, ...(built ? { graph: built } : {}), seconds: Number(seconds.toFixed(3)) })}\n`);
    } else {
      io.stdout(`${resolved.name ?? resolved.source} (${resolved.layout} layout${resolved.revision ? `, revision ${resolved.revision}` : ''}) in ${resolved.dir}\n`);
      for (const file of resolved.files) io.stdout(`  ${file}${file === resolved.modelFile ? '  (model)' : ''}\n`);
      if (built) io.stdout(`  graph: ${built.status === 'cached' ? 'already in the graph cache' : built.status === 'onnx' ? 'an ONNX model, runs as it is' : 'built into the graph cache'} (${built.dtype}; ${built.outputs.join(', ')})\n`);
    }
  });
}
