/**
 * Model soups (Wortsman et al., 2022): the weights of several fine-tunes of one model, averaged.
 * Platform-free: ingredients are sources that give one tensor at a time (an in-memory state dict,
 * a safetensors file read by byte ranges: a Node file handle, a browser `Blob`), so a soup holds
 * one tensor per ingredient and one float64 accumulator at a time, not N models.
 */
import {
  IncompatibleModelsError,
  InvalidArgumentError,
  InvalidSafetensorsError,
  bfloat16ToFloat32,
  elementCount,
  float16ToFloat32,
  formatShape,
  parseSafetensorsHeader,
  safetensorsHeaderLength,
  shapesEqual,
  tensorInfos,
  typedView,
  type DataType,
  type ModelDifference,
  type StateDict,
  type Tensor,
  type TensorInfo,
} from '@vitzoo/core';
import type { ProgressCallback } from './progress.js';

/** What model an ingredient is, when known (from its config): compared across ingredients. */
export interface IngredientModel {
  /** Architecture id, e.g. 'vit'. */
  architecture: string;
  /** The architecture's parsed config (kwargs with defaults filled in); compared field by field. */
  config: unknown;
}

/**
 * One ingredient of a soup: a source of tensors read one at a time. `tensors()` and `read()` may
 * be called many times (a greedy soup reads its ingredients again for every candidate).
 */
export interface SoupIngredient {
  /** Named in reports and errors (a folder, a file, a hub repo). */
  readonly name: string;
  readonly model?: IngredientModel;
  /**
   * True when reading loads the whole state dict into memory (a `.pth` archive has no index to
   * read one tensor from): the soup then reads such ingredients one after another into a
   * float64 accumulator of the whole model, and calls `release()` after each.
   */
  readonly loadsWholeModel?: boolean;
  /** Every tensor's dtype and shape (reads no tensor data from indexed sources). */
  tensors(): Promise<Readonly<Record<string, TensorInfo>>>;
  /** One tensor's data. */
  read(name: string): Promise<Tensor>;
  /** Drops what reading loaded into memory (the next read loads it again). */
  release?(): void;
}

/** Bytes read by range: a file handle, HTTP range requests, a `Blob`. */
export interface ByteSource {
  /** Total size in bytes. */
  readonly size: number;
  /** `length` bytes at `offset` (fewer only at the end of the source). */
  read(offset: number, length: number): Promise<Uint8Array>;
}

/** A `ByteSource` over a `Blob` or `File` (browsers, Node). */
export function blobByteSource(blob: Blob): ByteSource {
  return { size: blob.size, read: async (offset, length) => new Uint8Array(await blob.slice(offset, offset + length).arrayBuffer()) };
}

/** An ingredient held in memory (e.g. a state dict parsed from a fetched file). */
export function stateDictIngredient(name: string, stateDict: StateDict, model?: IngredientModel): SoupIngredient {
  if (typeof stateDict !== 'object' || stateDict === null) throw new InvalidArgumentError('ingredients', `Ingredient ${name} is not a state dict.`);
  const infos = tensorInfos(stateDict);
  return {
    name,
    ...(model ? { model } : {}),
    tensors: async () => infos,
    read: async (tensor) => {
      const found = stateDict[tensor];
      if (!found) throw new InvalidArgumentError('ingredients', `Ingredient ${name} has no tensor '${tensor}'.`);
      return found;
    },
  };
}

/**
 * An ingredient that loads its whole state dict on first use (`load`, e.g. a `.pth` archive
 * through @vitzoo/pytorch) and drops it on `release()`.
 */
