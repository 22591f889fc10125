import { IncompatibleModelsError, InvalidArgumentError, InvalidSafetensorsError, createTensor, float32ToFloat16, serializeSafetensors, type StateDict, type Tensor } from '@vitzoo/core';
import { describe, expect, it } from 'vitest';
import {
  blobByteSource,
  greedySoup,
  prepareSoup,
  safetensorsIngredient,
  soupStateDicts,
  stateDictIngredient,
  wholeStateDictIngredient,
  type ByteSource,
} from './soup.js';

/** bfloat16 bits of a float32 value that bf16 holds exactly (its low 16 bits are zero). */
function bfloat16Bits(value: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, value);
  const bits = view.getUint32(0);
  expect(bits & 0xffff).toBe(0);
  return bits >>> 16;
}

const f32 = (shape: number[], values: number[]) => createTensor('float32', shape, Float32Array.from(values));

function model(seed: number): StateDict {
  // Values chosen so each is exact in fp16 and bf16 too: small integers over powers of two.
  const values = (count: number, offset: number) => Array.from({ length: count }, (_, i) => ((seed * 7 + i * 3 + offset) % 11) / 8 - 0.5);
  return {
    'blocks.0.weight': f32([2, 3], values(6, 0)),
    'blocks.0.bias': f32([3], values(3, 5)),
    'head.weight': f32([1, 2], values(2, 9)),
    steps: createTensor('int64', [1], BigInt64Array.of(BigInt(100 + seed))),
  };
}

