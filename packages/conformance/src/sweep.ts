/**
 * @vitzoo/conformance/sweep: configuration sweeps. Each case is a set of constructor kwargs; the
 * production graph is built from random (fixture-like) weights, run in a crash-isolated process at
 * batch 2 and batch 1, and compared with an independent float64 reference implementation on every
 * output it gives: head outputs from the graph built with them alone (the fused kernels users
 * run), attention maps / intermediates / rollout from a graph built with those.
 */
import {
  convertCheckpoint,
  createTensor,
  graphBytes,
  HEAD_OUTPUT_NAMES,
  InferenceError,
  VitzooError,
  type Architecture,
  type BuiltGraph,
  type StateDict,
  type Tensor,
} from '@vitzoo/core';
import { readModelNodes } from '@vitzoo/onnx';
import type { Backend } from '@vitzoo/runtime';
import { stack, type Array64 } from './reference.js';

/** Deterministic uniform [0, 1) generator (mulberry32). */
export function uniformGenerator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Deterministic standard normal samples (Box-Muller over mulberry32). */
export function normalGenerator(seed: number): () => number {
  const uniform = uniformGenerator(seed);
  return () => Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

/**
 * Random weights for a checkpoint's keys and shapes, scaled like the reference fixtures (so
 * activations stay O(1) and attention is far from uniform): matrices and kernels N(0, 1/fan_in),
 * class/distillation/register tokens N(0, 1), position embeddings N(0, 0.5²), relative-position
 * tables N(0, 1), norm weights 1 + N(0, 0.1²), biases N(0, 0.1²), LayerScale 0.5 + N(0, 0.1²).
 */
export function randomStateDict(shapes: Record<string, readonly number[]>, seed: number): StateDict {
  const next = normalGenerator(seed);
  const out: StateDict = {};
  for (const [key, shape] of Object.entries(shapes)) {
    const size = shape.reduce((a, b) => a * b, 1);
    const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
    const name = key.split('.').pop()!;
    let sample: () => number;
    if (/(^|_)token$/.test(name) || name.endsWith('relative_position_bias_table')) sample = () => next();
    else if (name === 'pos_embed') sample = () => 0.5 * next();
    else if (name === 'gamma' || /^gamma_\d$/.test(name)) sample = () => 0.5 + 0.1 * next();
    else if (name === 'bias') sample = () => 0.1 * next();
    else if (shape.length === 1) sample = () => 1 + 0.1 * next();
    else sample = () => next() / Math.sqrt(fanIn);
    out[key] = createTensor('float32', shape, Float32Array.from({ length: size }, sample));
  }
  return out;
}

/** Reference outputs by graph output name (logits, pre_logits, features, attention.*, intermediates.*, rollout). */
export type ReferenceOutputs = Record<string, Array64>;

/**
 * Collects a reference's outputs image by image (`record(name, value)` once per image, in batch
 * order) and stacks them batch-major (`outputs()`): windowed attention maps recorded as
 * [windows, heads, N, N] per image come out as the graph's [batch·windows, heads, N, N].
 */
export function referenceRecorder(): { record(name: string, value: Array64): void; outputs(): ReferenceOutputs } {
  const perImage: Record<string, Array64[]> = {};
  return {
    record: (name, value) => void (perImage[name] ??= []).push(value),
    outputs: () => Object.fromEntries(Object.entries(perImage).map(([name, values]) => [name, stack(values)])),
  };
}

export interface SweepCase {
  name: string;
  /** Constructor kwargs (the reference's names). */
  kwargs: Record<string, unknown>;
  /** Input [height, width] (default: the config's, from `inputShape`). */
  imageSize?: readonly [number, number];
}

export interface SweepOptions<Config> {
  architecture: Architecture<Config>;
  /** The float64 reference: every output it can give for `pixels` [B, C, H, W]. */
  reference(config: Config, weights: StateDict, pixels: Tensor): ReferenceOutputs;
  /** The input [channels, height, width] of a config (a case's `imageSize` replaces height and width). */
  inputShape(config: Config): readonly [number, number, number];
  /** Where graphs run: an isolated backend, so a native crash fails only its case. */
  backend: Backend;
  /** Extra outputs to check besides the heads (default: every attention map and intermediate, and rollout, that the config has). */
  extras?: boolean;
  /** Max |diff| allowed: heads and intermediates/rollout (default 1e-4), attention (default 1e-5). */
  tolerance?: { heads?: number; attention?: number };
  seed?: number;
}

export interface SweepResult {
  name: string;
  kwargs: Record<string, unknown>;
  passed: boolean;
  /** Largest difference seen per output (over batch 2 and batch 1). */
  maxAbsDiff: Record<string, number>;
  /** What went wrong, one line each (mismatches, errors, crashes). */
  failures: string[];
}

function maxDiff(actual: Tensor, expected: Array64, rows: { start: number; count: number; total: number }): number {
  const perRow = expected.data.length / rows.total;
  const offset = rows.start * perRow;
  const length = rows.count * perRow;
  if (actual.data.length !== length) return Number.POSITIVE_INFINITY;
  let max = 0;
  const values = actual.data as Float32Array;
  for (let i = 0; i < length; i++) {
    const diff = Math.abs(values[i]! - expected.data[offset + i]!);
    if (!(diff <= max)) max = Number.isNaN(diff) ? Number.NaN : diff;
    if (Number.isNaN(max)) break;
  }
  return max;
}

/** Runs one sweep case; never throws (failures are in the result). */
export async function runSweepCase<Config>(testCase: SweepCase, options: SweepOptions<Config>): Promise<SweepResult> {
  const result: SweepResult = { name: testCase.name, kwargs: testCase.kwargs, passed: false, maxAbsDiff: {}, failures: [] };
  try {
    const { architecture } = options;
    const config = architecture.parseConfig(testCase.kwargs);
    const weights = randomStateDict(architecture.checkpointShapes(config), options.seed ?? 7);
    const [channels, configHeight, configWidth] = options.inputShape(config);
    const [height, width] = testCase.imageSize ?? [configHeight, configWidth];
    const next = normalGenerator((options.seed ?? 7) + 1);
    const pixels = createTensor('float32', [2, channels, height, width], Float32Array.from({ length: 2 * channels * height * width }, next));
    const expected = options.reference(config, weights, pixels);
    const heads = (architecture.supportedOutputs ?? HEAD_OUTPUT_NAMES).filter((name) => expected[name] !== undefined);
    const catalog = architecture.outputCatalog?.(config);
    const extras = options.extras === false || !catalog ? [] : Object.keys(expected).filter((name) => !(HEAD_OUTPUT_NAMES as readonly string[]).includes(name));
    const tolerance = (output: string) => (output.startsWith('attention.') ? (options.tolerance?.attention ?? 1e-5) : (options.tolerance?.heads ?? 1e-4));
    // The pooled outputs alone too: graphs may take shortcuts when features are not asked for.
    const pooled = heads.filter((name) => name !== 'features');
    for (const outputs of [heads, ...(pooled.length < heads.length ? [pooled] : []), extras]) {
      if (outputs.length === 0) continue;
      const graph = convertCheckpoint({ architecture, kwargs: testCase.kwargs, stateDict: weights, outputs });
      const session = await options.backend.createSession(graphBytes(graph));
      try {
        const one = createTensor('float32', [1, channels, height, width], (pixels.data as Float32Array).slice(channels * height * width));
        for (const [input, start, count] of [
          [pixels, 0, 2],
          [one, 1, 1],
        ] as const) {
          const actual = await session.run({ pixel_values: input });
          for (const output of outputs) {
            const reference = expected[output]!;
            const got = actual[output];
            const diff = got ? maxDiff(got, reference, { start, count, total: 2 }) : Number.POSITIVE_INFINITY;
            result.maxAbsDiff[output] = Number.isNaN(diff) || Number.isNaN(result.maxAbsDiff[output] ?? 0) ? Number.NaN : Math.max(result.maxAbsDiff[output] ?? 0, diff);
            if (!(diff <= tolerance(output))) {
              result.failures.push(`${output} at batch ${count}: max |diff| ${diff} > ${tolerance(output)}${got ? '' : ' (output missing or mis-shaped)'}`);
            }
          }
        }
      } finally {
        await session.dispose().catch(() => undefined);
      }
    }
  } catch (error) {
    if (InferenceError.isInstance(error) && error.signal) result.failures.push(`crashed (${error.signal}): ${error.message}`);
    else if (VitzooError.isInstance(error)) result.failures.push(`${error.name}: ${error.message}`);
    else result.failures.push(`internal error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  }
  result.passed = result.failures.length === 0;
  return result;
}

/**
 * The modules whose nodes include `opType`, read from the node names of a built graph (vitzoo's
 * naming rule `/<module path>/<Op>`), in graph order without repeats: e.g. which attention modules
 * left the fused kernel (`'Softmax'`).
 */
export function modulesWithOp(graph: BuiltGraph, opType: string): string[] {
  const modules = readModelNodes(graphBytes(graph))
    .filter((node) => node.opType === opType)
    .map((node) => /^\/([^/]+)\//.exec(node.name)?.[1])
    .filter((module): module is string => module !== undefined);
  return [...new Set(modules)];
}

/** Runs every case in order; one failing or crashing case does not stop the others. */
export async function runSweep<Config>(cases: readonly SweepCase[], options: SweepOptions<Config>): Promise<SweepResult[]> {
  const results: SweepResult[] = [];
  for (const testCase of cases) results.push(await runSweepCase(testCase, options));
  return results;
}

/** A readable summary of failed cases (for test messages). */
export function describeFailures(results: readonly SweepResult[]): string {
  return results
    .filter((result) => !result.passed)
    .map((result) => `${result.name} ${JSON.stringify(result.kwargs)}:\n  ${result.failures.join('\n  ')}`)
    .join('\n');
}
