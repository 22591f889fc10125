import { VitzooError, type BrowserImageSource, type ProgressEvent, type RawImage } from 'vitzoo/browser';
import { classify, heatmapOverlay, isDigitsModel, openModel, type BackendChoice, type LoadedModel } from './demo.js';

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing from index.html`);
  return found as T;
}

const form = element<HTMLFormElement>('model-form');
const modelInput = element<HTMLInputElement>('model');
const endpointInput = element<HTMLInputElement>('endpoint');
const backendSelect = element<HTMLSelectElement>('backend');
const workerToggle = element<HTMLInputElement>('worker');
const modelFiles = element<HTMLInputElement>('model-files');
const status = element<HTMLParagraphElement>('status');
const progressBar = element<HTMLProgressElement>('progress');
const hint = element<HTMLParagraphElement>('hint');
const drop = element<HTMLElement>('drop');
const imageInput = element<HTMLInputElement>('image-input');
const cameraButton = element<HTMLButtonElement>('camera');
const snapButton = element<HTMLButtonElement>('snap');
const video = element<HTMLVideoElement>('video');
const samples = element<HTMLDivElement>('samples');
const preview = element<HTMLCanvasElement>('preview');
const topLabel = element<HTMLElement>('top-label');
const heatmapCanvas = element<HTMLCanvasElement>('heatmap');
const heatmapToggle = element<HTMLInputElement>('heatmap-toggle');
const heatmapOpacity = element<HTMLInputElement>('heatmap-opacity');
const heatmapNote = element<HTMLSpanElement>('heatmap-note');
const predictionList = element<HTMLOListElement>('predictions');

// URL parameters fill the form and load on open: ?model=<name | org/repo | URL>&endpoint=<url>&backend=wasm&worker=1
const parameters = new URLSearchParams(location.search);
modelInput.value = parameters.get('model') ?? 'digits-vit';
endpointInput.value = parameters.get('endpoint') ?? '';
const backendParameter = parameters.get('backend');
if (backendParameter && Array.from(backendSelect.options).some((option) => option.value === backendParameter)) backendSelect.value = backendParameter;
workerToggle.checked = parameters.get('worker') === '1';

let current: LoadedModel | null = null;
let loading: AbortController | null = null;
let classified = 0;
/** The image and model shown, so the heat map can be drawn again (opacity, toggle). */
let shown: { loaded: LoadedModel; image: RawImage; name: string } | null = null;
let heatmapRun = 0;


type State = 'loading' | 'ready' | 'error';

function setStatus(text: string, state: State): void {
  status.textContent = text;
  status.dataset.state = state;
  document.body.dataset.state = state;
}

function describeError(error: unknown): string {
  if (VitzooError.isInstance(error)) return error.message;
  if (error instanceof DOMException && error.name === 'AbortError') return 'cancelled';
  return error instanceof Error ? error.message : String(error);
}

function setFact(id: string, text: string): void {
  element(id).textContent = text;
}

/** Everything shown about the previous model or image goes: no stale predictions, backend or timings. */
function clearResults(): void {
  predictionList.replaceChildren();
  delete predictionList.dataset.image;
  topLabel.textContent = '–';
  hint.hidden = true;
  for (const id of ['model-in-use', 'backend-in-use', 'dtype-in-use', 'graph-source', 'load-ms', 'preprocess-ms', 'inference-ms']) setFact(id, '–');
  preview.getContext('2d')?.clearRect(0, 0, preview.width, preview.height);
  shown = null;
  heatmapCanvas.hidden = true;
  delete heatmapCanvas.dataset.image;
  heatmapNote.hidden = true;
}

/** Download bytes over every file seen so far; the build and session stages have no size. */
function progressReporter(): (event: ProgressEvent) => void {
  const files = new Map<string, { loaded: number; total: number | undefined }>();
  return (event) => {
    progressBar.hidden = false;
    if (event.stage === 'download') {
      files.set(event.file ?? '', { loaded: event.loaded ?? 0, total: event.total });
      const loaded = [...files.values()].reduce((sum, file) => sum + file.loaded, 0);
      const total = [...files.values()].every((file) => file.total !== undefined) ? [...files.values()].reduce((sum, file) => sum + (file.total ?? 0), 0) : undefined;
      if (total) progressBar.value = loaded / total;
      else progressBar.removeAttribute('value');
      status.textContent = `Downloading ${event.file ?? ''}: ${(loaded / 1e6).toFixed(1)}${total ? ` of ${(total / 1e6).toFixed(1)}` : ''} MB`;
    } else if (event.stage === 'build') {
      if (event.loaded !== undefined && event.total) progressBar.value = event.loaded / event.total;
      else progressBar.removeAttribute('value');
      status.textContent = 'Converting the checkpoint to an ONNX graph…';
    } else if (event.stage === 'session') {
      progressBar.removeAttribute('value');
      status.textContent = 'Starting the runtime session…';
    }
  };
}

async function load(model: string | File[]): Promise<void> {
  loading?.abort();
  const controller = new AbortController();
  loading = controller;
  const previous = current;
  current = null;
  clearResults();
  const name = typeof model === 'string' ? model.trim() : model.map((file) => file.name).join(' + ');
  setStatus(`Loading ${name}…`, 'loading');
  progressBar.hidden = false;
  progressBar.removeAttribute('value');
  try {
    await previous?.model.dispose();
    const loaded = await openModel({
      model,
      endpoint: endpointInput.value.trim(),
      backend: backendSelect.value as BackendChoice,
      worker: workerToggle.checked,
      progress: progressReporter(),
      signal: controller.signal,
    });
    if (loading !== controller) {
      await loaded.model.dispose();
      return;
    }
    current = loaded;
    setFact('model-in-use', loaded.name);
    setFact('backend-in-use', loaded.backend);
    setFact('dtype-in-use', loaded.dtype);
    setFact('graph-source', loaded.graph);
    setFact('load-ms', `${loaded.loadMs.toFixed(0)} ms (fetch, build graph, create session)`);
    setStatus(`${loaded.name} ready on ${loaded.backend}. Pick, drop or paste an image.`, 'ready');
  } catch (error) {
    if (loading !== controller) return;
    setStatus(`Could not load ${name}: ${describeError(error)}`, 'error');
  } finally {
    if (loading === controller) {
      progressBar.hidden = true;
      loading = null;
    }
  }
}

function rgbaPixels(image: RawImage): ImageData {
  const rgba = new Uint8ClampedArray(image.width * image.height * 4);
  for (let p = 0; p < image.width * image.height; p++) {
    for (let c = 0; c < 3; c++) rgba[p * 4 + c] = image.data[p * image.channels + (image.channels >= 3 ? c : 0)] as number;
    rgba[p * 4 + 3] = image.channels === 4 ? (image.data[p * 4 + 3] as number) : 255;
  }
  return new ImageData(rgba, image.width, image.height);
}

/** Where the preview shows an image: scaled to fit, centred (canvas pixels). */
function placement(image: RawImage): { left: number; top: number; width: number; height: number } {
  const scale = Math.min(preview.width / image.width, preview.height / image.height);
  const width = image.width * scale;
  const height = image.height * scale;
  return { left: (preview.width - width) / 2, top: (preview.height - height) / 2, width, height };
}

function drawPreview(image: RawImage): void {
  const source = new OffscreenCanvas(image.width, image.height);
  source.getContext('2d')!.putImageData(rgbaPixels(image), 0, 0);
  const context = preview.getContext('2d')!;
  const place = placement(image);
  context.imageSmoothingEnabled = place.width < image.width;
  context.clearRect(0, 0, preview.width, preview.height);
  context.drawImage(source, place.left, place.top, place.width, place.height);
}

/**
 * Draws the heat map overlay over the preview: a canvas of the image's own pixels (the overlay
 * exactly as `overlayHeatmap` gives it), laid over the image where the preview shows it, at its
 * displayed size.
 */
async function drawHeatmap(): Promise<void> {
  const run = ++heatmapRun;
  const current = shown;
  if (!current) return;
  if (current.loaded.noHeatmap !== undefined) {
    heatmapCanvas.hidden = true;
    heatmapNote.textContent = `No heat map: ${current.loaded.noHeatmap}`;
    heatmapNote.hidden = false;
    return;
  }
  heatmapNote.hidden = true;
  if (!heatmapToggle.checked) {
    heatmapCanvas.hidden = true;
    return;
  }
  try {
    const result = await heatmapOverlay(current.loaded, current.image, Number(heatmapOpacity.value));
    if (run !== heatmapRun || shown !== current || !result) return;
    heatmapCanvas.width = current.image.width;
    heatmapCanvas.height = current.image.height;
    heatmapCanvas.getContext('2d')!.putImageData(rgbaPixels(result.overlay), 0, 0);
    // The preview canvas may be shown smaller than its 160 pixels (max-width): scale the placement the same way.
    const ratio = preview.clientWidth / preview.width;
    const place = placement(current.image);
    Object.assign(heatmapCanvas.style, {
      left: `${preview.offsetLeft + preview.clientLeft + place.left * ratio}px`,
      top: `${preview.offsetTop + preview.clientTop + place.top * ratio}px`,
      width: `${place.width * ratio}px`,
      height: `${place.height * ratio}px`,
    });
    heatmapCanvas.dataset.image = current.name;
    heatmapCanvas.dataset.method = result.heatmap.method;
    heatmapCanvas.hidden = false;
  } catch (error) {
    if (run !== heatmapRun) return;
    heatmapCanvas.hidden = true;
    heatmapNote.textContent = `No heat map: ${describeError(error)}`;
    heatmapNote.hidden = false;
  }
}

heatmapToggle.addEventListener('change', () => void drawHeatmap());
heatmapOpacity.addEventListener('input', () => void drawHeatmap());

function showPredictions(name: string, result: Awaited<ReturnType<typeof classify>>, loaded: LoadedModel): void {
  predictionList.replaceChildren(
    ...result.predictions.map((prediction) => {
      const item = document.createElement('li');
      item.dataset.label = prediction.label;
      item.dataset.score = String(prediction.score);
      const label = document.createElement('span');
      label.className = 'label';
      label.textContent = `${prediction.label}: ${(prediction.score * 100).toFixed(2)}%`;
      const bar = document.createElement('span');
      bar.className = 'bar';
      bar.style.width = `${Math.max(0.5, prediction.score * 100)}%`;
      const track = document.createElement('span');
      track.className = 'track';
      track.append(bar);
      item.append(label, track);
      return item;
    }),
  );
  predictionList.dataset.image = name;
  topLabel.textContent = result.predictions[0]?.label ?? '–';
  setFact('preprocess-ms', `${result.preprocessMs.toFixed(1)} ms (${result.inWorker ? 'decode; resize and normalize run in the worker' : 'decode, resize, normalize'})`);
  setFact('inference-ms', `${result.inferenceMs.toFixed(1)} ms${result.inWorker ? ' (in the worker, with preprocessing)' : ''}`);
  // A digits model shown a photo: say what it can recognise.
  const photo = result.image.width > 64 || result.image.height > 64;
  hint.hidden = !(photo && isDigitsModel(loaded.labels));
  hint.textContent = hint.hidden ? '' : `${loaded.name} only knows the digits 0–9 (8×8 scikit-learn digits, upscaled): a photo gets a digit whatever it shows. Load an ImageNet model (e.g. timm/deit_tiny_patch16_224.fb_in1k) for photos.`;
}

async function run(source: BrowserImageSource | (() => Promise<BrowserImageSource>), name: string): Promise<void> {
  const loaded = current;
  if (!loaded) {
    setStatus(loading ? 'The model is still loading; try again when it is ready.' : 'Load a model first.', loading ? 'loading' : 'error');
    return;
  }
  setStatus(`Classifying ${name}…`, 'loading');
  try {
    const result = await classify(loaded, typeof source === 'function' ? await source() : source);
    if (current !== loaded) return;
    drawPreview(result.image);
    showPredictions(name, result, loaded);
    shown = { loaded, image: result.image, name };
    await drawHeatmap();
    document.body.dataset.classified = String(++classified);
    setStatus(`Classified ${name} with ${loaded.name} on ${loaded.backend}.`, 'ready');
  } catch (error) {
    setStatus(`Could not classify ${name}: ${describeError(error)}`, 'error');
  }
}

for (let digit = 0; digit <= 9; digit++) {
  const button = document.createElement('button');
  button.type = 'button';
  button.dataset.sample = String(digit);
  button.setAttribute('aria-label', `Classify the sample digit ${digit}`);
  button.title = `sample digit ${digit}`;
  const image = document.createElement('img');
  image.src = `samples/digit-${digit}.png`;
  image.alt = '';
  button.append(image);
  button.addEventListener('click', () => void run(async () => (await fetch(image.src)).blob(), `digit-${digit}.png`));
  samples.append(button);
}

form.addEventListener('submit', (event) => {
  event.preventDefault();
  const url = new URL(location.href);
  url.searchParams.set('model', modelInput.value.trim());
  if (endpointInput.value.trim()) url.searchParams.set('endpoint', endpointInput.value.trim());
  else url.searchParams.delete('endpoint');
  history.replaceState(null, '', url);
  void load(modelInput.value);
});
backendSelect.addEventListener('change', () => void load(modelInput.value));
workerToggle.addEventListener('change', () => void load(modelInput.value));
modelFiles.addEventListener('change', () => {
  const files = Array.from(modelFiles.files ?? []);
  modelFiles.value = '';
  if (files.length > 0) void load(files);
});

imageInput.addEventListener('change', () => {
  const file = imageInput.files?.[0];
  imageInput.value = '';
  if (file) void run(file, file.name);
});
drop.addEventListener('dragover', (event) => {
  event.preventDefault();
  drop.classList.add('over');
});
drop.addEventListener('dragleave', () => drop.classList.remove('over'));
drop.addEventListener('drop', (event) => {
  event.preventDefault();
  drop.classList.remove('over');
  const file = event.dataTransfer?.files[0];
  if (file) void run(file, file.name);
});
document.addEventListener('paste', (event) => {
  const file = Array.from(event.clipboardData?.files ?? []).find((item) => item.type.startsWith('image/'));
  if (file) void run(file, file.name || 'pasted image');
});

cameraButton.addEventListener('click', async () => {
  try {
    video.srcObject = await navigator.mediaDevices.getUserMedia({ video: { facingMode: 'environment' } });
    video.hidden = false;
    snapButton.hidden = false;
    await video.play();
  } catch (error) {
    setStatus(`No camera: ${describeError(error)}`, 'error');
  }
});
snapButton.addEventListener('click', () => {
  const frame = document.createElement('canvas');
  frame.width = video.videoWidth;
  frame.height = video.videoHeight;
  frame.getContext('2d')!.drawImage(video, 0, 0);
  void run(frame, 'camera frame');
});

void load(modelInput.value);
