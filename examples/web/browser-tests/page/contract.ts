/**
 * The backend contract, platform-free: what every @vitzoo/runtime backend must do with a session
 * (create from ONNX bytes, run with our tensors, pick outputs, validate feeds with typed errors,
 * honour an aborted signal, dispose). Runs in the page against 'wasm' (and 'webgpu') and in Node
 * against runtime-node, so both runtimes are held to the same behaviour.
 */
import { createTensor, VitzooError, type Tensor } from '@vitzoo/core';
import { GraphBuilder, serializeModel } from '@vitzoo/onnx';
import type { Backend } from '@vitzoo/runtime';

export interface ContractResult {
  name: string;
  passed: boolean;
  detail: string;
}

/** y = 2x + 1 and z = -x on x float32 ['batch', 3]. */
export function contractModel(): Uint8Array {
  const g = new GraphBuilder({ graphName: 'contract' });
  const x = g.input('x', 'float32', ['batch', 3]);
  g.output(g.add(g.mul(x, g.scalar(2)), g.scalar(1)), 'y', 'float32', ['batch', 3]);
  g.output(g.op('Neg', [x]), 'z', 'float32', ['batch', 3]);
  return serializeModel(g.build());
}

function describe(error: unknown): string {
  if (VitzooError.isInstance(error)) return `${error.name} (${error.code}): ${error.message}`;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

/** Expects `action` to reject with a VitzooError of `code` whose message contains `mentions`. */
async function expectTypedError(action: () => Promise<unknown>, code: string, mentions: string): Promise<string> {
  try {
    await action();
  } catch (error) {
    if (!VitzooError.isInstance(error)) throw new Error(`expected a VitzooError '${code}', got ${describe(error)}`);
    if (error.code !== code) throw new Error(`expected code '${code}', got ${describe(error)}`);
    if (!error.message.includes(mentions)) throw new Error(`expected the message to mention '${mentions}', got: ${error.message}`);
    return error.message;
  }
  throw new Error(`expected a '${code}' error, but it succeeded`);
}

function same(actual: Tensor | undefined, dtype: string, shape: readonly number[], values: readonly number[]): string {
  if (!actual) throw new Error('output missing');
  if (actual.dtype !== dtype) throw new Error(`dtype ${actual.dtype}, expected ${dtype}`);
  if (actual.shape.join(',') !== shape.join(',')) throw new Error(`shape [${actual.shape.join(', ')}], expected [${shape.join(', ')}]`);
  const data = Array.from(actual.data as Float32Array);
  if (data.length !== values.length || data.some((v, i) => v !== values[i])) throw new Error(`values [${data.join(', ')}], expected [${values.join(', ')}]`);
  return `${dtype} [${shape.join(', ')}] = [${data.join(', ')}]`;
}

export async function runContract(backend: Backend): Promise<ContractResult[]> {
  const results: ContractResult[] = [];
  const check = async (name: string, body: () => Promise<string>) => {
    try {
      results.push({ name, passed: true, detail: await body() });
    } catch (error) {
      results.push({ name, passed: false, detail: describe(error) });
    }
  };
  await backend.init();
  const session = await backend.createSession(contractModel());
  const x = createTensor('float32', [2, 3], new Float32Array([1, 2, 3, -1, 0, 0.5]));

  await check('session reports its backend and signature', async () => {
    if (session.backend !== backend.name) throw new Error(`session.backend '${session.backend}', expected '${backend.name}'`);
    if (session.inputNames.join() !== 'x') throw new Error(`inputNames ${session.inputNames.join()}`);
    if (session.outputNames.join() !== 'y,z') throw new Error(`outputNames ${session.outputNames.join()}`);
    return `${session.backend}: inputs [${session.inputNames.join(', ')}], outputs [${session.outputNames.join(', ')}]`;
  });
  await check('run computes every output by default', async () => {
    const out = await session.run({ x });
    return `${same(out.y, 'float32', [2, 3], [3, 5, 7, -1, 1, 2])}; ${same(out.z, 'float32', [2, 3], [-1, -2, -3, 1, -0, -0.5])}`;
  });
  await check('run computes only the requested outputs', async () => {
    const out = await session.run({ x }, { outputs: ['z'] });
    if (Object.keys(out).join() !== 'z') throw new Error(`got outputs ${Object.keys(out).join()}`);
    return same(out.z, 'float32', [2, 3], [-1, -2, -3, 1, -0, -0.5]);
  });
  await check('the symbolic batch dimension takes any size', async () => {
    const out = await session.run({ x: createTensor('float32', [1, 3], new Float32Array([4, 5, 6])) });
    return same(out.y, 'float32', [1, 3], [9, 11, 13]);
  });
  await check('a missing input is an invalid-argument error', async () =>
    expectTypedError(() => session.run({}), 'invalid-argument', "Missing input 'x'"));
  await check('an unknown input is an invalid-argument error', async () =>
    expectTypedError(() => session.run({ x, extra: x }), 'invalid-argument', "Unknown input 'extra'"));
  await check('a wrong shape is an invalid-argument error naming the expected shape', async () =>
    expectTypedError(() => session.run({ x: createTensor('float32', [2, 4]) }), 'invalid-argument', '[batch, 3]'));
  await check('a wrong dtype is an invalid-argument error', async () =>
    expectTypedError(() => session.run({ x: createTensor('int32', [2, 3]) }), 'invalid-argument', 'got int32'));
  await check('an unknown output is an invalid-argument error', async () =>
    expectTypedError(() => session.run({ x }, { outputs: ['logits'] }), 'invalid-argument', "Unknown output 'logits'"));
  await check('an aborted signal stops the run', async () => {
    const controller = new AbortController();
    controller.abort();
    try {
      await session.run({ x }, { signal: controller.signal });
    } catch (error) {
      if ((error as Error).name !== 'AbortError') throw new Error(`expected an AbortError, got ${describe(error)}`);
      return `rejected with ${(error as Error).name}`;
    }
    throw new Error('the run was not aborted');
  });
  await check('bytes that are not a model give an inference-failed error', async () =>
    expectTypedError(() => backend.createSession(new Uint8Array([1, 2, 3, 4, 5])), 'inference-failed', `${backend.name} could not load the model`));
  await check('a disposed session refuses to run; dispose is idempotent', async () => {
    await session.dispose();
    await session.dispose();
    return expectTypedError(() => session.run({ x }), 'invalid-argument', 'disposed');
  });
  return results;
}
