import { matchesWildcard, type Architecture, type PretrainedConfig, type Registry } from '@vitzoo/core';

/** Where a catalogue entry's weights come from. */
export type CatalogueSource =
  | { kind: 'hub'; repo: string }
  | { kind: 'url'; url: string; file: string | undefined }
  | { kind: 'none'; note: string };

/** One pretrained variant of the zoo: what `vitzoo list` shows and models/catalogue/ stores. */
export interface CatalogueEntry {
  /** `variant.tag`, the name to pass to `vitzoo classify --model` / `vitzoo download`. */
  name: string;
  architecture: string;
  variant: string;
  tag: string;
  source: CatalogueSource;
  /** [channels, height, width] */
  inputSize: readonly [number, number, number];
  preprocessing: {
    interpolation: string;
    cropPct: number;
    cropMode: string;
    mean: readonly [number, number, number];
    std: readonly [number, number, number];
  };
  numClasses: number;
  labelSet: string | undefined;
  license: string | undefined;
  /** Sum of the checkpoint's tensor sizes (`checkpointShapes`). */
  parameters: number;
  /** float32 weights: parameters × 4 bytes. */
  fileSize: number;
}

/** Parameter count of an architecture config: the sum of its checkpoint tensors' element counts. */
export function countParameters(architecture: Architecture, kwargs: Readonly<Record<string, unknown>>): number {
  const config = architecture.parseConfig(kwargs);
  let total = 0;
  for (const shape of Object.values(architecture.checkpointShapes(config))) total += shape.reduce((product, size) => product * size, 1);
  return total;
}

function entrySource(pretrained: PretrainedConfig): CatalogueSource {
  if (pretrained.hfHubId) return { kind: 'hub', repo: pretrained.hfHubId.replace(/^hf-hub:/, '') };
  if (pretrained.url) return { kind: 'url', url: pretrained.url, file: pretrained.file };
  return { kind: 'none', note: 'no download source is registered; fetch the authors\' release yourself (see the architecture package README) and load the folder' };
}

/**
 * The catalogue of a registry: one entry per pretrained variant (`variant.tag`) matching `pattern`,
 * sorted by name. Parameter counts use the tag's class count (e.g. 21843 for in21k heads).
 */
export function catalogueEntries(registry: Registry, pattern = '*'): CatalogueEntry[] {
  const counts = new Map<string, number>();
  const entries: CatalogueEntry[] = [];
  for (const name of registry.list('*', { pretrained: true })) {
    const model = registry.resolve(name);
    if (!matchesWildcard(name, pattern) && !matchesWildcard(model.variant, pattern)) continue;
    const pretrained = model.pretrained;
    if (!pretrained || model.tag === undefined) continue;
    const countKey = `${model.variant}/${pretrained.numClasses}`;
    let parameters = counts.get(countKey);
    if (parameters === undefined) {
      parameters = countParameters(model.architecture, { ...model.kwargs, num_classes: pretrained.numClasses });
      counts.set(countKey, parameters);
    }
    entries.push({
      name,
      architecture: model.architecture.id,
      variant: model.variant,
      tag: model.tag,
      source: entrySource(pretrained),
      inputSize: [...pretrained.inputSize] as [number, number, number],
      preprocessing: {
        interpolation: pretrained.interpolation,
        cropPct: pretrained.cropPct,
        cropMode: pretrained.cropMode ?? 'center',
        mean: [...pretrained.mean] as [number, number, number],
        std: [...pretrained.std] as [number, number, number],
      },
      numClasses: pretrained.numClasses,
      labelSet: pretrained.labelSet,
      license: pretrained.license,
      parameters,
      fileSize: parameters * 4,
    });
  }
  return entries;
}

/** A short printable source: the hub repo, the release file URL, or '-'. */
export function describeCatalogueSource(source: CatalogueSource): string {
  if (source.kind === 'hub') return `hf-hub:${source.repo}`;
  if (source.kind === 'url') return source.url;
  return '- (no download source)';
}

/** JSON with object keys sorted recursively: the same value always gives the same text. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(sortKeys(value));
}

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (typeof value === 'object' && value !== null) {
    const record = value as Record<string, unknown>;
    return Object.fromEntries(Object.keys(record).sort().filter((key) => record[key] !== undefined).map((key) => [key, sortKeys(record[key])]));
  }
  return value;
}
