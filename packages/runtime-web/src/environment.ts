import * as ort from 'onnxruntime-web';
import { InvalidArgumentError } from '@vitzoo/core';
import { DEFAULT_WASM_PATH } from './files.js';

/**
 * Where onnxruntime-web's WebAssembly files (`ort-wasm-simd-threaded.jsep.wasm` and its `.mjs`
 * loader) are fetched from: a folder URL ending in `/` (relative URLs resolve against the page's
 * base URL, so they stay on the app's own origin), explicit file URLs, or `false` to let
 * onnxruntime-web locate them itself (next to its own script, which bundlers emit as an asset).
 */
export type WasmPaths = string | { wasm?: string; mjs?: string } | false;


export interface WebRuntimeSettings {
  /** Default `DEFAULT_WASM_PATH` ('ort/' next to the page). Never a CDN unless you pass one. */
  wasmPaths?: WasmPaths;
  /**
   * WebAssembly threads. Default: `navigator.hardwareConcurrency` when the page is cross-origin
   * isolated (threads need SharedArrayBuffer), else 1. Values above 1 without isolation are refused.
   */
  numThreads?: number;
}

export interface WebRuntimeEnvironment {
  /** The folder or files the wasm is loaded from, resolved to absolute URLs (or 'onnxruntime-web default'). */
  wasmPaths: string | { wasm?: string; mjs?: string } | 'onnxruntime-web default';
  numThreads: number;
  crossOriginIsolated: boolean;
}

let settings: WebRuntimeSettings = {};
let applied: WebRuntimeEnvironment | null = null;

function baseUrl(): string | undefined {
  if (typeof document !== 'undefined' && document.baseURI) return document.baseURI;
  if (typeof location !== 'undefined') return location.href;
  return undefined;
}

function resolveUrl(value: string): string {
  const base = baseUrl();
  try {
    return base ? new URL(value, base).href : new URL(value).href;
  } catch (error) {
    throw new InvalidArgumentError('wasmPaths', `wasmPaths '${value}' is not a URL or a path relative to the page (${(error as Error).message}).`);
  }
}

function resolveWasmPaths(paths: WasmPaths): WebRuntimeEnvironment['wasmPaths'] {
  if (paths === false) return 'onnxruntime-web default';
  if (typeof paths === 'string') {
    if (!paths.endsWith('/')) {
      throw new InvalidArgumentError('wasmPaths', `wasmPaths '${paths}' must be a folder ending in '/' (or give { wasm, mjs } file URLs).`);
    }
    return resolveUrl(paths);
  }
  const out: { wasm?: string; mjs?: string } = {};
  if (paths.wasm !== undefined) out.wasm = resolveUrl(paths.wasm);
  if (paths.mjs !== undefined) out.mjs = resolveUrl(paths.mjs);
  return out;
}

function isolated(): boolean {
  return (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated === true;
}

function defaultThreads(): number {
  const cores = typeof navigator !== 'undefined' ? navigator.hardwareConcurrency : undefined;
  return isolated() && cores && cores > 1 ? cores : 1;
}

/**
 * Sets where the wasm files come from and how many threads to use. onnxruntime-web reads these
 * once, when its first session is created: call this before, or not at all for the defaults.
 */
export function configureWebRuntime(next: WebRuntimeSettings): void {
  if (applied) {
    throw new InvalidArgumentError(
      'settings',
      'onnxruntime-web is already initialised; call configureWebRuntime() before the first backend init or session.',
    );
  }
  if (next.numThreads !== undefined && (!Number.isSafeInteger(next.numThreads) || next.numThreads < 1)) {
    throw new InvalidArgumentError('numThreads', `numThreads must be a positive integer, got ${next.numThreads}.`);
  }
  if (next.numThreads !== undefined && next.numThreads > 1 && !isolated()) {
    throw new InvalidArgumentError(
      'numThreads',
      `numThreads ${next.numThreads} needs a cross-origin isolated page (serve it with Cross-Origin-Opener-Policy: same-origin ` +
        `and Cross-Origin-Embedder-Policy: require-corp); use 1 thread otherwise.`,
    );
  }
  settings = { ...settings, ...next };
}

/** Applies the settings to `ort.env` (once) and returns what is in effect. */
export function applyWebRuntimeSettings(): WebRuntimeEnvironment {
  if (applied) return applied;
  const wasmPaths = resolveWasmPaths(settings.wasmPaths ?? DEFAULT_WASM_PATH);
  const numThreads = settings.numThreads ?? defaultThreads();
  if (wasmPaths !== 'onnxruntime-web default') ort.env.wasm.wasmPaths = wasmPaths;
  ort.env.wasm.numThreads = numThreads;
  ort.env.wasm.proxy = false;
  applied = { wasmPaths, numThreads, crossOriginIsolated: isolated() };
  return applied;
}

/** The settings in effect, or null before the first backend init. */
export function webRuntimeEnvironment(): WebRuntimeEnvironment | null {
  return applied;
}
