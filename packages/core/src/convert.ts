import { DTYPES, OUTPUT_NAMES, type Architecture, type BuiltGraph, type Dtype, type OutputName, type StateDict } from './architecture.js';
import { validateCheckpoint } from './checkpoint.js';
import { InvalidArgumentError, UnsupportedError } from './errors.js';

export interface ConvertOptions {
  architecture: Architecture;
  /** Constructor kwargs (timm names). */
  kwargs: Readonly<Record<string, unknown>>;
  stateDict: StateDict;
  /** Outputs to expose. Default ['logits']. */
  outputs?: readonly OutputName[];
  /** Weight precision of the graph. Default 'fp32'. */
  dtype?: Dtype;
  graphName?: string;
}

/** Checks a dtype option: one of DTYPES (default 'fp32'). */
export function resolveDtype(dtype: unknown = 'fp32'): Dtype {
  if (typeof dtype !== 'string' || !(DTYPES as readonly string[]).includes(dtype)) {
    throw new InvalidArgumentError('dtype', `Unknown dtype ${JSON.stringify(dtype)}; choose from ${DTYPES.join(', ')}.`);
  }
  return dtype as Dtype;
}

/** Checks and normalises a requested output list. */
export function resolveOutputs(architecture: Architecture, outputs: readonly string[] = ['logits']): OutputName[] {
  const supported = architecture.supportedOutputs ?? OUTPUT_NAMES;
  if (outputs.length === 0) throw new InvalidArgumentError('outputs', 'Ask for at least one output (logits, pre_logits, features).');
  const seen = new Set<string>();
  for (const output of outputs) {
    if (!supported.includes(output as OutputName)) {
      throw new InvalidArgumentError(
        'outputs',
        `Unknown output '${output}' for architecture '${architecture.id}'; choose from ${supported.join(', ')}.`,
      );
    }
    if (seen.has(output)) throw new InvalidArgumentError('outputs', `Output '${output}' is requested twice.`);
    seen.add(output);
  }
  return outputs as OutputName[];
}

/**
 * The conversion path every architecture goes through: parse the kwargs, adapt the checkpoint
 * (`filterCheckpoint`), check it against the expected keys and shapes, build the graph.
 */
export function convertCheckpoint(options: ConvertOptions): BuiltGraph {
  const { architecture } = options;
  const outputs = resolveOutputs(architecture, options.outputs);
  const dtype = resolveDtype(options.dtype);
  if (dtype !== 'fp32') throw new UnsupportedError(`dtype '${dtype}' is not built yet; only 'fp32' graphs are.`);
  const config = architecture.parseConfig(options.kwargs, { stateDict: options.stateDict });
  const filtered = architecture.filterCheckpoint
    ? architecture.filterCheckpoint(options.stateDict, config)
    : options.stateDict;
  validateCheckpoint(architecture.id, filtered, architecture.checkpointShapes(config));
  return architecture.buildGraph(config, filtered, { outputs, dtype, graphName: options.graphName ?? architecture.id });
}
