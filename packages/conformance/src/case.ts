import { readdir, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import {
  graphBytes,
  InferenceError,
  sliceRows,
  InvalidArgumentError,
  InvalidConfigError,
  maxAbsDifference,
  resolveDtype,
  topOneAgreement,
  HEAD_OUTPUT_NAMES,
  parseSafetensors,
  VitzooError,
  type Dtype,
  type OutputName,
  type Registry,
  type StateDict,
  type Tensor,
} from '@vitzoo/core';
import { checkpointGraph } from '@vitzoo/pipeline';
import { nodeBackend } from '@vitzoo/runtime-node';
import type { Backend } from '@vitzoo/runtime';
import { logitsBound, PRECISION_BOUNDS } from './precision.js';
import { loadWeights, readRequiredFile } from './weights.js';

/** A model case in the fixture format (config.json, model.safetensors, io.safetensors). */
export interface ModelCase {
  name: string;
  dir: string;
  architecture: string;
  kwargs: Record<string, unknown>;
  tolerance: number;
  config: Record<string, unknown>;
}

export interface OutputComparison {
  output: OutputName;
  /** Batch size of the run: the whole stored batch, or 1 for a sample run alone. */
  batch: number;
  /** For batch-1 runs: which stored sample. */
  sample?: number;
  maxAbsDiff: number;
  /** The bound this comparison was held to. */
  tolerance: number;
  /** Lower-precision runs: samples whose top-1 class equals the reference's, and whether that is required. */
  topOne?: { equal: number; total: number; required: boolean };
  passed: boolean;
}

/** 'crashed': the runtime died natively (in its isolated process) while building or running the case. */
export type CaseStatus = 'pass' | 'fail' | 'not-implemented' | 'error' | 'crashed';

export interface CaseReport {
  case: string;
  dir: string;
  architecture: string | null;
  status: CaseStatus;
  /** Precision of the graph that was built. */
  dtype: Dtype;
  tolerance: number;
  comparisons: OutputComparison[];
  error?: Record<string, unknown>;
  /** For 'crashed': the signal (SIGSEGV, SIGABRT, …) or 'timeout'. */
  signal?: string;
}

export const DEFAULT_TOLERANCE = 1e-4;

/** Reads a case's config.json and checks the fields the runner needs. */
export async function readModelCase(dir: string): Promise<ModelCase> {
  const configPath = join(dir, 'config.json');
  const text = new TextDecoder().decode(await readRequiredFile(configPath, 'Case config'));
  let config: Record<string, unknown>;
  try {
    config = JSON.parse(text) as Record<string, unknown>;
  } catch (error) {
    throw new InvalidConfigError('config.json', text.slice(0, 40), `valid JSON (${(error as Error).message})`, configPath);
  }
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new InvalidConfigError('config.json', config, 'a JSON object', configPath);
  }
  if (typeof config.architecture !== 'string') {
    throw new InvalidConfigError('architecture', config.architecture, 'an architecture id such as "vit"', configPath);
  }
  const kwargs = config.kwargs ?? {};
  if (typeof kwargs !== 'object' || kwargs === null || Array.isArray(kwargs)) {
    throw new InvalidConfigError('kwargs', kwargs, 'an object of constructor keyword arguments', configPath);
  }
  const tolerance = (config.tolerance as Record<string, unknown> | undefined)?.logits_max_abs_diff;
  return {
    name: basename(resolve(dir)),
    dir,
    architecture: config.architecture,
    kwargs: kwargs as Record<string, unknown>,
    tolerance: typeof tolerance === 'number' ? tolerance : DEFAULT_TOLERANCE,
    config,
  };
}

/** The first `count` samples starting at `start` along axis 0 (core's `sliceRows`). */
export const sliceBatch = sliceRows;

