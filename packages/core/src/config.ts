import { InvalidConfigError } from './errors.js';

/**
 * Reads constructor kwargs with timm's names, types and defaults, throwing `InvalidConfigError`
 * that names the offending field. `finish()` refuses kwargs nobody read (typos, unsupported
 * options) unless they were declared ignorable (training-only options such as drop rates).
 */
export class KwargsReader {
  private readonly seen = new Set<string>();

  constructor(
    private readonly raw: Readonly<Record<string, unknown>>,
    private readonly context: string,
    private readonly ignorable: readonly string[] = [],
  ) {
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      throw new InvalidConfigError('kwargs', raw, 'an object of constructor keyword arguments', context);
    }
  }

  private take(name: string): unknown {
    this.seen.add(name);
    return this.raw[name];
  }

  private invalid(name: string, value: unknown, expected: string): never {
    throw new InvalidConfigError(name, value, expected, this.context);
  }

  has(name: string): boolean {
    return this.raw[name] !== undefined && this.raw[name] !== null;
  }

  int(name: string, fallback?: number, min = 0): number {
    const value = this.take(name) ?? fallback;
    if (!Number.isSafeInteger(value) || (value as number) < min) this.invalid(name, value, `an integer >= ${min}`);
    return value as number;
  }

  number(name: string, fallback?: number, options: { min?: number; exclusiveMin?: boolean } = {}): number {
    const value = this.take(name) ?? fallback;
    const { min, exclusiveMin } = options;
    const ok =
      typeof value === 'number' &&
      Number.isFinite(value) &&
      (min === undefined || (exclusiveMin ? value > min : value >= min));
    if (!ok) this.invalid(name, value, min === undefined ? 'a finite number' : `a number ${exclusiveMin ? '>' : '>='} ${min}`);
    return value as number;
  }

  optionalNumber(name: string, fallback: number | null = null): number | null {
    const value = this.take(name);
    if (value === undefined || value === null) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value)) this.invalid(name, value, 'a finite number or null');
    return value;
  }

  bool(name: string, fallback: boolean): boolean {
    const value = this.take(name) ?? fallback;
    if (typeof value !== 'boolean') this.invalid(name, value, 'true or false');
    return value;
  }

  /** A boolean that may be absent or null (timm's `Optional[bool] = None`). */
  optionalBool(name: string): boolean | null {
    const value = this.take(name);
    if (value === undefined || value === null) return null;
    if (typeof value !== 'boolean') this.invalid(name, value, 'true, false or null');
    return value;
  }

  oneOf<T extends string>(name: string, choices: readonly T[], fallback: T): T {
    const value = this.take(name) ?? fallback;
    if (typeof value !== 'string' || !choices.includes(value as T)) {
      this.invalid(name, value, `one of ${choices.map((c) => `'${c}'`).join(', ')}`);
    }
    return value as T;
  }

  /** An int or an [h, w] pair (timm's `to_2tuple`). */
  pair(name: string, fallback?: number | readonly [number, number], min = 1): [number, number] {
    const value = this.take(name) ?? fallback;
    if (Number.isSafeInteger(value) && (value as number) >= min) return [value as number, value as number];
    if (
      Array.isArray(value) &&
      value.length === 2 &&
      value.every((v) => Number.isSafeInteger(v) && (v as number) >= min)
    ) {
      return [value[0] as number, value[1] as number];
    }
    return this.invalid(name, value, `an integer >= ${min} or a pair of them`);
  }

  /** A list of integers, optionally of a fixed length. */
  intList(name: string, fallback?: readonly number[], length?: number, min = 0): number[] {
    const value = this.take(name) ?? fallback;
    if (
      !Array.isArray(value) ||
      (length !== undefined && value.length !== length) ||
      value.length === 0 ||
      !value.every((v) => Number.isSafeInteger(v) && (v as number) >= min)
    ) {
      this.invalid(name, value, `a list of ${length ?? 'one or more'} integers >= ${min}`);
    }
    return [...(value as number[])];
  }

  /** Throws on kwargs that were never read and are not declared ignorable. */
  finish(): void {
    const unknown = Object.keys(this.raw).filter((key) => !this.seen.has(key) && !this.ignorable.includes(key));
    if (unknown.length > 0) {
      throw new InvalidConfigError(
        unknown[0]!,
        this.raw[unknown[0]!],
        `no such option: ${this.context} accepts ${[...this.seen].sort().join(', ')}`,
        this.context,
      );
    }
  }
}

/** Training-only kwargs that do not change inference and are accepted and ignored everywhere. */
export const TRAINING_ONLY_KWARGS = [
  'drop_rate',
  'pos_drop_rate',
  'patch_drop_rate',
  'proj_drop_rate',
  'attn_drop_rate',
  'drop_path_rate',
  'weight_init',
  'pretrained_cfg',
  'pretrained_cfg_overlay',
] as const;

/**
 * The hidden width of timm's `Mlp` (and the authors' copies of it): `int(dim * mlp_ratio)`, and
 * `hidden_features or in_features` — a ratio so small that the product truncates to 0 gives `dim`.
 */
export function mlpHiddenFeatures(dim: number, mlpRatio: number): number {
  return Math.floor(dim * mlpRatio) || dim;
}
