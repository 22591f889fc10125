/**
 * @vitzoo/runtime-node/isolated: onnxruntime-node sessions in a child process. A native crash
 * (a segmentation fault inside a kernel) or a hang kills only the child: the run fails with an
 * `InferenceError` whose `signal` names what happened, and the next session starts a new child.
 * For anything that runs graphs it did not make itself or cannot vouch for: `vitzoo verify`,
 * configuration sweeps, kernel probes.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { InferenceError } from '@vitzoo/core';
import { OrtBackendSession, type Backend, type BackendSession, type OrtBinding, type SessionOptions } from '@vitzoo/runtime';
import type { InferenceSession, Tensor as OrtTensor } from 'onnxruntime-node';

/** The child's entry point: plain JavaScript beside this module, in the sources and in the build. */
const HOST_SCRIPT = fileURLToPath(new URL('./session-host.mjs', import.meta.url));

export interface IsolatedBackendOptions {
  /** Backend name (default 'node-isolated'). */
  name?: string;
  priority?: number;
  /** Milliseconds a session creation or run may take before the child is killed (default: no limit). */
  timeoutMs?: number;
  /** Session options used unless a session gives its own. */
  defaults?: SessionOptions;
}

/** A backend whose sessions live in a child process; `close()` ends the child. */
export interface IsolatedBackend extends Backend {
  close(): Promise<void>;
}

interface Pending {
  resolve(value: unknown): void;
  reject(error: Error): void;
  timer: ReturnType<typeof setTimeout> | undefined;
}

/** One child process at a time; a new one is started when the last died. */
class HostProcess {
  private child: ChildProcess | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  /** Increments with every child started: sessions remember the one they live in. */
  generation = 0;
  /** Why the previous child ended, for sessions that outlived it. */
  lastDeath: string | undefined;

  constructor(
    private readonly backend: string,
    private readonly timeoutMs: number | undefined,
  ) {}

  private start(): ChildProcess {
    const child = fork(HOST_SCRIPT, [], { serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.generation += 1;
    child.on('message', (message: { id: number; ok: boolean; result?: unknown; error?: string }) => {
      const waiting = this.pending.get(message.id);
      if (!waiting) return;
      this.settle(message.id);
      if (message.ok) waiting.resolve(message.result);
      else waiting.reject(new Error(message.error));
    });
    child.on('exit', (code, signal) => {
      if (this.child === child) this.child = undefined;
      const reason = signal ?? (code === 0 ? 'exit' : `exit code ${code}`);
      this.lastDeath = reason;
      for (const id of [...this.pending.keys()]) {
        const waiting = this.pending.get(id)!;
        this.settle(id);
        waiting.reject(
          new InferenceError(this.backend, `ONNX Runtime crashed (${reason}) in the isolated session process; nothing else was affected.`, {
            signal: reason,
          }),
        );
      }
    });
    child.on('error', () => {
      // 'exit' follows and rejects what was waiting.
    });
    return child;
  }

  private settle(id: number): void {
    const waiting = this.pending.get(id);
    if (waiting?.timer) clearTimeout(waiting.timer);
    this.pending.delete(id);
    if (this.pending.size === 0) this.idle(true);
  }

  /** An idle child does not keep the parent process alive. */
  private idle(idle: boolean): void {
    const child = this.child;
    if (!child) return;
    const channel = child.channel as { ref?(): void; unref?(): void } | null | undefined;
    if (idle) {
      child.unref();
      channel?.unref?.();
    } else {
      child.ref();
      channel?.ref?.();
    }
  }

  alive(generation: number): boolean {
    return this.child !== undefined && this.generation === generation;
  }

  request<T>(message: Record<string, unknown>, options: { spawn: boolean }): Promise<T> {
    if (!this.child) {
      if (!options.spawn) return Promise.reject(new Error('no process'));
      this.child = this.start();
    }
    const child = this.child;
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      const timer =
        this.timeoutMs === undefined
          ? undefined
          : setTimeout(() => {
              const waiting = this.pending.get(id);
              if (!waiting) return;
              this.settle(id);
              waiting.reject(new InferenceError(this.backend, `ONNX Runtime did not answer within ${this.timeoutMs} ms; its process was killed.`, { signal: 'timeout' }));
              child.kill('SIGKILL');
            }, this.timeoutMs);
      this.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
      this.idle(false);
      child.send({ ...message, id });
    });
  }

  async close(): Promise<void> {
    const child = this.child;
    if (!child) return;
    const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
    this.idle(false); // keep the event loop alive until the child is gone
    child.kill('SIGKILL');
    await exited;
  }
}

/** onnxruntime's Tensor as a plain value that crosses the process boundary. */
class PlainTensor {
  constructor(
    readonly type: OrtTensor.Type,
    readonly data: OrtTensor.DataType,
    readonly dims: readonly number[] = [],
  ) {}
}

interface Created {
  session: number;
  inputNames: string[];
  outputNames: string[];
  inputMetadata: unknown[];
}

/** An onnxruntime InferenceSession look-alike whose work happens in the child. */
function remoteSession(host: HostProcess, created: Created, generation: number, backend: string): InferenceSession {
  const check = () => {
    if (!host.alive(generation)) {
      throw new InferenceError(backend, `The process that held this session ended earlier (${host.lastDeath ?? 'closed'}); create the session again.`, {
        signal: host.lastDeath,
      });
    }
  };
  const session = {
    inputNames: created.inputNames,
    outputNames: created.outputNames,
    inputMetadata: created.inputMetadata,
    async run(feeds: Record<string, PlainTensor>, fetches: string[]) {
      check();
      const plain: Record<string, { type: string; data: unknown; dims: readonly number[] }> = {};
      for (const [name, tensor] of Object.entries(feeds)) plain[name] = { type: tensor.type, data: tensor.data, dims: tensor.dims };
      const { outputs } = await host.request<{ outputs: Record<string, PlainTensor> }>({ type: 'run', session: created.session, feeds: plain, outputs: fetches }, { spawn: false });
      return outputs;
    },
    async release() {
      if (!host.alive(generation)) return;
      await host.request({ type: 'release', session: created.session }, { spawn: false });
    },
  };
  return session as unknown as InferenceSession;
}

/**
 * A backend like `nodeBackend` whose sessions live in a child process (one child, started on the
 * first session and again after a crash). Not registered globally: pass it where isolation is wanted.
 */
export function createIsolatedNodeBackend(options: IsolatedBackendOptions = {}): IsolatedBackend {
  const name = options.name ?? 'node-isolated';
  const host = new HostProcess(name, options.timeoutMs);
  const binding: OrtBinding = {
    InferenceSession: {
      async create(model, sessionOptions) {
        const created = await host.request<Created>({ type: 'create', model, options: sessionOptions }, { spawn: true });
        return remoteSession(host, created, host.generation, name);
      },
    },
    Tensor: PlainTensor as unknown as OrtBinding['Tensor'],
  };
  return {
    name,
    priority: options.priority ?? 10,
    async init() {},
    createSession(model: Uint8Array | string, sessionOptions?: SessionOptions): Promise<BackendSession> {
      return OrtBackendSession.create(name, binding, model, { ...options.defaults, ...sessionOptions });
    },
    close: () => host.close(),
  };
}
