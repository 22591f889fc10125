/**
 * The test page's API (window.vitzooHarness), driven from Node by playwright-core. Everything runs
 * in the page: fixtures are fetched from the test server, graphs are built by the architecture
 * packages in the browser, and onnxruntime-web runs them.
 */
import {
  convertCheckpoint,
  graphBytes,
  maxAbsDifference,
  OUTPUT_NAMES,
  parseSafetensors,
  VitzooError,
  type OutputName,
  type Tensor,
} from '@vitzoo/core';
import { createModel, describeModelConfig, labelledImages, trainHead } from '@vitzoo/pipeline';
import { createTransform, loadImage } from '@vitzoo/preprocess/browser';
import { registeredBackends, resolveBackend } from '@vitzoo/runtime';
import { configureWebRuntime, resolveWebBackend, webGpuUnavailableReason, webRuntimeEnvironment } from '@vitzoo/runtime-web';
import { createDefaultRegistry } from 'vitzoo';
import { runContract } from './contract.js';
import { kernelProbes } from './kernels.js';
import { sweepSample } from './sweep.js';
import { caseAtPrecision, digitsAtPrecision } from './precision.js';

const parameters = new URLSearchParams(location.search);
const wasmPathsParameter = parameters.get('wasmPaths');
if (wasmPathsParameter !== null) configureWebRuntime({ wasmPaths: wasmPathsParameter });

const registry = createDefaultRegistry();

function errorInfo(error: unknown): Record<string, unknown> {
  if (VitzooError.isInstance(error)) return { ...error.toJSON(), isVitzooError: true };
  return { name: (error as Error)?.name, message: error instanceof Error ? error.message : String(error), isVitzooError: false };
}

async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

function slice(tensor: Tensor, start: number, count: number): Tensor {
  const rows = tensor.shape[0]!;
  const perRow = tensor.data.length / rows;
  return { dtype: tensor.dtype, shape: [count, ...tensor.shape.slice(1)], data: tensor.data.subarray(start * perRow, (start + count) * perRow) as Tensor['data'] };
}

export interface CaseComparison {
  output: string;
  batch: number;
  sample?: number;
  maxAbsDiff: number;
}

async function environment() {
  return {
    crossOriginIsolated,
    hardwareConcurrency: navigator.hardwareConcurrency,
    userAgent: navigator.userAgent,
    webGpuUnavailableReason: await webGpuUnavailableReason(),
    registeredBackends: registeredBackends(),
  };
}

async function contract(backendName: string) {
  const backend = await resolveBackend([backendName]);
  const results = await runContract(backend);
  return { results, environment: webRuntimeEnvironment() };
}

async function resolve(names: string[]) {
  try {
    const resolved = await resolveWebBackend(names);
    return { backend: resolved.backend.name, attempts: resolved.attempts, fallbackReason: resolved.fallbackReason ?? null, environment: webRuntimeEnvironment() };
  } catch (error) {
    return { error: errorInfo(error) };
  }
}