describe('soupStateDicts', () => {
  it('uniform soup: the float64 mean of every float tensor, stored float32; integer buffers from the first ingredient', async () => {
    const ingredients = [model(1), model(2), model(3)];
    const soup = await soupStateDicts(ingredients);
    for (const key of ['blocks.0.weight', 'blocks.0.bias', 'head.weight']) {
      const out = soup[key]!;
      expect(out.dtype).toBe('float32');
      expect(out.shape).toEqual(ingredients[0]![key]!.shape);
      const expected = Array.from(out.data as Float32Array, (_, i) => Math.fround(ingredients.reduce((sum, m) => sum + (m[key]!.data as Float32Array)[i]!, 0) / 3));
      expect(Array.from(out.data as Float32Array)).toEqual(expected);
    }
    expect(soup.steps!.dtype).toBe('int64');
    expect(Array.from(soup.steps!.data as BigInt64Array)).toEqual([101n]);
  });

  it('accumulates in float64: the mean of values float32 cannot sum exactly', async () => {
    // 1 + 2^-24 is not a float32 sum of 1 and 2^-24 (it rounds to 1); in float64 the mean of [1, 2^-23] is 0.5 + 2^-24, which float32 keeps.
    const a = { w: f32([1], [1]) };
    const b = { w: f32([1], [2 ** -23]) };
    const soup = await soupStateDicts([a, b]);
    expect((soup.w!.data as Float32Array)[0]).toBe(Math.fround(0.5 + 2 ** -24));
    expect(Math.fround(Math.fround(1 + 2 ** -23) / 2)).toBe(Math.fround(0.5 + 2 ** -24)); // sanity: representable
  });

  it('fp16 and bf16 ingredients are widened exactly and mixed with fp32; the soup is float32', async () => {
    const values = [0.5, -1.25, 3, 0.0625];
    const other = [1.5, 0.25, -2, 8];
    const third = [-0.75, 4, 0.125, 1];
    const half: StateDict = { w: createTensor('float16', [4], Uint16Array.from(values, (v) => float32ToFloat16(v))) };
    const brain: StateDict = { w: createTensor('bfloat16', [4], Uint16Array.from(other, bfloat16Bits)) };
    const single: StateDict = { w: f32([4], third) };
    const soup = await soupStateDicts([half, brain, single]);
    expect(soup.w!.dtype).toBe('float32');
    expect(Array.from(soup.w!.data as Float32Array)).toEqual(values.map((v, i) => Math.fround((v + other[i]! + third[i]!) / 3)));
  });

  it('weights: Σ wᵢθᵢ / Σ wᵢ; zero weights skip an ingredient; bad weights are refused', async () => {
    const a = { w: f32([2], [1, 2]) };
    const b = { w: f32([2], [3, 6]) };
    const c = { w: f32([2], [100, 100]) };
    const soup = await soupStateDicts([a, b, c], { weights: [3, 1, 0] });
    expect(Array.from(soup.w!.data as Float32Array)).toEqual([Math.fround((3 * 1 + 3) / 4), Math.fround((3 * 2 + 6) / 4)]);
    for (const weights of [[1, 2], [1, -1, 1], [0, 0, 0], [1, Number.NaN, 1]]) {
      await expect(soupStateDicts([a, b, c], { weights })).rejects.toSatisfy((error: unknown) => InvalidArgumentError.isInstance(error) && /weights/.test((error as Error).message));
    }
    await expect(soupStateDicts([])).rejects.toSatisfy(InvalidArgumentError.isInstance);
  });

  it('reads indexed ingredients one tensor at a time, and whole-model ones one ingredient at a time, with the same result', async () => {
    const models = [model(4), model(5), model(6)];
    const reference = await soupStateDicts(models);
    const logs: string[][] = [];
    const logged = (bytes: Uint8Array): ByteSource => {
      const log: string[] = [];
      logs.push(log);
      const blob = blobByteSource(new Blob([bytes as BlobPart]));
      return { size: blob.size, read: async (offset, length) => (log.push(`${offset}+${length}`), blob.read(offset, length)) };
    };
    const files = models.map((m, i) => safetensorsIngredient(`m${i}`, logged(serializeSafetensors(m))));
    const soup = await prepareSoup(files);
    expect(logs.every((log) => log.length === 2)).toBe(true); // the length and the header, no tensor data yet
    const order: string[] = [];
    const streamed: StateDict = {};
    for await (const [name, tensor] of soup.tensors()) {
      order.push(name);
      streamed[name] = tensor;
      // tensor by tensor: every ingredient has read exactly the tensors handed out so far (the int64 buffer from the first only)
      expect(logs[1]!.length).toBe(2 + order.filter((n) => n !== 'steps').length);
    }
    expect(order).toEqual(['blocks.0.bias', 'blocks.0.weight', 'head.weight', 'steps']);
    expect(streamed).toEqual(reference);
    let loads = 0;
    let live = 0;
    let peak = 0;
    const whole = models.map((m, i) =>
      Object.assign(
        wholeStateDictIngredient(`w${i}`, async () => {
          loads += 1;
          peak = Math.max(peak, ++live);
          return m;
        }),
      ),
    );
    for (const ingredient of whole) {
      const release = ingredient.release!;
      (ingredient as { release: () => void }).release = () => {
        live -= 1;
        release();
      };
    }
    expect(await soupStateDicts(whole)).toEqual(reference);
    expect(peak).toBe(1); // never two whole models at once
    expect(loads).toBe(6); // once to check the shapes, once to average
  });

  it('refuses incompatible ingredients with one typed error listing every difference', async () => {
    const a = model(1);
    const missing = { ...model(2) };
    delete missing['head.weight'];
    const extra = { ...model(3), 'head.extra': f32([1], [0]) };
    const reshaped = { ...model(4), 'blocks.0.bias': f32([1, 3], [0, 0, 0]) };
    const retyped = { ...model(5), steps: f32([1], [0]) };
    let error: unknown;
    try {
      await soupStateDicts([stateDictIngredient('a', a), stateDictIngredient('b', missing), stateDictIngredient('c', extra), stateDictIngredient('d', reshaped), stateDictIngredient('e', retyped)]);
    } catch (caught) {
      error = caught;
    }
    expect(IncompatibleModelsError.isInstance(error)).toBe(true);
    const { differences, reference, message } = error as IncompatibleModelsError;
    expect(reference).toBe('a');
    expect(differences).toEqual([
      { model: 'b', field: 'head.weight', expected: '[1, 2]', actual: 'missing' },
      { model: 'c', field: 'head.extra', expected: 'missing', actual: '[1]' },
      { model: 'd', field: 'blocks.0.bias', expected: '[3]', actual: '[1, 3]' },
      { model: 'e', field: 'steps dtype', expected: 'int64', actual: 'float32' },
    ]);
    expect(message).toContain('b: head.weight is missing, a has [1, 2]');
  });

  it('refuses ingredients whose configs differ, naming the fields', async () => {
    const a = stateDictIngredient('a', model(1), { architecture: 'vit', config: { depth: 4, embedDim: 64 } });
    const b = stateDictIngredient('b', model(2), { architecture: 'vit', config: { depth: 6, embedDim: 64 } });
    const c = stateDictIngredient('c', model(3), { architecture: 'deit', config: { depth: 4, embedDim: 64 } });
    const error = await soupStateDicts([a, b, c]).catch((caught: unknown) => caught);
    expect(IncompatibleModelsError.isInstance(error)).toBe(true);
    expect((error as IncompatibleModelsError).differences).toEqual([
      { model: 'b', field: 'config.depth', expected: '4', actual: '6' },
      { model: 'c', field: 'architecture', expected: 'vit', actual: 'deit' },
    ]);
  });

  it('a truncated or lying safetensors ingredient is an InvalidSafetensorsError naming it', async () => {
    const bytes = serializeSafetensors(model(1));
    const truncated = safetensorsIngredient('cut.safetensors', blobByteSource(new Blob([bytes.subarray(0, bytes.byteLength - 4) as BlobPart])));
    await expect(soupStateDicts([truncated])).rejects.toSatisfy((error: unknown) => InvalidSafetensorsError.isInstance(error) && /cut\.safetensors/.test((error as Error).message));
    // The header promised more than the source gives when read (a file changed underneath).
    const source = blobByteSource(new Blob([bytes as BlobPart]));
    const shrinking = safetensorsIngredient('changed.safetensors', { size: source.size, read: async (offset, length) => (offset === 0 || offset === 8 ? source.read(offset, length) : (await source.read(offset, length)).subarray(1)) });
    await expect(soupStateDicts([shrinking])).rejects.toSatisfy((error: unknown) => InvalidSafetensorsError.isInstance(error) && /changed/.test((error as Error).message));
  });
});

