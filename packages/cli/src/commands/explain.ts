import type { Command } from 'commander';
import type { CommandContext } from '../context.js';
import { mkdir, stat } from 'node:fs/promises';
import { basename, extname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { FileAccessError, InvalidArgumentError } from '@vitzoo/core';
import { EXPLAIN_METHODS, readImageFileBatches, resolveBackend, type ExplainMethod, type HeatGrid } from '@vitzoo/pipeline/node';
import { encodePng, overlayHeatmap } from '@vitzoo/preprocess/node';
import '@vitzoo/runtime-node'; // registers the 'node' backend
import { EXIT, JSON_FORMAT_VERSION } from '../exit.js';
import { expandImageArguments } from '../image-arguments.js';
import { addBuildOptions, buildOptions, type BuildFlags } from '../build-options.js';
import { addModelSourceOptions, createModelLoader, type ModelSourceFlags } from '../model-loading.js';
import { DEFAULT_MODEL } from '../model-dir.js';
import { positiveInteger } from '../option-values.js';
import { writeFileAtomic } from '../write-file.js';

interface ExplainCommandOptions extends ModelSourceFlags, BuildFlags {
  model?: string;
  method: string;
  output?: string;
  opacity: string;
  backend: string;
  batchSize: string;
  maxPixels?: string;
}

/** `photo.jpg` → `photo.heatmap.png`. */
function heatmapName(image: string): string {
  const name = basename(image);
  return `${name.slice(0, name.length - extname(name).length) || name}.heatmap.png`;
}

/** About 6 significant digits: enough for a map in [0, 1], short in JSON. */
function rounded(value: number): number {
  return Number(value.toPrecision(6));
}

function gridJson(grid: HeatGrid): { width: number; height: number; data: number[] } {
  return { width: grid.width, height: grid.height, data: Array.from(grid.data, rounded) };
}

/**
 * Where each image's heat map goes (absolute paths), decided and checked before any work: one image
 * and `-o x.png` → that file; otherwise `-o` is a folder (created when new) or, without `-o`, the
 * working directory, holding `<basename>.heatmap.png`. Two images with one basename, an output that
 * is one of the input images (also through a link) or that is not a regular file are refused.
 */
async function planOutputs(images: readonly string[], output: string | undefined, cwd: string): Promise<{ paths: string[]; createFolder?: string }> {
  const target = output === undefined ? cwd : resolve(cwd, output);
  const info = await stat(target).catch(() => null);
  const folderNamed = output === undefined || info?.isDirectory() === true || output.endsWith('/') || output.endsWith(sep);
  let paths: string[];
  let createFolder: string | undefined;
  if (images.length === 1 && !folderNamed) {
    if (extname(target).toLowerCase() !== '.png') {
      throw new InvalidArgumentError('--output', `-o ${output} names neither a folder nor a .png file: explain writes PNG images; name a .png file (one image) or a folder.`);
    }
    paths = [target];
  } else {
    if (info && !info.isDirectory()) {
      throw new InvalidArgumentError('--output', `-o ${output} is a file, but ${images.length} images give ${images.length} heat maps: name a folder (it is created when new).`);
    }
    if (!info) createFolder = target;
    paths = images.map((image) => join(target, heatmapName(image)));
    const seen = new Map<string, string>();
    for (const [index, path] of paths.entries()) {
      const other = seen.get(path);
      if (other !== undefined) {
        throw new InvalidArgumentError('images', `${other} and ${images[index]} would both be written to ${path}: explain them in separate runs (or rename one).`);
      }
      seen.set(path, images[index]!);
    }
  }
  // Never replace an input image: compare the outputs that exist with every input (by inode, so links count).
  const inputs = new Map<string, string>();
  for (const image of images) {
    const input = await stat(resolve(cwd, image)).catch(() => null);
    if (input) inputs.set(`${input.dev}:${input.ino}`, image);
  }
  for (const path of paths) {
    const existing = await stat(path).catch(() => null);
    const image = existing ? inputs.get(`${existing.dev}:${existing.ino}`) : undefined;
    if (image !== undefined) throw new InvalidArgumentError('--output', `Refusing to write ${path}: it is the image ${image} this command reads; name another output.`);
  }
  return { paths, ...(createFolder !== undefined ? { createFolder } : {}) };
}

function shown(path: string, cwd: string): string {
  const relativePath = relative(cwd, path);
  return relativePath && !relativePath.startsWith('..') && !isAbsolute(relativePath) ? relativePath : path;
}

export function registerExplain(program: Command, context: CommandContext): void {
  const command = addBuildOptions(program.command('explain'))
    .description("write each image with a heat map of what the model looked at blended over it (PNG): attention rollout (ViT, DeiT) or the first principal component of the last block's features (Swin, CaiT, CSWin, FDViT)")
    .argument('<images...>', 'image files (JPEG, PNG, WebP, GIF, TIFF, AVIF) or folders of them')
    .option(
      '-m, --model <name>',
      `a registry name, a hub repo org/repo[@revision] (timm layout), a URL of a .safetensors/.pth file (with --arch), a model folder or a bundled model name (default ${DEFAULT_MODEL})`,
    )
    .option('--method <method>', `${EXPLAIN_METHODS.join(', ')}: rollout (class-token models), pca (any architecture), auto (rollout when the model has it, else pca)`, 'auto')
    .option('-o, --output <path>', 'one image: the .png to write (or a folder); several: a folder (created when new); default: <image name>.heatmap.png in the working directory')
    .option('--opacity <p>', 'how much of the heat map colour is blended over the image, 0 to 1', '0.5')
    .option(
      '--json',
      `one JSON line per image: {"version": ${JSON_FORMAT_VERSION}, "image", "output", "method", "width", "height", "grid": {"width", "height", "data"}, "predictions": [{"index", "label", "score"}]}`,
    )
    .option('--backend <name>', 'runtime backend', 'node')
    .option('--batch-size <n>', 'images per inference call', '32')
    .option('--max-pixels <n>', 'refuse images with more pixels than this (decompression bombs); default 89478485, as PIL; also the most decoded pixels held at once');
  addModelSourceOptions(command, { graphCache: true }).action(async (imageArguments: string[], options: ExplainCommandOptions) => {
    const { io } = context;
    if (!(EXPLAIN_METHODS as readonly string[]).includes(options.method)) {
      throw new InvalidArgumentError('--method', `--method must be one of ${EXPLAIN_METHODS.join(', ')}, got '${options.method}'.`);
    }
    const method = options.method as ExplainMethod;
    const opacity = options.opacity.trim() === '' ? Number.NaN : Number(options.opacity);
    if (!(opacity >= 0 && opacity <= 1)) throw new InvalidArgumentError('--opacity', `--opacity must be a number from 0 to 1, got '${options.opacity}'.`);
    if (options.model?.trim() === '') throw new InvalidArgumentError('--model', '--model needs a value: a registry name, org/repo, a URL or a folder (leave the option out for the default model).');
    const batchSize = positiveInteger(options.batchSize, '--batch-size');
    const maxPixels = options.maxPixels === undefined ? undefined : positiveInteger(options.maxPixels, '--max-pixels');
    const precision = buildOptions(options);
    const images = await expandImageArguments(imageArguments, io.cwd);
    const plan = await planOutputs(images, options.output, io.cwd);

    const registry = await context.registry();
    const loader = createModelLoader(context, registry, options);
    const backend = await resolveBackend([options.backend]);
    // `explain`: the loader adds the outputs the method reads, decided from the model's config and its
    // architecture's catalogue before building (a method it cannot do is refused then): the graph is built once.
    const model = await loader.load(options.model, { backend, batchSize, ...precision, explain: method });
    try {
      const transform = model.transform;
      let failed = 0;
      let folderReady = plan.createFolder === undefined;
      const batches = readImageFileBatches(images, {
        cwd: io.cwd,
        batchSize,
        maxPixels: maxPixels ?? transform.maxPixels,
        check: (image, path) => void transform.geometry(image, path), // images the transform cannot use fail here, named
      });
      let index = 0;
      for await (const batch of batches) {
        const good = batch.files.filter((entry) => entry.image !== undefined);
        const heatmaps = good.length > 0 ? await model.explain(good.map((entry) => entry.image!), { method, classify: { topK: 1 } }) : [];
        let next = 0;
        for (const entry of batch.files) {
          const output = plan.paths[index++]!;
          if (entry.error) {
            failed++;
            if (options.json) io.stdout(`${JSON.stringify({ version: JSON_FORMAT_VERSION, image: entry.path, error: entry.error.toJSON() })}\n`);
            io.stderr(`error: ${entry.error.message}\n`);
            continue;
          }
          const heat = heatmaps[next++]!;
          const png = await encodePng(overlayHeatmap(entry.image!, heat, { opacity }));
          if (!folderReady) {
            await mkdir(plan.createFolder!, { recursive: true }).catch((error: unknown) => {
              throw FileAccessError.from(error, 'write', { path: plan.createFolder!, hint: 'Choose an output folder you can write.' });
            });
            folderReady = true;
          }
          await writeFileAtomic(output, [png], [{ path: resolve(io.cwd, entry.path), what: 'image' }]);
          const predictions = heat.predictions ?? [];
          if (options.json) {
            io.stdout(
              `${JSON.stringify({ version: JSON_FORMAT_VERSION, image: entry.path, output, method: heat.method, width: heat.width, height: heat.height, grid: gridJson(heat.grid), predictions })}\n`,
            );
          } else {
            const top = predictions[0] ? `; top class ${predictions[0].label} ${(predictions[0].score * 100).toFixed(2)}%` : '';
            io.stdout(`${entry.path} -> ${shown(output, io.cwd)} (${heat.method}${top})\n`);
          }
        }
      }
      if (failed > 0) {
        if (!options.json) io.stderr(`${failed} of ${images.length} image(s) could not be explained.\n`);
        context.exit.code = EXIT.failure;
      }
    } finally {
      await model.dispose();
    }
  });
}
