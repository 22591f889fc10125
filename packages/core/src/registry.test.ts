import { describe, expect, test } from 'vitest';
import type { Architecture } from './architecture.js';
import { pretrainedConfig } from './architecture.js';
import { DuplicateRegistrationError, InvalidConfigError, UnknownArchitectureError, UnknownModelError, VitzooError } from './errors.js';
import { KwargsReader } from './config.js';
import { createRegistry, matchesWildcard } from './registry.js';

function architecture(id: string, variants: string[]): Architecture {
  return {
    specificationVersion: 'v1',
    id,
    variants: Object.fromEntries(
      variants.map((name) => [name, { kwargs: { name }, pretrained: { first: pretrainedConfig({}), second: pretrainedConfig({ numClasses: 10 }) } }]),
    ),
    parseConfig: (kwargs) => kwargs,
    checkpointShapes: () => ({}),
    buildGraph: () => {
      throw new Error('not used');
    },
  };
}

describe('registry', () => {
  const registry = createRegistry([architecture('alpha', ['alpha_tiny_224', 'alpha_base_384']), architecture('beta', ['beta_small_224'])]);

  test('resolves variant.tag, bare variant (first tag), hub-style prefixes', () => {
    expect(registry.resolve('alpha_tiny_224').tag).toBe('first');
    const resolved = registry.resolve('alpha_tiny_224.second');
    expect(resolved.architecture.id).toBe('alpha');
    expect(resolved.variant).toBe('alpha_tiny_224');
    expect(resolved.pretrained?.numClasses).toBe(10);
    expect(resolved.kwargs).toEqual({ name: 'alpha_tiny_224' });
    expect(registry.resolve('timm/beta_small_224').architecture.id).toBe('beta');
    expect(registry.resolve('hf-hub:timm/beta_small_224.first').tag).toBe('first');
  });

  test('unknown names and tags give typed errors with suggestions', () => {
    let error: unknown;
    try {
      registry.resolve('alpha_tiny_244');
    } catch (caught) {
      error = caught;
    }
    expect(UnknownModelError.isInstance(error)).toBe(true);
    expect((error as UnknownModelError).suggestions).toContain('alpha_tiny_224');
    expect(() => registry.resolve('alpha_tiny_224.nope')).toThrow(/alpha_tiny_224\.first/);
    expect(() => registry.architecture('gamma')).toThrow(UnknownArchitectureError);
    expect(() => registry.architecture('gamma')).toThrow(/Registered architectures: alpha, beta/);
  });

  test('lists with wildcards, with or without pretrained tags', () => {
    expect(registry.list()).toEqual(['alpha_base_384', 'alpha_tiny_224', 'beta_small_224']);
    expect(registry.list('*_224')).toEqual(['alpha_tiny_224', 'beta_small_224']);
    expect(registry.list('alpha_*', { pretrained: true })).toEqual(['alpha_base_384.first', 'alpha_base_384.second', 'alpha_tiny_224.first', 'alpha_tiny_224.second']);
    expect(registry.list('b?ta*')).toEqual(['beta_small_224']);
    expect(matchesWildcard('vit.b', 'vit?b')).toBe(true);
    expect(matchesWildcard('vitxb', 'vit.b')).toBe(false);
  });

  test('refuses duplicate architecture ids and variant names', () => {
    const local = createRegistry([architecture('alpha', ['alpha_tiny_224'])]);
    expect(() => local.register(architecture('alpha', ['other']))).toThrow(DuplicateRegistrationError);
    expect(() => local.register(architecture('gamma', ['alpha_tiny_224']))).toThrow(/variant 'alpha_tiny_224' is already registered \(by 'alpha'\)/);
    expect(() => local.register({ ...architecture('delta', []), specificationVersion: 'v2' } as unknown as Architecture)).toThrow(/specificationVersion/);
    expect(local.architectureIds()).toEqual(['alpha']);
  });
});

describe('errors', () => {
  test('isInstance works across copies of the class (brand, not identity)', () => {
    const foreign = Object.assign(new Error('x'), { [Symbol.for('vitzoo.error')]: true, code: 'unknown-model' });
    expect(VitzooError.isInstance(foreign)).toBe(true);
    expect(UnknownModelError.isInstance(foreign)).toBe(true);
    expect(UnknownArchitectureError.isInstance(foreign)).toBe(false);
    expect(VitzooError.isInstance(new Error('plain'))).toBe(false);
    expect(VitzooError.isInstance(null)).toBe(false);
  });
});

describe('KwargsReader', () => {
  test('reads typed values with defaults and refuses wrong ones naming the field', () => {
    const reader = new KwargsReader({ a: 3, b: [2, 4], c: 0.5, drop_rate: 0.1 }, 'test', ['drop_rate']);
    expect(reader.int('a', 1)).toBe(3);
    expect(reader.pair('b', 1)).toEqual([2, 4]);
    expect(reader.number('c', 1)).toBe(0.5);
    expect(reader.bool('d', true)).toBe(true);
    expect(reader.optionalBool('e')).toBeNull();
    reader.finish();
    const field = (fn: () => unknown) => {
      try {
        fn();
      } catch (error) {
        expect(InvalidConfigError.isInstance(error)).toBe(true);
        return (error as InvalidConfigError).field;
      }
      return undefined;
    };
    expect(field(() => new KwargsReader({ a: 1.5 }, 't').int('a'))).toBe('a');
    expect(field(() => new KwargsReader({ a: [1, 2, 3] }, 't').pair('a'))).toBe('a');
    expect(field(() => new KwargsReader({ a: 'x' }, 't').oneOf('a', ['y', 'z'], 'y'))).toBe('a');
    expect(field(() => new KwargsReader({ typo: 1 }, 't').finish())).toBe('typo');
    expect(field(() => new KwargsReader([] as never, 't'))).toBe('kwargs');
  });
});