export function wholeStateDictIngredient(name: string, load: () => Promise<StateDict>, model?: IngredientModel): SoupIngredient {
  let loaded: Promise<StateDict> | undefined;
  let infos: Record<string, TensorInfo> | undefined;
  const stateDict = () => (loaded ??= load());
  return {
    name,
    ...(model ? { model } : {}),
    loadsWholeModel: true,
    tensors: async () => (infos ??= tensorInfos(await stateDict())),
    read: async (tensor) => {
      const found = (await stateDict())[tensor];
      if (!found) throw new InvalidArgumentError('ingredients', `Ingredient ${name} has no tensor '${tensor}'.`);
      return found;
    },
    release: () => {
      loaded = undefined;
    },
  };
}

/**
 * An ingredient read from a safetensors file one tensor at a time: the header first (checked as
 * `parseSafetensors` checks it), then each tensor's byte range when it is asked for.
 */
export function safetensorsIngredient(name: string, bytes: ByteSource, model?: IngredientModel): SoupIngredient {
  let header: Promise<Record<string, { dtype: DataType; shape: number[]; offset: number; byteLength: number }>> | undefined;
  const readHeader = () =>
    (header ??= (async () => {
      const first = await bytes.read(0, Math.min(8, bytes.size));
      const length = safetensorsHeaderLength(first, bytes.size, name);
      return parseSafetensorsHeader(await bytes.read(8, length), bytes.size, name).entries;
    })());
  return {
    name,
    ...(model ? { model } : {}),
    tensors: async () => {
      const entries = await readHeader();
      const out: Record<string, TensorInfo> = {};
      for (const [key, entry] of Object.entries(entries)) out[key] = { dtype: entry.dtype, shape: entry.shape };
      return out;
    },
    read: async (tensor) => {
      const entry = (await readHeader())[tensor];
      if (!entry) throw new InvalidArgumentError('ingredients', `Ingredient ${name} has no tensor '${tensor}'.`);
      const data = await bytes.read(entry.offset, entry.byteLength);
      if (data.byteLength !== entry.byteLength) {
        throw new InvalidSafetensorsError(name, `tensor '${tensor}' gave ${data.byteLength} of its ${entry.byteLength} bytes (did the file change while it was read?)`);
      }
      return { dtype: entry.dtype, shape: entry.shape, data: typedView(entry.dtype, data, 0, entry.byteLength) };
    },
  };
}

const FLOAT_TYPES: readonly DataType[] = ['float32', 'float64', 'float16', 'bfloat16'];
const isFloat = (dtype: DataType) => FLOAT_TYPES.includes(dtype);

export interface SoupOptions {
  /**
   * Weight of each ingredient, in ingredient order (non-negative, not all zero): the soup is
   * Σ wᵢ·θᵢ / Σ wᵢ. Default: equal weights (the uniform soup, Σ θᵢ / N).
   */
  weights?: readonly number[];
  /** `{ stage: 'soup', loaded, total }`: tensors averaged so far. */
  progress?: ProgressCallback;
  signal?: AbortSignal;
}

/** A checked soup, ready to be computed one tensor at a time (`tensors()`). */
export interface Soup {
  /** Ingredient names, in order (a repeated name gets `#2`, `#3`, …). */
  readonly ingredients: readonly string[];
  /** The weights used (as given, or all 1). */
  readonly weights: readonly number[];
  /** The output's tensors: floating-point ones as float32, others as the ingredients have them. */
  readonly output: Readonly<Record<string, TensorInfo>>;
  /** Output tensor names, sorted (safetensors order). */
  readonly names: readonly string[];
  /**
   * The averaged tensors in `names` order, each computed when asked for: floating-point tensors
   * are accumulated in float64 (fp16 / bf16 widened exactly) and written as float32; other
   * tensors (integer buffers) are the first ingredient's.
   */
  tensors(): AsyncGenerator<[string, Tensor]>;
}

function describeConfigValue(value: unknown): string {
  if (value === undefined) return 'missing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 60 ? `${text.slice(0, 57)}...` : text;
}