export interface VerifyOptions {
  registry: Registry;
  /** Weights file to use instead of the case's model.safetensors. */
  weights?: string;
  /**
   * Where to run the graph. Default: the in-process onnxruntime-node backend. Pass an isolated
   * backend (`createIsolatedNodeBackend` of @vitzoo/runtime-node/isolated) to survive native
   * crashes: the case is then reported 'crashed' with the signal.
   */
  backend?: Backend;
  /** Also run each sample alone (batch 1). Default true. */
  singleSamples?: boolean;
  /** Also check `extras.safetensors` (attention maps, rollout, intermediates) when the case has it. Default true (fp32 only). */
  extras?: boolean;
  /**
   * Precision of the graph (default 'fp32'). Lower precisions are checked on the logits only,
   * against PRECISION_BOUNDS (max |diff|, and top-1 where required).
   */
  dtype?: Dtype;
}

/** Tolerances of a case's extras (config.json → extras.tolerance), by output kind. */
function extrasTolerance(config: Record<string, unknown>, output: string): number {
  const tolerance = ((config.extras as Record<string, unknown> | undefined)?.tolerance ?? {}) as Record<string, unknown>;
  const kind = output.startsWith('attention.') ? 'attention' : output.startsWith('intermediates.') ? 'intermediates' : output;
  const value = tolerance[`${kind}_max_abs_diff`];
  return typeof value === 'number' ? value : kind === 'attention' ? 1e-5 : DEFAULT_TOLERANCE;
}

/** A graph to build and the stored tensors its outputs must match. */
interface CaseRun {
  outputs: string[];
  expected: Record<string, Tensor>;
  tolerance(output: string): number;
}

/**
 * Builds the case's architecture from its kwargs and weights, runs its stored `pixel_values`, and
 * compares every stored output the architecture can produce (whole batch, then each sample alone):
 * first the head outputs (`io.safetensors`) from the graph built with them alone, then, when the
 * case has `extras.safetensors`, its attention maps, rollout and intermediates from a graph built
 * with those. Errors become a report with status 'error' ('not-implemented' for an unregistered
 * architecture, 'crashed' when the runtime's process died); they are never thrown.
 */