/** Builds a fixture case in the page and compares every stored output at the stored batch and at batch 1. */
async function verifyCase(caseName: string, backendName: string, singleSamples = true) {
  try {
    const base = `/fixtures/models/${caseName}/`;
    const started = performance.now();
    const [configBytes, weights, ioBytes] = await Promise.all([fetchBytes(`${base}config.json`), fetchBytes(`${base}model.safetensors`), fetchBytes(`${base}io.safetensors`)]);
    const config = JSON.parse(new TextDecoder().decode(configBytes)) as { architecture: string; kwargs?: Record<string, unknown>; tolerance?: { logits_max_abs_diff?: number } };
    const fetched = performance.now();
    const architecture = registry.architecture(config.architecture);
    const io = parseSafetensors(ioBytes).tensors;
    const supported = architecture.supportedOutputs ?? OUTPUT_NAMES;
    const outputs = OUTPUT_NAMES.filter((name) => io[name] !== undefined && supported.includes(name));
    const graph = convertCheckpoint({ architecture, kwargs: config.kwargs ?? {}, stateDict: parseSafetensors(weights).tensors, outputs });
    const bytes = graphBytes(graph);
    const built = performance.now();
    const backend = await resolveBackend([backendName]);
    const session = await backend.createSession(bytes, parameters.has('verbose') ? { extra: { logSeverityLevel: 0, logVerbosityLevel: 0 } } : {});
    const created = performance.now();
    const comparisons: CaseComparison[] = [];
    const input = io.pixel_values!;
    const batch = input.shape[0]!;
    let runMs = 0;
    try {
      const compare = async (start: number, count: number, single: boolean) => {
        const t = performance.now();
        const result = await session.run({ pixel_values: count === batch ? input : slice(input, start, count) });
        runMs += performance.now() - t;
        for (const output of outputs) {
          comparisons.push({ output, batch: count, ...(single ? { sample: start } : {}), maxAbsDiff: maxAbsDifference(result[output]!, slice(io[output]!, start, count)) });
        }
      };
      await compare(0, batch, false);
      if (singleSamples) for (let i = 0; i < batch && batch > 1; i++) await compare(i, 1, true);
    } finally {
      await session.dispose();
    }
    return {
      case: caseName,
      architecture: config.architecture,
      tolerance: config.tolerance?.logits_max_abs_diff ?? 1e-4,
      comparisons,
      graphBytes: bytes.byteLength,
      timings: { fetchMs: fetched - started, buildMs: built - fetched, sessionMs: created - built, runMs },
    };
  } catch (error) {
    return { case: caseName, error: errorInfo(error) };
  }
}

/**
 * Decodes a fixture image with @vitzoo/preprocess/browser and compares it with PIL's `decoded`
 * (and `decoded_msb8` for 16-bit files); then runs the timm bicubic transform on our pixels and
 * compares with the fixture's `timm_bicubic_0875`.
 */
async function decodeParity(imageName: string) {
  try {
    const stem = imageName.replace(/\.[a-z]+$/, '');
    const [imageBytes, fixtureBytes] = await Promise.all([fetchBytes(`/fixtures/images/${imageName}`), fetchBytes(`/fixtures/preprocess/${stem}.safetensors`)]);
    const type = imageName.endsWith('.png') ? 'image/png' : 'image/jpeg';
    const image = await loadImage(new Blob([imageBytes as BlobPart], { type }));
    const fixture = parseSafetensors(fixtureBytes).tensors;
    const decoded = fixture.decoded!;
    const [height, width] = decoded.shape as [number, number, number];
    if (image.width !== width || image.height !== height) {
      return { image: imageName, error: { message: `decoded ${image.width}x${image.height}, PIL ${width}x${height}` } };
    }
    const compareWith = (reference: Tensor) => {
      let maxDiff = 0;
      let exact = 0;
      let sum = 0;
      let maxDiffOpaque = 0;
      let maxDiffTranslucent = 0;
      let transparentPixels = 0;
      let translucentPixels = 0;
      const pixels = width * height;
      for (let p = 0; p < pixels; p++) {
        const alpha = image.channels === 4 ? (image.data[p * 4 + 3] as number) : 255;
        if (alpha === 0) transparentPixels++;
        else if (alpha < 255) translucentPixels++;
        for (let c = 0; c < 3; c++) {
          const ours = image.data[p * image.channels + c] as number;
          const diff = Math.abs(ours - (reference.data[p * 3 + c] as number));
          sum += diff;
          if (diff === 0) exact++;
          if (diff > maxDiff) maxDiff = diff;
          if (alpha === 255 && diff > maxDiffOpaque) maxDiffOpaque = diff;
          if (alpha > 0 && alpha < 255 && diff > maxDiffTranslucent) maxDiffTranslucent = diff;
        }
      }
      return { maxDiff, meanDiff: sum / (pixels * 3), exactFraction: exact / (pixels * 3), maxDiffOpaque, maxDiffTranslucent, transparentPixels, translucentPixels };
    };
    const transform = createTransform({ inputSize: [3, 224, 224], interpolation: 'bicubic', cropPct: 0.875 });
    const ours = transform.apply(image);
    const expected = fixture.timm_bicubic_0875!;
    return {
      image: imageName,
      width,
      height,
      channels: image.channels,
      vsDecoded: compareWith(decoded),
      vsMsb8: fixture.decoded_msb8 ? compareWith(fixture.decoded_msb8) : null,
      transformMaxAbsDiff: maxAbsDifference(ours, expected),
    };
  } catch (error) {
    return { image: imageName, error: errorInfo(error) };
  }
}