function configDifferences(model: string, expected: IngredientModel, actual: IngredientModel): ModelDifference[] {
  if (expected.architecture !== actual.architecture) {
    return [{ model, field: 'architecture', expected: expected.architecture, actual: actual.architecture }];
  }
  const a = (expected.config ?? {}) as Record<string, unknown>;
  const b = (actual.config ?? {}) as Record<string, unknown>;
  const out: ModelDifference[] = [];
  for (const key of [...new Set([...Object.keys(a), ...Object.keys(b)])].sort()) {
    if (JSON.stringify(a[key]) !== JSON.stringify(b[key])) out.push({ model, field: `config.${key}`, expected: describeConfigValue(a[key]), actual: describeConfigValue(b[key]) });
  }
  return out;
}

function uniqueNames(ingredients: readonly SoupIngredient[]): string[] {
  const seen = new Map<string, number>();
  return ingredients.map((ingredient) => {
    const count = (seen.get(ingredient.name) ?? 0) + 1;
    seen.set(ingredient.name, count);
    return count === 1 ? ingredient.name : `${ingredient.name}#${count}`;
  });
}

function checkWeights(weights: readonly number[] | undefined, count: number): number[] {
  if (weights === undefined) return new Array<number>(count).fill(1);
  if (!Array.isArray(weights) || weights.length !== count) {
    throw new InvalidArgumentError('weights', `weights must give one number per ingredient (${count}), got ${Array.isArray(weights) ? weights.length : typeof weights}.`);
  }
  if (!weights.every((w) => typeof w === 'number' && Number.isFinite(w) && w >= 0) || !weights.some((w) => w > 0)) {
    throw new InvalidArgumentError('weights', `weights must be finite, non-negative and not all zero, got [${weights.join(', ')}].`);
  }
  return [...weights];
}

function isIngredient(value: unknown): value is SoupIngredient {
  return typeof value === 'object' && value !== null && typeof (value as SoupIngredient).read === 'function' && typeof (value as SoupIngredient).tensors === 'function';
}

/** State dicts become in-memory ingredients named `#1`, `#2`, …; ingredients stay as they are. */
export function toIngredients(ingredients: readonly (SoupIngredient | StateDict)[]): SoupIngredient[] {
  if (!Array.isArray(ingredients) || ingredients.length === 0) throw new InvalidArgumentError('ingredients', 'A soup needs at least one ingredient.');
  return ingredients.map((ingredient, index) => (isIngredient(ingredient) ? ingredient : stateDictIngredient(`#${index + 1}`, ingredient as StateDict)));
}

/**
 * Checks that the ingredients are one model: the same architecture and config (when they say),
 * the same tensor names and shapes, floating-point tensors where the first has them (fp32, fp16,
 * bf16 mix freely), other tensors of the same dtype. Every difference is listed in one
 * `IncompatibleModelsError`. Returns the soup, computed when its tensors are iterated.
 */
