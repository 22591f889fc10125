import { DEFAULT_Q4_BLOCK_SIZE, DTYPES, HEAD_OUTPUT_NAMES, Q4_BLOCK_SIZES, type Architecture, type BuiltGraph, type Dtype, type OutputCatalog, type OutputName, type OutputRequest, type StateDict } from './architecture.js';
import { validateCheckpoint } from './checkpoint.js';
import { InvalidArgumentError, InvalidCheckpointError, UnsupportedError } from './errors.js';
import { nonFiniteCount } from './tensor.js';

export interface ConvertOptions {
  architecture: Architecture;
  /** Constructor kwargs (timm names). */
  kwargs: Readonly<Record<string, unknown>>;
  stateDict: StateDict;
  /** Outputs to expose (names or the groups 'attention', 'intermediates'). Default ['logits']. */
  outputs?: readonly (OutputRequest | string)[];
  /** Weight precision of the graph. Default 'fp32'. */
  dtype?: Dtype;
  /** `q4` graphs: weights per quantization block (16, 32, 64, 128 or 256; default 32); checked, and ignored by other dtypes. */
  q4BlockSize?: number;
  graphName?: string;
  /** Build even when weights hold NaN or ±Inf (refused by default: such a graph gives NaN). */
  allowNonFinite?: boolean;
}

/** Refuses a checkpoint whose float tensors hold NaN or ±Inf, naming the first such tensor. */
export function checkFiniteWeights(architecture: string, stateDict: StateDict): void {
  for (const [key, tensor] of Object.entries(stateDict)) {
    const found = nonFiniteCount(tensor);
    if (!found) continue;
    const parts = [found.nan > 0 ? `${found.nan} NaN` : '', found.infinite > 0 ? `${found.infinite} ±Inf` : ''].filter(Boolean).join(' and ');
    throw new InvalidCheckpointError(
      `for ${architecture}`,
      `tensor '${key}' holds ${parts} value(s) (first at flat index ${found.first}); the model would compute NaN. Retrain or repair the weights, or pass allowNonFinite (CLI: --allow-non-finite) to convert anyway`,
      { tensor: key },
    );
  }
}

/** Checks a dtype option: one of DTYPES (default 'fp32'). */
export function resolveDtype(dtype: unknown = 'fp32'): Dtype {
  if (typeof dtype !== 'string' || !(DTYPES as readonly string[]).includes(dtype)) {
    throw new InvalidArgumentError('dtype', `Unknown dtype ${JSON.stringify(dtype)}; choose from ${DTYPES.join(', ')}.`);
  }
  return dtype as Dtype;
}

/** Checks a q4BlockSize option: one of Q4_BLOCK_SIZES (default 32). */
export function resolveQ4BlockSize(blockSize: unknown = DEFAULT_Q4_BLOCK_SIZE): number {
  if (typeof blockSize !== 'number' || !Q4_BLOCK_SIZES.includes(blockSize)) {
    throw new InvalidArgumentError('q4BlockSize', `q4BlockSize must be one of ${Q4_BLOCK_SIZES.join(', ')} (weights per 4-bit block; default ${DEFAULT_Q4_BLOCK_SIZE}), got ${JSON.stringify(blockSize)}.`);
  }
  return blockSize;
}

/** What an architecture can give for a config, as a sentence (for errors). */
export function describeOutputs(architecture: Architecture, catalog: OutputCatalog): string {
  const parts: string[] = [...(architecture.supportedOutputs ?? HEAD_OUTPUT_NAMES)];
  const range = (names: readonly string[]) => (names.length <= 3 ? names.join(', ') : `${names[0]} … ${names[names.length - 1]}`);
  if (catalog.attention.length > 0) parts.push(`attention (${range(catalog.attention.map((module) => `attention.${module}`))})`);
  if (catalog.intermediates > 0) parts.push(`intermediates (${range(Array.from({ length: catalog.intermediates }, (_, i) => `intermediates.${i}`))})`);
  if (catalog.rollout) parts.push('rollout');
  return parts.join(', ');
}

const NO_EXTRAS: OutputCatalog = { attention: [], intermediates: 0, rollout: false };

