import { InvalidArgumentError, type PretrainedConfig, type Registry, type ResolvedModel } from '@vitzoo/core';
import { checkRepoId, checkRevision } from './names.js';

/** Where a model comes from, parsed from what the user typed. */
export type ModelSourceSpec =
  | { kind: 'hub'; repo: string; revision: string }
  | { kind: 'url'; url: string }
  | { kind: 'local'; path: string }
  | { kind: 'registry'; name: string; model: ResolvedModel; pretrained: PretrainedConfig; hub?: { repo: string; revision: string }; url?: string };

export interface ParseSourceOptions {
  /** Resolves registry names (`arch_variant.tag`) to their hub repo or release url. */
  registry?: Registry;
  /** Revision when the spec names none. Default 'main'. */
  revision?: string;
}

/** A spec that is clearly a filesystem path (not a hub id or a registry name). */
export function looksLikePath(spec: string): boolean {
  return /^(\.{1,2}([/\\]|$)|[/\\~]|[A-Za-z]:[/\\]|file:)/.test(spec) || spec.includes('\\');
}

const HUB_ID = /^([A-Za-z0-9][A-Za-z0-9._-]*\/[A-Za-z0-9][A-Za-z0-9._-]*)(?:@(.+))?$/;

/**
 * Parses a model source:
 * - `org/repo`, `org/repo@revision`, `hf-hub:org/repo[@revision]`: a Hugging Face hub repo;
 * - `https://…` (or `http://…`): a file at a URL;
 * - `./dir`, `/abs/file`, `file:…`: a local folder or file;
 * - `arch_variant.tag` / `arch_variant`: a registry name, resolved to its pretrained config's hub
 *   repo (`timm/arch_variant.tag`) or release url.
 * Does not touch the filesystem: the Node resolver checks for local folders first.
 */
export function parseModelSource(spec: string, options: ParseSourceOptions = {}): ModelSourceSpec {
  const text = spec.trim();
  if (text.length === 0) throw new InvalidArgumentError('model', 'Empty model source: give a registry name, org/repo, a URL or a folder.');
  if (/^https?:\/\//i.test(text)) {
    try {
      return { kind: 'url', url: new URL(text).href };
    } catch {
      throw new InvalidArgumentError('model', `Invalid URL ${JSON.stringify(text)}.`);
    }
  }
  if (/^file:/i.test(text)) return { kind: 'local', path: decodeURIComponent(new URL(text).pathname) };
  if (looksLikePath(text)) return { kind: 'local', path: text };
  const hubText = text.replace(/^hf-hub:/, '');
  const hub = HUB_ID.exec(hubText);
  if (hub) {
    return { kind: 'hub', repo: checkRepoId(hub[1]!), revision: checkRevision(hub[2] ?? options.revision ?? 'main') };
  }
  if (hubText.includes('/')) return { kind: 'local', path: text };
  if (!options.registry) {
    throw new InvalidArgumentError('model', `'${text}' looks like a registry name, but no registry was given to resolve it; pass { registry }.`);
  }
  const model = options.registry.resolve(hubText);
  const pretrained = model.pretrained;
  if (!pretrained || model.tag === undefined) {
    throw new InvalidArgumentError('model', `'${text}' (${model.variant}) has no pretrained weights registered; give a folder or a hub repo instead.`);
  }
  const name = `${model.variant}.${model.tag}`;
  if (pretrained.hfHubId) {
    const [repo, revision] = pretrained.hfHubId.replace(/^hf-hub:/, '').split('@');
    return { kind: 'registry', name, model, pretrained, hub: { repo: checkRepoId(repo!), revision: checkRevision(revision ?? options.revision ?? 'main') } };
  }
  if (pretrained.url) return { kind: 'registry', name, model, pretrained, url: pretrained.url };
  return { kind: 'registry', name, model, pretrained };
}

/** A printable form of a parsed source. */
export function describeSource(source: ModelSourceSpec): string {
  switch (source.kind) {
    case 'hub':
      return `${source.repo}@${source.revision}`;
    case 'url':
      return source.url;
    case 'local':
      return source.path;
    case 'registry':
      return source.name;
  }
}

/** timm's config.json for a registry variant whose weights are an authors' release file (written beside the downloaded file). */
export function releaseTimmConfig(model: ResolvedModel, pretrained: PretrainedConfig, file: string): Record<string, unknown> {
  return {
    architecture: model.variant,
    num_classes: pretrained.numClasses,
    pretrained_cfg: {
      tag: model.tag,
      input_size: pretrained.inputSize,
      interpolation: pretrained.interpolation,
      crop_pct: pretrained.cropPct,
      crop_mode: pretrained.cropMode ?? 'center',
      mean: pretrained.mean,
      std: pretrained.std,
      num_classes: pretrained.numClasses,
      ...(pretrained.labelSet ? { label_set: pretrained.labelSet } : {}),
      ...(pretrained.url ? { url: pretrained.url } : {}),
      file,
      ...(pretrained.license ? { license: pretrained.license } : {}),
    },
  };
}