export async function prepareSoup(ingredients: readonly (SoupIngredient | StateDict)[], options: SoupOptions = {}): Promise<Soup> {
  const sources = toIngredients(ingredients);
  const names = uniqueNames(sources);
  const weights = checkWeights(options.weights, sources.length);
  const infos: Readonly<Record<string, TensorInfo>>[] = [];
  for (const source of sources) {
    options.signal?.throwIfAborted();
    infos.push(await source.tensors());
    source.release?.(); // a whole-model source is read again when the soup is computed
  }
  const reference = infos[0]!;
  const referenceModel = sources.find((source) => source.model)?.model;
  const differences: ModelDifference[] = [];
  for (let i = 1; i < sources.length; i += 1) {
    const model = names[i]!;
    const own = sources[i]!.model;
    if (referenceModel && own && own !== referenceModel) differences.push(...configDifferences(model, referenceModel, own));
    const tensors = infos[i]!;
    for (const [key, expected] of Object.entries(reference)) {
      const actual = tensors[key];
      if (!actual) differences.push({ model, field: key, expected: formatShape(expected.shape), actual: 'missing' });
      else if (!shapesEqual(actual.shape, expected.shape)) differences.push({ model, field: key, expected: formatShape(expected.shape), actual: formatShape(actual.shape) });
      else if (isFloat(expected.dtype) !== isFloat(actual.dtype) || (!isFloat(expected.dtype) && expected.dtype !== actual.dtype)) {
        differences.push({ model, field: `${key} dtype`, expected: expected.dtype, actual: actual.dtype });
      }
    }
    for (const [key, actual] of Object.entries(tensors)) {
      if (!(key in reference)) differences.push({ model, field: key, expected: 'missing', actual: formatShape(actual.shape) });
    }
  }
  if (differences.length > 0) throw new IncompatibleModelsError('Cannot average these models into a soup', names[0]!, differences);
  const output: Record<string, TensorInfo> = {};
  for (const [key, info] of Object.entries(reference)) output[key] = { dtype: isFloat(info.dtype) ? 'float32' : info.dtype, shape: [...info.shape] };
  const sorted = Object.keys(output).sort();
  const streaming = !sources.some((source) => source.loadsWholeModel);
  const compute = streaming ? tensorByTensor : ingredientByIngredient;
  return {
    ingredients: names,
    weights,
    output,
    names: sorted,
    tensors: () => compute({ sources, infos, output, names: sorted, weights, options }),
  };
}

let halfTable: Float32Array | undefined;
let bfloatTable: Float32Array | undefined;

/** acc += weight · tensor, in float64 (fp16 / bf16 widened exactly through a 65,536-entry table). */
function accumulate(acc: Float64Array, tensor: Tensor, weight: number): void {
  const count = acc.length;
  let data: ArrayLike<number>;
  if (tensor.dtype === 'float16' || tensor.dtype === 'bfloat16') {
    const table =
      tensor.dtype === 'float16'
        ? (halfTable ??= Float32Array.from({ length: 65536 }, (_, bits) => float16ToFloat32(bits)))
        : (bfloatTable ??= Float32Array.from({ length: 65536 }, (_, bits) => bfloat16ToFloat32(bits)));
    const bits = tensor.data as Uint16Array;
    if (weight === 1) for (let i = 0; i < count; i += 1) acc[i]! += table[bits[i]!]!;
    else for (let i = 0; i < count; i += 1) acc[i]! += weight * table[bits[i]!]!;
    return;
  }
  data = tensor.data as Float32Array | Float64Array;
  if (weight === 1) for (let i = 0; i < count; i += 1) acc[i]! += data[i]!;
  else for (let i = 0; i < count; i += 1) acc[i]! += weight * data[i]!;
}

function checkRead(name: string, key: string, tensor: Tensor, expected: TensorInfo): void {
  if (tensor.dtype !== expected.dtype || !shapesEqual(tensor.shape, expected.shape) || tensor.data.length !== elementCount(expected.shape)) {
    throw new InvalidArgumentError('ingredients', `Ingredient ${name} gave '${key}' as ${tensor.dtype} ${formatShape(tensor.shape)}; its header said ${expected.dtype} ${formatShape(expected.shape)}.`);
  }
}

function finish(acc: Float64Array, total: number, shape: readonly number[]): Tensor<'float32'> {
  const out = new Float32Array(acc.length);
  for (let i = 0; i < acc.length; i += 1) out[i] = acc[i]! / total;
  return { dtype: 'float32', shape, data: out };
}

function copyTensor(tensor: Tensor): Tensor {
  return { dtype: tensor.dtype, shape: [...tensor.shape], data: tensor.data.slice() as Tensor['data'] };
}

/** What computing a checked soup needs: the sources, their tensors' infos, the output's, the order, the weights. */
interface SoupPlan {
  sources: readonly SoupIngredient[];
  infos: readonly Readonly<Record<string, TensorInfo>>[];
  output: Readonly<Record<string, TensorInfo>>;
  names: readonly string[];
  weights: readonly number[];
  options: SoupOptions;
}