/** Median inference time of a fixture case (batch 1) for the browser benchmark. */
async function benchmarkCase(caseName: string, backendName: string, runs: number, warmup: number) {
  const base = `/fixtures/models/${caseName}/`;
  const [configBytes, weights, ioBytes] = await Promise.all([fetchBytes(`${base}config.json`), fetchBytes(`${base}model.safetensors`), fetchBytes(`${base}io.safetensors`)]);
  const config = JSON.parse(new TextDecoder().decode(configBytes)) as { architecture: string; kwargs?: Record<string, unknown> };
  const graph = convertCheckpoint({ architecture: registry.architecture(config.architecture), kwargs: config.kwargs ?? {}, stateDict: parseSafetensors(weights).tensors });
  const backend = await resolveBackend([backendName]);
  const session = await backend.createSession(graphBytes(graph));
  const input = slice(parseSafetensors(ioBytes).tensors.pixel_values!, 0, 1);
  for (let i = 0; i < warmup; i++) await session.run({ pixel_values: input });
  // Median of single runs (performance.now() is coarsened to 0.1 ms in pages that are not cross-origin isolated).
  const times: number[] = [];
  for (let i = 0; i < runs; i++) {
    const t = performance.now();
    await session.run({ pixel_values: input });
    times.push(performance.now() - t);
  }
  await session.dispose();
  times.sort((a, b) => a - b);
  return { medianMs: times[times.length >> 1]!, environment: webRuntimeEnvironment() };
}

/** Loads a model folder served at `base` (config.json + model.safetensors) as the demo does: describeModelConfig, convertCheckpoint, createModel. */
async function loadFolder(base: string, outputs: OutputName[], backendName: string) {
  const [configBytes, weights] = await Promise.all([fetchBytes(`${base}config.json`), fetchBytes(`${base}model.safetensors`)]);
  const description = describeModelConfig(JSON.parse(new TextDecoder().decode(configBytes)), registry, `${base}config.json`);
  const stateDict = parseSafetensors(weights, { source: `${base}model.safetensors` }).tensors;
  const graph = convertCheckpoint({ architecture: description.architecture, kwargs: description.kwargs, stateDict, outputs });
  return createModel({ graph, backend: await resolveBackend([backendName]), pretrained: description.pretrained });
}

const decodePngs = (urls: string[]) => Promise.all(urls.map(async (url) => loadImage(new Blob([(await fetchBytes(url)) as BlobPart], { type: 'image/png' }))));

/** Classifies PNGs (top 3) with a model folder loaded as the demo loads models. */
async function classifyFolder(base: string, imageUrls: string[], backendName: string) {
  try {
    const model = await loadFolder(base, ['logits'], backendName);
    try {
      return { labels: model.labels, predictions: await model.classify(await decodePngs(imageUrls), { topK: 3 }) };
    } finally {
      await model.dispose();
    }
  } catch (error) {
    return { error: errorInfo(error) };
  }
}

/** trainHead in the page (the platform-free API): a head on the folder's pre_logits for labelled PNGs. */
async function trainHeadInPage(base: string, imageUrls: string[], labels: number[], classNames: string[], backendName: string) {
  try {
    const backbone = await loadFolder(base, ['pre_logits'], backendName);
    try {
      const head = await trainHead(backbone, labelledImages(await decodePngs(imageUrls), labels, classNames));
      return { weight: Array.from(head.weight.data), bias: Array.from(head.bias.data), train: head.train, converged: head.fit.converged };
    } finally {
      await backbone.dispose();
    }
  } catch (error) {
    return { error: errorInfo(error) };
  }
}

const harness = { environment, contract, resolve, verifyCase, decodeParity, benchmarkCase, kernelProbes, sweepSample, classifyFolder, trainHeadInPage, digitsAtPrecision, caseAtPrecision };
declare global {
  interface Window {
    vitzooHarness: typeof harness;
  }
}
window.vitzooHarness = harness;
document.body.dataset.ready = 'true';
