import { VitzooError } from '@vitzoo/core';
import type { BrowserImageSource, RawImage } from '@vitzoo/preprocess/browser';
import { classify, loadModel, type BackendChoice, type LoadedModel } from './demo.js';

function element<T extends HTMLElement>(id: string): T {
  const found = document.getElementById(id);
  if (!found) throw new Error(`#${id} is missing from index.html`);
  return found as T;
}

const modelSelect = element<HTMLSelectElement>('model');
const backendSelect = element<HTMLSelectElement>('backend');
const status = element<HTMLParagraphElement>('status');
const drop = element<HTMLElement>('drop');
const fileInput = element<HTMLInputElement>('file');
const cameraButton = element<HTMLButtonElement>('camera');
const snapButton = element<HTMLButtonElement>('snap');
const video = element<HTMLVideoElement>('video');
const samples = element<HTMLDivElement>('samples');
const preview = element<HTMLCanvasElement>('preview');
const topLabel = element<HTMLElement>('top-label');
const predictionList = element<HTMLOListElement>('predictions');

// URL parameters preselect the controls (?model=digits-deit&backend=wasm).
const parameters = new URLSearchParams(location.search);
for (const [select, key] of [[modelSelect, 'model'], [backendSelect, 'backend']] as const) {
  const value = parameters.get(key);
  if (value && Array.from(select.options).some((option) => option.value === value)) select.value = value;
}

let current: Promise<LoadedModel> | null = null;

function setStatus(text: string, state: 'loading' | 'ready' | 'done' | 'error'): void {
  status.textContent = text;
  status.classList.toggle('error', state === 'error');
  document.body.dataset.state = state;
}

function describeError(error: unknown): string {
  if (VitzooError.isInstance(error)) return `${error.name}: ${error.message}`;
  return error instanceof Error ? error.message : String(error);
}

async function reloadModel(): Promise<void> {
  const previous = current;
  setStatus(`Loading ${modelSelect.value}…`, 'loading');
  current = loadModel(modelSelect.value, backendSelect.value as BackendChoice);
  try {
    const loaded = await current;
    element('backend-in-use').textContent = loaded.fallbackReason
      ? `${loaded.backendDetails} (fallback: ${loaded.fallbackReason})`
      : loaded.backendDetails;
    element('load-ms').textContent = `${loaded.loadMs.toFixed(0)} ms (fetch, build graph, create session)`;
    setStatus(`${loaded.name} ready on ${loaded.backend}. Pick an image.`, 'ready');
    await (await previous?.catch(() => null))?.model.dispose();
  } catch (error) {
    setStatus(`Could not load the model: ${describeError(error)}`, 'error');
  }
}

function drawPreview(image: RawImage): void {
  const rgba = new Uint8ClampedArray(image.width * image.height * 4);
  for (let p = 0; p < image.width * image.height; p++) {
    for (let c = 0; c < 3; c++) rgba[p * 4 + c] = image.data[p * image.channels + (image.channels >= 3 ? c : 0)] as number;
    rgba[p * 4 + 3] = image.channels === 4 ? (image.data[p * 4 + 3] as number) : 255;
  }
  const source = new OffscreenCanvas(image.width, image.height);
  source.getContext('2d')!.putImageData(new ImageData(rgba, image.width, image.height), 0, 0);
  const context = preview.getContext('2d')!;
  const scale = Math.min(preview.width / image.width, preview.height / image.height);
  context.imageSmoothingEnabled = scale < 1;
  context.clearRect(0, 0, preview.width, preview.height);
  const width = image.width * scale;
  const height = image.height * scale;
  context.drawImage(source, (preview.width - width) / 2, (preview.height - height) / 2, width, height);
}

let classified = 0;

async function run(source: BrowserImageSource | (() => Promise<BrowserImageSource>), name: string): Promise<void> {
  if (!current) return;
  setStatus(`Classifying ${name}…`, 'loading');
  try {
    const loaded = await current;
    const result = await classify(loaded, typeof source === 'function' ? await source() : source);
    drawPreview(result.image);
    predictionList.replaceChildren(
      ...result.predictions.map((prediction) => {
        const item = document.createElement('li');
        item.dataset.label = prediction.label;
        item.dataset.score = String(prediction.score);
        const bar = document.createElement('span');
        bar.className = 'bar';
        bar.style.width = `${Math.max(1, prediction.score * 160)}px`;
        item.append(`${prediction.label}: ${(prediction.score * 100).toFixed(2)}%`, bar);
        return item;
      }),
    );
    topLabel.textContent = result.predictions[0]?.label ?? '–';
    element('preprocess-ms').textContent = `${result.preprocessMs.toFixed(1)} ms (decode, resize, normalize)`;
    element('inference-ms').textContent = `${result.inferenceMs.toFixed(1)} ms`;
    document.body.dataset.classified = String(++classified);
    setStatus(`Classified ${name} with ${loaded.name} on ${loaded.backend}.`, 'done');
  } catch (error) {
    setStatus(`Could not classify ${name}: ${describeError(error)}`, 'error');
  }
}

for (let digit = 0; digit <= 9; digit++) {
  const button = document.createElement('button');
  button.type = 'button';
  button.dataset.sample = String(digit);
  button.title = `sample digit ${digit}`;
  const image = document.createElement('img');
  image.src = `samples/digit-${digit}.png`;
  image.alt = `digit ${digit}`;
  button.append(image);
  button.addEventListener('click', () => void run(async () => (await fetch(image.src)).blob(), `sample digit ${digit}`));
  samples.append(button);
}

fileInput.addEventListener('change', () => {
  const file = fileInput.files?.[0];
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

modelSelect.addEventListener('change', () => void reloadModel());
backendSelect.addEventListener('change', () => void reloadModel());
void reloadModel();