/** Indexed sources: each output tensor from one read per ingredient; memory = one tensor's worth. */
async function* tensorByTensor(plan: SoupPlan): AsyncGenerator<[string, Tensor]> {
  const { sources, infos, output, names, weights, options } = plan;
  const total = weights.reduce((a, b) => a + b, 0);
  let scratch = new Float64Array(0); // one accumulator, reused: the largest tensor's size
  let done = 0;
  for (const key of names) {
    options.signal?.throwIfAborted();
    const info = output[key]!;
    if (info.dtype !== 'float32' || !isFloat(infos[0]![key]!.dtype)) {
      const tensor = await sources[0]!.read(key);
      checkRead(sources[0]!.name, key, tensor, infos[0]![key]!);
      yield [key, tensor];
    } else {
      const count = elementCount(info.shape);
      if (scratch.length < count) scratch = new Float64Array(count);
      const acc = scratch.subarray(0, count).fill(0);
      for (let i = 0; i < sources.length; i += 1) {
        if (weights[i] === 0) continue;
        const tensor = await sources[i]!.read(key);
        checkRead(sources[i]!.name, key, tensor, infos[i]![key]!);
        accumulate(acc, tensor, weights[i]!);
      }
      yield [key, finish(acc, total, info.shape)];
    }
    done += 1;
    options.progress?.({ stage: 'soup', loaded: done, total: names.length });
  }
}

/** Whole-model sources: one ingredient at a time into a float64 accumulator of every tensor. */
async function* ingredientByIngredient(plan: SoupPlan): AsyncGenerator<[string, Tensor]> {
  const { sources, infos, output, names, weights, options } = plan;
  const total = weights.reduce((a, b) => a + b, 0);
  const sums = new Map<string, Float64Array>();
  const kept = new Map<string, Tensor>();
  const steps = sources.length * names.length;
  let done = 0;
  for (let i = 0; i < sources.length; i += 1) {
    const source = sources[i]!;
    try {
      for (const key of names) {
        options.signal?.throwIfAborted();
        const floating = output[key]!.dtype === 'float32' && isFloat(infos[0]![key]!.dtype);
        if (floating && weights[i] !== 0) {
          const tensor = await source.read(key);
          checkRead(source.name, key, tensor, infos[i]![key]!);
          let acc = sums.get(key);
          if (!acc) sums.set(key, (acc = new Float64Array(elementCount(output[key]!.shape))));
          accumulate(acc, tensor, weights[i]!);
        } else if (!floating && i === 0) {
          const tensor = await source.read(key);
          checkRead(source.name, key, tensor, infos[0]![key]!);
          kept.set(key, copyTensor(tensor));
        }
        done += 1;
        options.progress?.({ stage: 'soup', loaded: done, total: steps });
      }
    } finally {
      source.release?.();
    }
  }
  for (const key of names) {
    const acc = sums.get(key);
    sums.delete(key);
    yield [key, acc ? finish(acc, total, output[key]!.shape) : kept.get(key) ?? { dtype: 'float32', shape: output[key]!.shape, data: new Float32Array(elementCount(output[key]!.shape)) }];
  }
}

/**
 * The soup of `ingredients` (state dicts or `SoupIngredient`s) as one state dict: every
 * floating-point tensor is Σ wᵢ·θᵢ / Σ wᵢ accumulated in float64 and stored as float32 (uniform
 * weights by default); integer tensors are the first ingredient's. Incompatible ingredients are
 * an `IncompatibleModelsError` listing every difference. To write a large soup without holding
 * it, iterate `prepareSoup(...).tensors()` instead.
 */