describe('greedySoup', () => {
  // Ingredients are points on a line; the "held-out score" of weights is how close w is to a target, in steps of 1/8.
  const point = (value: number): StateDict => ({ w: f32([1], [value]) });
  const scoreNear = (target: number) => async (stateDict: StateDict) => 100 - Math.round(Math.abs((stateDict.w!.data as Float32Array)[0]! - target) * 8);

  it('sorts by score (ties in the order given), starts from the best, keeps an ingredient when the score does not drop', async () => {
    // target 1: scores a=92 (w=0), b=100 (w=1), c=92 (w=2), d=84 (w=3)
    // start b (100); + a → mean 0.5 → 96 dropped; + c → mean 1.5 → 96 dropped; + d → mean 2 → 92 dropped
    const ingredients = [point(0), point(1), point(2), point(3)].map((sd, i) => stateDictIngredient('abcd'[i]!, sd));
    const progress: number[] = [];
    const result = await greedySoup(ingredients, { evaluate: scoreNear(1), progress: (event) => progress.push(event.loaded!) });
    expect(result.ingredients).toEqual([
      { name: 'a', score: 92 },
      { name: 'b', score: 100 },
      { name: 'c', score: 92 },
      { name: 'd', score: 84 },
    ]);
    expect(result.order).toEqual(['b', 'a', 'c', 'd']);
    expect(result.chosen).toEqual(['b']);
    expect(result.steps.map((s) => [s.ingredient, s.score, s.kept])).toEqual([['b', 100, true], ['a', 96, false], ['c', 96, false], ['d', 92, false]]);
    expect(progress).toEqual([1, 2, 3, 4, 5, 6, 7]);
  });

  it('an equal score keeps the ingredient, and the soup is the uniform mean of those kept', async () => {
    // target 1: a (w=1) 100; b (w=1) 100 → kept (equal); c (w=1.125) 99 → soup mean 1.0417 scores 100 → kept; d (w=5) dropped
    const ingredients = [point(1), point(1), point(1.125), point(5)].map((sd, i) => stateDictIngredient('abcd'[i]!, sd));
    const result = await greedySoup(ingredients, { evaluate: scoreNear(1) });
    expect(result.order).toEqual(['a', 'b', 'c', 'd']);
    expect(result.chosen).toEqual(['a', 'b', 'c']);
    expect(result.score).toBe(100);
    expect((result.stateDict.w!.data as Float32Array)[0]).toBe(Math.fround((1 + 1 + 1.125) / 3));
  });

  it('checks every ingredient before scoring any, and needs an evaluate function returning numbers', async () => {
    let calls = 0;
    const evaluate = async () => (calls++, 1);
    await expect(greedySoup([point(1), { v: f32([1], [0]) }], { evaluate })).rejects.toSatisfy(IncompatibleModelsError.isInstance);
    expect(calls).toBe(0);
    await expect(greedySoup([point(1)], {} as never)).rejects.toSatisfy(InvalidArgumentError.isInstance);
    await expect(greedySoup([point(1)], { evaluate: async () => Number.NaN })).rejects.toSatisfy(InvalidArgumentError.isInstance);
  });
});

describe('tensor plumbing', () => {
  it('an ingredient that hands out another shape than its header said is refused', async () => {
    const liar = { ...stateDictIngredient('liar', { w: f32([2], [1, 2]) }), read: async (): Promise<Tensor> => f32([3], [1, 2, 3]) };
    await expect(soupStateDicts([liar])).rejects.toSatisfy((error: unknown) => InvalidArgumentError.isInstance(error) && /liar/.test((error as Error).message));
  });
});