export async function verifyCase(dir: string, options: VerifyOptions): Promise<CaseReport> {
  const report: CaseReport = { case: basename(resolve(dir)), dir, architecture: null, status: 'error', dtype: 'fp32', tolerance: DEFAULT_TOLERANCE, comparisons: [] };
  try {
    const dtype = resolveDtype(options.dtype);
    report.dtype = dtype;
    const bound = dtype === 'fp32' ? undefined : PRECISION_BOUNDS[dtype];
    const modelCase = await readModelCase(dir);
    report.architecture = modelCase.architecture;
    report.tolerance = modelCase.tolerance;
    if (!options.registry.has(modelCase.architecture)) {
      report.status = 'not-implemented';
      report.error = { code: 'unknown-architecture', message: `Architecture '${modelCase.architecture}' is not implemented (not registered).` };
      return report;
    }
    const architecture = options.registry.architecture(modelCase.architecture);
    const stateDict: StateDict = await loadWeights(options.weights ?? join(dir, 'model.safetensors'));
    const ioPath = join(dir, 'io.safetensors');
    const io = parseSafetensors(await readRequiredFile(ioPath, 'Case inputs/outputs'), { source: ioPath }).tensors;
    const input = io.pixel_values;
    if (!input) throw new InvalidArgumentError('io', `${ioPath} has no 'pixel_values' tensor.`);
    const supported = architecture.supportedOutputs ?? HEAD_OUTPUT_NAMES;
    const heads = HEAD_OUTPUT_NAMES.filter((name) => io[name] !== undefined && supported.includes(name));
    if (heads.length === 0) throw new InvalidArgumentError('io', `${ioPath} stores none of the outputs ${supported.join(', ')}.`);
    if (bound && !heads.includes('logits')) throw new InvalidArgumentError('io', `${ioPath} stores no logits, which --dtype ${dtype} is checked on.`);
    const logitsTolerance = bound ? logitsBound(dtype as Exclude<Dtype, 'fp32'>, io.logits!) : undefined;
    if (logitsTolerance !== undefined) report.tolerance = logitsTolerance;
    const runs: CaseRun[] = logitsTolerance !== undefined
      ? [{ outputs: ['logits'], expected: io, tolerance: () => logitsTolerance }]
      : [{ outputs: heads, expected: io, tolerance: () => modelCase.tolerance }];
    const extrasPath = join(dir, 'extras.safetensors');
    if (!bound && (options.extras ?? true) && (await stat(extrasPath).catch(() => null))?.isFile()) {
      const extras = parseSafetensors(await readRequiredFile(extrasPath, 'Case extras'), { source: extrasPath }).tensors;
      const names = Object.keys(extras).sort(compareOutputNames);
      if (names.length > 0) runs.push({ outputs: names, expected: extras, tolerance: (output) => extrasTolerance(modelCase.config, output) });
    }
    const backend = options.backend ?? nodeBackend;
    const batch = input.shape[0] ?? 0;
    for (const run of runs) {
      // The loader's conversion step (@vitzoo/pipeline), as every other path builds graphs.
      const { graph } = await checkpointGraph({ architecture, kwargs: modelCase.kwargs, stateDict: () => stateDict, outputs: run.outputs, dtype, source: dir });
      const session = await backend.createSession(typeof graph === 'string' || graph instanceof Uint8Array ? graph : graphBytes(graph));
      try {
        const compare = (result: Record<string, Tensor>, start: number, count: number, single: boolean) => {
          for (const output of run.outputs) {
            const expected = sliceBatch(run.expected[output]!, start * (run.expected[output]!.shape[0]! / batch), count * (run.expected[output]!.shape[0]! / batch));
            const diff = maxAbsDifference(result[output]!, expected);
            const tolerance = run.tolerance(output);
            const topOne = bound && output === 'logits' ? { ...topOneAgreement(result[output]!, expected), required: bound.topOneEqual } : undefined;
            const passed = diff <= tolerance && (!topOne?.required || topOne.equal === topOne.total);
            report.comparisons.push({ output: output as OutputName, batch: count, ...(single ? { sample: start } : {}), maxAbsDiff: diff, tolerance, ...(topOne ? { topOne } : {}), passed });
          }
        };
        compare(await session.run({ pixel_values: input }), 0, batch, false);
        if (options.singleSamples ?? true) {
          for (let i = 0; i < batch && batch > 1; i++) compare(await session.run({ pixel_values: sliceBatch(input, i, 1) }), i, 1, true);
        }
      } finally {
        await session.dispose();
      }
    }
    report.status = report.comparisons.every((c) => c.passed) ? 'pass' : 'fail';
  } catch (error) {
    const signal = InferenceError.isInstance(error) ? error.signal : undefined;
    report.status = signal === undefined ? 'error' : 'crashed';
    if (signal !== undefined) report.signal = signal;
    report.error = VitzooError.isInstance(error)
      ? error.toJSON()
      : { code: 'internal', message: error instanceof Error ? error.message : String(error) };
  }
  return report;
}

/** Output names in a stable order: numbered parts compared as numbers (blocks.2 before blocks.10). */
function compareOutputNames(a: string, b: string): number {
  return a.localeCompare(b, 'en', { numeric: true });
}

/** Case folders below `dir` (a folder holding config.json is itself a case). */
export async function findCases(dir: string): Promise<string[]> {
  const entries = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') throw new InvalidArgumentError('path', `No such folder: ${dir}.`);
    throw error;
  });
  if (entries.includes('config.json')) return [dir];
  const cases: string[] = [];
  for (const entry of entries.sort()) {
    const path = join(dir, entry);
    if ((await stat(path)).isDirectory() && (await readdir(path)).includes('config.json')) cases.push(path);
  }
  return cases;
}