export async function soupStateDicts(ingredients: readonly (SoupIngredient | StateDict)[], options: SoupOptions = {}): Promise<StateDict> {
  const soup = await prepareSoup(ingredients, options);
  const out: StateDict = {};
  for await (const [key, tensor] of soup.tensors()) out[key] = tensor;
  return out;
}

export interface GreedySoupOptions {
  /**
   * Scores a model's weights on held-out labelled data, higher is better (e.g. the number of
   * held-out images classified correctly). Called once per ingredient, then once per candidate soup.
   */
  evaluate: (stateDict: StateDict, members: readonly string[]) => Promise<number>;
  /** `{ stage: 'evaluate', loaded, total }`: models scored so far (N ingredients + N - 1 candidates). */
  progress?: ProgressCallback;
  signal?: AbortSignal;
}

export interface GreedySoupStep {
  /** The ingredient tried. */
  ingredient: string;
  /** Held-out score of the soup with it. */
  score: number;
  /** Whether it stayed in (its soup scored at least as well as the best so far). */
  kept: boolean;
}

export interface GreedySoupResult {
  /** Each ingredient's own held-out score, in the order given. */
  ingredients: { name: string; score: number }[];
  /** Ingredient names by held-out score, best first (ties in the order given). */
  order: string[];
  /** The ingredients in the soup, in the order they were added. */
  chosen: string[];
  /** The first ingredient (the best alone), then one step per further ingredient. */
  steps: GreedySoupStep[];
  /** Held-out score of the chosen soup. */
  score: number;
  /** The chosen soup's weights (float32). */
  stateDict: StateDict;
}

/**
 * The greedy soup of Wortsman et al. (2022): ingredients sorted by their held-out score
 * (descending; ties in the order given), start from the best, add each next one when the uniform
 * soup with it scores at least as well as the best so far (the score does not drop).
 */
export async function greedySoup(ingredients: readonly (SoupIngredient | StateDict)[], options: GreedySoupOptions): Promise<GreedySoupResult> {
  if (typeof options?.evaluate !== 'function') throw new InvalidArgumentError('evaluate', 'greedySoup needs an evaluate(stateDict) function that scores weights on held-out data.');
  const sources = toIngredients(ingredients);
  const names = (await prepareSoup(sources, { signal: options.signal })).ingredients; // checks every ingredient first
  const total = sources.length * 2 - 1;
  let evaluated = 0;
  const score = async (members: number[], stateDict: StateDict): Promise<number> => {
    options.signal?.throwIfAborted();
    const value = await options.evaluate(stateDict, members.map((i) => names[i]!));
    if (typeof value !== 'number' || Number.isNaN(value)) throw new InvalidArgumentError('evaluate', `evaluate must return a number (higher is better), got ${String(value)}.`);
    evaluated += 1;
    options.progress?.({ stage: 'evaluate', loaded: evaluated, total });
    return value;
  };
  const soupOf = (members: number[]) => soupStateDicts(members.map((i) => sources[i]!), { signal: options.signal });
  const scores: number[] = [];
  for (let i = 0; i < sources.length; i += 1) scores.push(await score([i], await soupOf([i])));
  const order = scores.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
  const chosen = [order[0]!];
  let best = scores[order[0]!]!;
  let bestStateDict = await soupOf(chosen);
  const steps: GreedySoupStep[] = [{ ingredient: names[order[0]!]!, score: best, kept: true }];
  for (const next of order.slice(1)) {
    const candidate = [...chosen, next];
    const stateDict = await soupOf(candidate);
    const value = await score(candidate, stateDict);
    const kept = value >= best;
    steps.push({ ingredient: names[next]!, score: value, kept });
    if (kept) {
      chosen.push(next);
      best = value;
      bestStateDict = stateDict;
    }
  }
  return {
    ingredients: names.map((name, i) => ({ name, score: scores[i]! })),
    order: order.map((i) => names[i]!),
    chosen: chosen.map((i) => names[i]!),
    steps,
    score: best,
    stateDict: bestStateDict,
  };
}
