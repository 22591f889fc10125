import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { Option } from 'commander';
import { readdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { HEAD_OUTPUT_NAMES, InvalidArgumentError, UnsupportedError } from '@vitzoo/core';
import { createNodeFileSource, loadGraph } from '@vitzoo/pipeline/node';
import { JSON_FORMAT_VERSION } from '../exit.js';
import { resolveWeightsArgument } from '../model-dir.js';
import { checkOutputPath, writeFileAtomic, type CommandInput } from '../write-file.js';
import { addBuildOptions, buildOptions, type BuildFlags } from '../build-options.js';

/** What convert may read: the folder's config.json and checkpoint files, and `--weights`. */
async function convertInputs(dir: string, weights: string | undefined): Promise<CommandInput[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return [
    { path: join(dir, 'config.json'), what: 'config.json' },
    ...names.filter((name) => /\.(safetensors|pth|pt|bin)$/i.test(name)).map((name) => ({ path: join(dir, name), what: 'weights file' })),
    ...(weights === undefined ? [] : [{ path: weights, what: 'weights file' }]),
  ];
}

/** `--outputs a,b`: output names or the groups 'attention' / 'intermediates' (checked against the architecture when converting). */
function parseOutputs(value: string): string[] {
  const outputs = value.split(',').map((s) => s.trim()).filter(Boolean);
  if (outputs.length === 0) throw new InvalidArgumentError('outputs', `--outputs needs at least one name (${HEAD_OUTPUT_NAMES.join(', ')}, attention, intermediates, rollout, …).`);
  return outputs;
}

export function registerConvert(program: Command, context: CommandContext): void {
  addBuildOptions(program.command('convert'))
    .description('build the ONNX graph of a model folder (fixture case or timm hub layout)')
    .argument('<model-dir>', 'folder with config.json and model.safetensors')
    .requiredOption('-o, --output <file>', 'where to write the .onnx file (written atomically)')
    .addOption(
      new Option('--outputs <names>', `graph outputs, comma-separated: ${HEAD_OUTPUT_NAMES.join(', ')}, attention (every attention map) or attention.<module>, rollout, intermediates or intermediates.<i>`).default('logits'),
    )
    .option('--allow-non-finite', 'build even when the weights hold NaN or ±Inf (refused by default)')
    .option('--weights <file>', 'weights file to use instead of model.safetensors; relative to the working directory, else to the model folder')
    .option('--json', 'print a JSON summary')
    .action(async (dir: string, options: BuildFlags & { output: string; outputs: string; weights?: string; json?: boolean; allowNonFinite?: boolean }) => {
      const outputs = parseOutputs(options.outputs);
      const precision = buildOptions(options);
      const registry = await context.registry();
      const modelDir = resolve(context.io.cwd, dir);
      const weights = options.weights === undefined ? undefined : resolveWeightsArgument(options.weights, context.io.cwd, modelDir);
      // Refused before any work: an output that would replace our own input, or that is not a regular file.
      const outputPath = resolve(context.io.cwd, options.output);
      const inputs = await convertInputs(modelDir, weights);
      await checkOutputPath(outputPath, inputs);
      const started = performance.now();
      // The one loader (@vitzoo/pipeline), stopped before the session: the graph it would run.
      const loaded = await loadGraph(modelDir, {
        registry,
        fileSource: createNodeFileSource({ cwd: context.io.cwd }),
        outputs,
        ...precision,
        graphCache: false,
        ...(options.allowNonFinite ? { allowNonFinite: true } : {}),
        ...(weights !== undefined ? { weights } : {}),
      });
      const graph = loaded.graph;
      if (typeof graph === 'string' || graph instanceof Uint8Array) throw new UnsupportedError(`${dir} is already an ONNX model (transformers.js layout): there is nothing to convert.`);
      const architecture = loaded.architecture ?? '';
      const bytes = await writeFileAtomic(outputPath, graph.chunks(), inputs);
      const seconds = (performance.now() - started) / 1000;
      const summary = {
        version: JSON_FORMAT_VERSION,
        output: outputPath,
        bytes,
        architecture,
        dtype: loaded.dtype,
        inputs: graph.inputs,
        outputs: graph.outputs,
        seconds: Number(seconds.toFixed(3)),
      };
      if (options.json) context.io.stdout(`${JSON.stringify(summary)}\n`);
      else {
        context.io.stdout(`wrote ${outputPath} (${(bytes / 1e6).toFixed(1)} MB, ${architecture}, ${loaded.dtype}) in ${seconds.toFixed(2)} s\n`);
        for (const o of graph.outputs) context.io.stdout(`  output ${o.name} [${o.shape.join(', ')}]\n`);
      }
    });

}
