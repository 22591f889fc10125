import type { Architecture, PretrainedConfig, VariantDefinition } from './architecture.js';
import { DuplicateRegistrationError, InvalidArgumentError, UnknownArchitectureError, UnknownModelError } from './errors.js';

export interface ResolvedModel {
  architecture: Architecture;
  /** The registered variant name, e.g. 'vit_tiny_patch16_224'. */
  variant: string;
  /** The pretrained tag, e.g. 'augreg_in21k_ft_in1k' (undefined when the variant has none). */
  tag: string | undefined;
  kwargs: Readonly<Record<string, unknown>>;
  pretrained: PretrainedConfig | undefined;
}

export interface ListOptions {
  /** List `variant.tag` names of pretrained weights instead of bare variant names (as timm's `pretrained=True`). */
  pretrained?: boolean;
}

/** Shell-style wildcard (`*`, `?`) match, as timm's `list_models` uses fnmatch. */
export function matchesWildcard(name: string, pattern: string): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`).test(name);
}

/**
 * Architectures and their variants by name. Resolves `variant.tag`, bare `variant` (default tag)
 * and architecture ids; lists with wildcards; refuses duplicate ids and variant names.
 */
export class Registry {
  private readonly architectures = new Map<string, Architecture>();
  private readonly variants = new Map<string, { architecture: Architecture; definition: VariantDefinition }>();

  register(architecture: Architecture): this {
    if (architecture?.specificationVersion !== 'v1') {
      throw new InvalidArgumentError(
        'architecture',
        `Cannot register ${JSON.stringify(architecture?.id)}: specificationVersion must be 'v1', got ${JSON.stringify(architecture?.specificationVersion)}.`,
      );
    }
    if (typeof architecture.id !== 'string' || !/^[a-z][a-z0-9_-]*$/.test(architecture.id)) {
      throw new InvalidArgumentError('architecture.id', `Architecture id ${JSON.stringify(architecture.id)} must be lower-case letters, digits, '_' or '-'.`);
    }
    if (this.architectures.has(architecture.id)) {
      throw new DuplicateRegistrationError('architecture', architecture.id, architecture.id);
    }
    for (const name of Object.keys(architecture.variants)) {
      const existing = this.variants.get(name);
      if (existing) throw new DuplicateRegistrationError('variant', name, existing.architecture.id);
      if (name.includes('.')) throw new InvalidArgumentError('variant', `Variant name '${name}' must not contain '.'.`);
    }
    this.architectures.set(architecture.id, architecture);
    for (const [name, definition] of Object.entries(architecture.variants)) {
      this.variants.set(name, { architecture, definition });
    }
    return this;
  }

  has(id: string): boolean {
    return this.architectures.has(id);
  }

  /** The architecture with this id, or `UnknownArchitectureError`. */
  architecture(id: string): Architecture {
    const architecture = this.architectures.get(id);
    if (!architecture) throw new UnknownArchitectureError(id, [...this.architectures.keys()].sort());
    return architecture;
  }

  architectureIds(): string[] {
    return [...this.architectures.keys()].sort();
  }

  /** Resolves 'variant.tag', 'variant' (first tag), accepting a 'timm/' or 'hf-hub:timm/' prefix. */
  resolve(name: string): ResolvedModel {
    const bare = name.replace(/^hf-hub:/, '').replace(/^timm\//, '');
    const dot = bare.indexOf('.');
    const variantName = dot === -1 ? bare : bare.slice(0, dot);
    const requestedTag = dot === -1 ? undefined : bare.slice(dot + 1);
    const entry = this.variants.get(variantName);
    if (!entry) throw new UnknownModelError(name, this.suggest(variantName));
    const tags = Object.keys(entry.definition.pretrained);
    const tag = requestedTag ?? tags[0];
    if (requestedTag !== undefined && !tags.includes(requestedTag)) {
      throw new UnknownModelError(name, tags.map((t) => `${variantName}.${t}`));
    }
    return {
      architecture: entry.architecture,
      variant: variantName,
      tag,
      kwargs: entry.definition.kwargs,
      pretrained: tag === undefined ? undefined : entry.definition.pretrained[tag],
    };
  }

  /** Names matching a wildcard pattern (default '*'), sorted. */
  list(pattern = '*', options: ListOptions = {}): string[] {
    const names: string[] = [];
    for (const [variant, { definition }] of this.variants) {
      if (options.pretrained) {
        for (const tag of Object.keys(definition.pretrained)) names.push(`${variant}.${tag}`);
      } else {
        names.push(variant);
      }
    }
    return names.filter((name) => matchesWildcard(name, pattern)).sort();
  }

  private suggest(name: string): string[] {
    const scored = [...this.variants.keys()]
      .map((candidate) => ({ candidate, distance: editDistance(name, candidate) }))
      .filter(({ distance }) => distance <= Math.max(3, Math.floor(name.length / 4)))
      .sort((a, b) => a.distance - b.distance);
    return scored.slice(0, 3).map(({ candidate }) => candidate);
  }
}

function editDistance(a: string, b: string): number {
  const previous = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diagonal = previous[0]!;
    previous[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const above = previous[j]!;
      previous[j] = Math.min(above + 1, previous[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return previous[b.length]!;
}

export function createRegistry(architectures: readonly Architecture[] = []): Registry {
  const registry = new Registry();
  for (const architecture of architectures) registry.register(architecture);
  return registry;
}
