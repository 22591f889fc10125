/**
 * Lower-precision graphs built in the page: a bundled digits model at fp32 and fp16 / int8 / q4,
 * the 360 test digits decoded and preprocessed in the page, compared by @vitzoo/pipeline's
 * platform-free compareDtypes on the chosen onnxruntime-web backend.
 */
import { convertCheckpoint, graphBytes, maxAbsDifference, parseSafetensors, topOneAgreement, VitzooError, type Dtype } from '@vitzoo/core';
import { compareDtypes, describeModelConfig } from '@vitzoo/pipeline';
import { createTransform, loadImage } from '@vitzoo/preprocess/browser';
import { resolveBackend } from '@vitzoo/runtime';
import { createDefaultRegistry } from 'vitzoo';

async function fetchBytes(url: string): Promise<Uint8Array> {
  const response = await fetch(url);
  if (!response.ok) throw new Error(`GET ${url}: ${response.status}`);
  return new Uint8Array(await response.arrayBuffer());
}

/** Top-1 agreement with fp32, max |logit diff| and graph size per dtype for `models/<model>` on the first `count` test digits. */
export async function digitsAtPrecision(model: string, backendName: string, dtypes: Dtype[], count = 360) {
  try {
    const registry = createDefaultRegistry();
    const [configBytes, weights, labelBytes] = await Promise.all([
      fetchBytes(`/models/${model}/config.json`),
      fetchBytes(`/models/${model}/model.safetensors`),
      fetchBytes('/fixtures/digits/labels.json'),
    ]);
    const description = describeModelConfig(JSON.parse(new TextDecoder().decode(configBytes)), registry, `/models/${model}/config.json`);
    const files = Object.keys((JSON.parse(new TextDecoder().decode(labelBytes)) as { labels: Record<string, number> }).labels).sort().slice(0, count);
    const images = await Promise.all(files.map(async (file) => loadImage(new Blob([(await fetchBytes(`/fixtures/digits/test/${file}`)) as BlobPart], { type: 'image/png' }))));
    const started = performance.now();
    const rows = await compareDtypes({
      architecture: description.architecture,
      kwargs: description.kwargs,
      stateDict: parseSafetensors(weights).tensors,
      backend: await resolveBackend([backendName]),
      pixels: createTransform(description.pretrained).applyBatch(images),
      dtypes,
      batchSize: count,
      runs: 0, // agreement, not speed
    });
    return { rows, images: files.length, seconds: (performance.now() - started) / 1000 };
  } catch (error) {
    return { error: VitzooError.isInstance(error) ? error.toJSON() : { message: error instanceof Error ? error.message : String(error) } };
  }
}

/** A fixture case built at `dtype` in the page and run on its stored batch: max |logit − reference| and top-1 agreement. */
export async function caseAtPrecision(caseName: string, backendName: string, dtype: Dtype) {
  try {
    const registry = createDefaultRegistry();
    const base = `/fixtures/models/${caseName}/`;
    const [configBytes, weights, ioBytes] = await Promise.all([fetchBytes(`${base}config.json`), fetchBytes(`${base}model.safetensors`), fetchBytes(`${base}io.safetensors`)]);
    const config = JSON.parse(new TextDecoder().decode(configBytes)) as { architecture: string; kwargs?: Record<string, unknown> };
    const io = parseSafetensors(ioBytes).tensors;
    const graph = convertCheckpoint({ architecture: registry.architecture(config.architecture), kwargs: config.kwargs ?? {}, stateDict: parseSafetensors(weights).tensors, dtype });
    const session = await (await resolveBackend([backendName])).createSession(graphBytes(graph));
    try {
      const { logits } = await session.run({ pixel_values: io.pixel_values! });
      return { case: caseName, dtype, maxAbsDiff: maxAbsDifference(logits!, io.logits!), topOne: topOneAgreement(logits!, io.logits!), graphBytes: graph.byteLength };
    } finally {
      await session.dispose();
    }
  } catch (error) {
    return { error: VitzooError.isInstance(error) ? error.toJSON() : { message: error instanceof Error ? error.message : String(error) } };
  }
}
