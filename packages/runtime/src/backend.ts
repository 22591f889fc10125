import type { InferenceSession } from 'onnxruntime-common';
import { BackendUnavailableError, InvalidArgumentError, type BackendAttempt, type Tensor } from '@vitzoo/core';

export interface SessionOptions {
  /** Execution providers in preference order, passed to ONNX Runtime as given (e.g. ['cuda', 'cpu']). */
  executionProviders?: InferenceSession.SessionOptions['executionProviders'];
  intraOpNumThreads?: number;
  interOpNumThreads?: number;
  graphOptimizationLevel?: InferenceSession.SessionOptions['graphOptimizationLevel'];
  /** Any other ONNX Runtime session option, passed through. */
  extra?: InferenceSession.SessionOptions;
}

export interface RunOptions {
  /** Outputs to compute (default: all). */
  outputs?: readonly string[];
  signal?: AbortSignal;
}

export interface SessionSignature {
  inputNames: readonly string[];
  outputNames: readonly string[];
}

export interface BackendSession extends SessionSignature {
  readonly backend: string;
  run(feeds: Readonly<Record<string, Tensor>>, options?: RunOptions): Promise<Record<string, Tensor>>;
  dispose(): Promise<void>;
}

/** A runtime backend (onnxruntime-node, onnxruntime-web wasm/webgpu, …). */
export interface Backend {
  readonly name: string;
  /** Higher is preferred when no backend is named. */
  readonly priority: number;
  /** Initialises the backend; rejects with the reason it is unavailable. Called once. */
  init(): Promise<void>;
  createSession(model: Uint8Array | string, options?: SessionOptions): Promise<BackendSession>;
}

interface Registration {
  backend: Backend;
  initialised?: Promise<void>;
}

const backends = new Map<string, Registration>();

/** Registers a backend by name; re-registering a name replaces it only with a higher priority. */
export function registerBackend(backend: Backend): void {
  const existing = backends.get(backend.name);
  if (existing && existing.backend !== backend && existing.backend.priority >= backend.priority) return;
  backends.set(backend.name, { backend });
}

export function registeredBackends(): string[] {
  return [...backends.values()].sort((a, b) => b.backend.priority - a.backend.priority).map((r) => r.backend.name);
}

/**
 * The first of `names` (default: every registered backend by priority) that initialises. Each is
 * initialised at most once; when none works the error lists every attempt and its reason.
 */
export async function resolveBackend(names?: readonly string[]): Promise<Backend> {
  const candidates = names ?? registeredBackends();
  const attempts: BackendAttempt[] = [];
  for (const name of candidates) {
    const registration = backends.get(name);
    if (!registration) {
      attempts.push({ backend: name, reason: `not registered (registered: ${registeredBackends().join(', ') || 'none'})` });
      continue;
    }
    registration.initialised ??= registration.backend.init();
    try {
      await registration.initialised;
      return registration.backend;
    } catch (error) {
      attempts.push({ backend: name, reason: error instanceof Error ? error.message : String(error) });
    }
  }
  throw new BackendUnavailableError(attempts);
}

export interface ResolvedBackend {
  backend: Backend;
  /** Backends tried before `backend` and why each was unavailable (empty when the first choice worked). */
  attempts: BackendAttempt[];
  /** One line for users: why the preferred backend is not the one in use, or undefined. */
  fallbackReason?: string;
}

/**
 * The first of `names` (default: every registered backend by priority) that initialises, with the
 * reasons the ones before it were skipped. Rejects with `BackendUnavailableError` listing every
 * attempt when none works.
 */
export async function resolveBackendChoice(names: readonly string[] = registeredBackends()): Promise<ResolvedBackend> {
  const attempts: BackendAttempt[] = [];
  for (const name of names) {
    try {
      const backend = await resolveBackend([name]);
      const result: ResolvedBackend = { backend, attempts };
      if (attempts.length > 0) result.fallbackReason = attempts.map((a) => `${a.backend}: ${a.reason}`).join('; ');
      return result;
    } catch (error) {
      if (!BackendUnavailableError.isInstance(error)) throw error;
      attempts.push(...(error as BackendUnavailableError).attempts);
    }
  }
  throw new BackendUnavailableError(attempts);
}

export function checkThreads(value: number | undefined, name: string): void {
  if (value !== undefined && (!Number.isSafeInteger(value) || value < 0)) {
    throw new InvalidArgumentError(name, `${name} must be a non-negative integer (0 = ONNX Runtime's default), got ${value}.`);
  }
}