/**
 * Checks a requested output list against what the architecture can give for `config` and expands
 * the groups: 'attention' = every attention module, 'intermediates' = every block or stage;
 * `intermediates.-1` is the last (negative indices count from the end, as in timm). The result keeps
 * the requested order (a group's members in forward order) without repeats.
 */
export function resolveOutputs<Config>(architecture: Architecture<Config>, config: Config, outputs: readonly string[] = ['logits']): OutputName[] {
  const heads = architecture.supportedOutputs ?? HEAD_OUTPUT_NAMES;
  const catalog = architecture.outputCatalog?.(config) ?? NO_EXTRAS;
  if (!Array.isArray(outputs) || outputs.length === 0) {
    throw new InvalidArgumentError('outputs', `Ask for at least one output; '${architecture.id}' can give ${describeOutputs(architecture, catalog)}.`);
  }
  const unknown = (output: string, why = '') =>
    new InvalidArgumentError('outputs', `Unknown output '${output}' for architecture '${architecture.id}'${why}; it can give ${describeOutputs(architecture, catalog)}.`);
  const resolved: OutputName[] = [];
  const add = (name: OutputName) => {
    if (!resolved.includes(name)) resolved.push(name);
  };
  for (const output of outputs) {
    if (typeof output !== 'string') throw unknown(String(output));
    if ((heads as readonly string[]).includes(output)) add(output as OutputName);
    else if (output === 'attention') {
      if (catalog.attention.length === 0) throw unknown(output, ' (it has no attention maps to give)');
      for (const module of catalog.attention) add(`attention.${module}`);
    } else if (output === 'intermediates') {
      if (catalog.intermediates === 0) throw unknown(output, ' (it has no intermediates to give)');
      for (let i = 0; i < catalog.intermediates; i++) add(`intermediates.${i}`);
    } else if (output === 'rollout') {
      if (!catalog.rollout) throw unknown(output, ' (rollout is computed for ViT-style class-token models only)');
      add('rollout');
    } else if (output.startsWith('attention.')) {
      if (!catalog.attention.includes(output.slice('attention.'.length))) throw unknown(output);
      add(output as OutputName);
    } else if (/^intermediates\.(0|-?[1-9]\d*)$/.test(output)) {
      // Negative indices count from the end, as timm's forward_intermediates indices do.
      const index = Number(output.slice('intermediates.'.length));
      const resolvedIndex = index < 0 ? catalog.intermediates + index : index;
      if (resolvedIndex < 0 || resolvedIndex >= catalog.intermediates) throw unknown(output);
      add(`intermediates.${resolvedIndex}`);
    } else throw unknown(output);
  }
  return resolved;
}

/**
 * The conversion path every architecture goes through: parse the kwargs, adapt the checkpoint
 * (`filterCheckpoint`), check it against the expected keys and shapes, build the graph.
 */
export function convertCheckpoint(options: ConvertOptions): BuiltGraph {
  const { architecture } = options;
  const dtype = resolveDtype(options.dtype);
  const q4BlockSize = resolveQ4BlockSize(options.q4BlockSize);
  const config = architecture.parseConfig(options.kwargs, { stateDict: options.stateDict });
  const outputs = resolveOutputs(architecture, config, options.outputs);
  const filtered = architecture.filterCheckpoint
    ? architecture.filterCheckpoint(options.stateDict, config)
    : options.stateDict;
  validateCheckpoint(architecture.id, filtered, architecture.checkpointShapes(config));
  if (!options.allowNonFinite) checkFiniteWeights(architecture.id, filtered);
  const graph = architecture.buildGraph(config, filtered, { outputs, dtype, ...(dtype === 'q4' ? { q4BlockSize } : {}), graphName: options.graphName ?? architecture.id });
  if ((graph.dtype ?? 'fp32') !== dtype) {
    // An architecture that builds its graph without @vitzoo/onnx/layers ignores the precision.
    throw new UnsupportedError(
      `Architecture '${architecture.id}' built a ${graph.dtype ?? 'fp32'} graph when dtype '${dtype}' was asked for: it supports ${graph.dtype ?? 'fp32'} only ` +
        '(build its graph with @vitzoo/onnx/layers to get fp16, int8 and q4).',
    );
  }
  return graph;
}
