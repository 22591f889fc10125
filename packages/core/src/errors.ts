/**
 * Typed errors. Every error vitzoo throws on purpose is a `VitzooError`: it carries a stable `code`
 * and typed fields, and `VitzooError.isInstance(e)` recognises it even across duplicate installs of
 * the package (the brand is a global `Symbol.for`, not class identity).
 */
const brand = Symbol.for('vitzoo.error');

export type VitzooErrorCode =
  | 'unknown-model'
  | 'unknown-architecture'
  | 'duplicate-registration'
  | 'invalid-config'
  | 'invalid-argument'
  | 'invalid-safetensors'
  | 'invalid-checkpoint'
  | 'checkpoint-mismatch'
  | 'incompatible-models'
  | 'invalid-image'
  | 'backend-unavailable'
  | 'inference-failed'
  | 'download-failed'
  | 'integrity-failed'
  | 'file-not-found'
  | 'file-access'
  | 'unsupported';

export class VitzooError extends Error {
  readonly [brand] = true;
  readonly code: VitzooErrorCode;

  constructor(code: VitzooErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = 'VitzooError';
  }

  static isInstance(error: unknown): error is VitzooError {
    return typeof error === 'object' && error !== null && (error as Record<symbol, unknown>)[brand] === true;
  }

  /** Plain-object form for `--json` output and logs. */
  toJSON(): Record<string, unknown> {
    return { name: this.name, code: this.code, message: this.message };
  }
}

function isCode<T extends VitzooError>(code: VitzooErrorCode) {
  return (error: unknown): error is T => VitzooError.isInstance(error) && error.code === code;
}

/** A model name that no registered architecture knows. */
export class UnknownModelError extends VitzooError {
  readonly modelName: string;
  readonly suggestions: readonly string[];
  constructor(modelName: string, suggestions: readonly string[] = []) {
    const hint = suggestions.length > 0 ? ` Did you mean ${suggestions.map((s) => `'${s}'`).join(', ')}?` : '';
    super('unknown-model', `Unknown model '${modelName}'.${hint} List the known models with \`vitzoo list\`.`);
    this.name = 'UnknownModelError';
    this.modelName = modelName;
    this.suggestions = suggestions;
  }
  static override isInstance = isCode<UnknownModelError>('unknown-model');
  override toJSON() {
    return { ...super.toJSON(), modelName: this.modelName, suggestions: this.suggestions };
  }
}

/** An architecture id that is not registered. */
export class UnknownArchitectureError extends VitzooError {
  readonly architecture: string;
  readonly available: readonly string[];
  constructor(architecture: string, available: readonly string[]) {
    super(
      'unknown-architecture',
      `Unknown architecture '${architecture}'. Registered architectures: ${available.join(', ') || '(none)'}. ` +
        `Install and register a plugin that provides it.`,
    );
    this.name = 'UnknownArchitectureError';
    this.architecture = architecture;
    this.available = available;
  }
  static override isInstance = isCode<UnknownArchitectureError>('unknown-architecture');
  override toJSON() {
    return { ...super.toJSON(), architecture: this.architecture, available: this.available };
  }
}

export class DuplicateRegistrationError extends VitzooError {
  readonly kind: 'architecture' | 'variant';
  readonly id: string;
  constructor(kind: 'architecture' | 'variant', id: string, existingOwner: string) {
    super('duplicate-registration', `The ${kind} '${id}' is already registered (by '${existingOwner}'); ids must be unique.`);
    this.name = 'DuplicateRegistrationError';
    this.kind = kind;
    this.id = id;
  }
  static override isInstance = isCode<DuplicateRegistrationError>('duplicate-registration');
}

/** A model configuration (constructor kwargs, pretrained config) that cannot be built. */
export class InvalidConfigError extends VitzooError {
  readonly field: string;
  readonly value: unknown;
  constructor(field: string, value: unknown, expected: string, context?: string) {
    const where = context ? ` in ${context}` : '';
    super('invalid-config', `Invalid config${where}: '${field}' is ${describeValue(value)}; expected ${expected}.`);
    this.name = 'InvalidConfigError';
    this.field = field;
    this.value = value;
  }
  static override isInstance = isCode<InvalidConfigError>('invalid-config');
  override toJSON() {
    return { ...super.toJSON(), field: this.field };
  }
}

/** A bad argument to a public function or CLI command. */
export class InvalidArgumentError extends VitzooError {
  readonly argument: string;
  constructor(argument: string, message: string) {
    super('invalid-argument', message);
    this.name = 'InvalidArgumentError';
    this.argument = argument;
  }
  static override isInstance = isCode<InvalidArgumentError>('invalid-argument');
  override toJSON() {
    return { ...super.toJSON(), argument: this.argument };
  }
}

/** A safetensors file that is malformed, truncated or inconsistent. */
export class InvalidSafetensorsError extends VitzooError {
  readonly source: string;
  readonly reason: string;
  constructor(source: string, reason: string) {
    super('invalid-safetensors', `Invalid safetensors file ${source}: ${reason}.`);
    this.name = 'InvalidSafetensorsError';
    this.source = source;
    this.reason = reason;
  }
  static override isInstance = isCode<InvalidSafetensorsError>('invalid-safetensors');
  override toJSON() {
    return { ...super.toJSON(), source: this.source, reason: this.reason };
  }
}

/** A checkpoint (e.g. a PyTorch archive) that cannot be read safely. */
export class InvalidCheckpointError extends VitzooError {
  readonly source: string;
  readonly reason: string;
  /** The tensor at fault, when one is (e.g. one holding NaN or ±Inf). */
  readonly tensor: string | undefined;
  constructor(source: string, reason: string, options: { tensor?: string } = {}) {
    super('invalid-checkpoint', `Refusing checkpoint ${source}: ${reason}.`);
    this.name = 'InvalidCheckpointError';
    this.source = source;
    this.reason = reason;
    this.tensor = options.tensor;
  }
  static override isInstance = isCode<InvalidCheckpointError>('invalid-checkpoint');
  override toJSON() {
    return { ...super.toJSON(), source: this.source, reason: this.reason, ...(this.tensor !== undefined ? { tensor: this.tensor } : {}) };
  }
}

export interface MisshapedKey {
  key: string;
  expected: readonly number[];
  actual: readonly number[];
}

/** The weights do not fit the architecture: keys missing, unexpected, or of the wrong shape. */
export class CheckpointMismatchError extends VitzooError {
  readonly missing: readonly string[];
  readonly unexpected: readonly string[];
  readonly misshaped: readonly MisshapedKey[];
  constructor(
    architecture: string,
    mismatch: { missing: readonly string[]; unexpected: readonly string[]; misshaped: readonly MisshapedKey[] },
  ) {
    const parts: string[] = [];
    const list = (keys: readonly string[]) =>
      keys.slice(0, 10).join(', ') + (keys.length > 10 ? `, … (${keys.length - 10} more)` : '');
    if (mismatch.missing.length > 0) parts.push(`missing ${mismatch.missing.length} key(s): ${list(mismatch.missing)}`);
    if (mismatch.unexpected.length > 0)
      parts.push(`unexpected ${mismatch.unexpected.length} key(s): ${list(mismatch.unexpected)}`);
    if (mismatch.misshaped.length > 0)
      parts.push(
        `${mismatch.misshaped.length} key(s) of the wrong shape: ` +
          mismatch.misshaped
            .slice(0, 10)
            .map((m) => `${m.key} is [${m.actual.join(', ')}], expected [${m.expected.join(', ')}]`)
            .join('; '),
      );
    super(
      'checkpoint-mismatch',
      `The checkpoint does not match the '${architecture}' config: ${parts.join('; ')}. ` +
        `Check that the config (kwargs) is the one the weights were trained with.`,
    );
    this.name = 'CheckpointMismatchError';
    this.missing = mismatch.missing;
    this.unexpected = mismatch.unexpected;
    this.misshaped = mismatch.misshaped;
  }
  static override isInstance = isCode<CheckpointMismatchError>('checkpoint-mismatch');
  override toJSON() {
    return { ...super.toJSON(), missing: this.missing, unexpected: this.unexpected, misshaped: this.misshaped };
  }
}

/** One way a model differs from the reference model it must match. */
export interface ModelDifference {
  /** The model that differs (its name as given). */
  model: string;
  /** What differs: a tensor name, a config field, 'architecture', 'classes', … */
  field: string;
  /** The reference model's value, and this model's (shapes as `[…]`, 'missing' when absent). */
  expected: string;
  actual: string;
}

/**
 * Models that must agree do not: soup ingredients of another architecture or other tensor
 * shapes, ensemble members with other classes. `differences` lists every one found.
 */
export class IncompatibleModelsError extends VitzooError {
  readonly reference: string;
  readonly differences: readonly ModelDifference[];
  constructor(purpose: string, reference: string, differences: readonly ModelDifference[]) {
    const shown = differences
      .slice(0, 12)
      .map((d) => `${d.model}: ${d.field} is ${d.actual}, ${reference} has ${d.expected}`)
      .join('; ');
    const more = differences.length > 12 ? `; … (${differences.length - 12} more)` : '';
    super('incompatible-models', `${purpose}: every model must match ${reference}, but ${shown}${more}.`);
    this.name = 'IncompatibleModelsError';
    this.reference = reference;
    this.differences = differences;
  }
  static override isInstance = isCode<IncompatibleModelsError>('incompatible-models');
  override toJSON() {
    return { ...super.toJSON(), reference: this.reference, differences: this.differences };
  }
}

/** An image that cannot be decoded or used. */
export class InvalidImageError extends VitzooError {
  readonly input: string;
  readonly reason: string;
  constructor(input: string, reason: string, options?: { cause?: unknown }) {
    super('invalid-image', `Invalid image ${input}: ${reason}.`, options);
    this.name = 'InvalidImageError';
    this.input = input;
    this.reason = reason;
  }
  static override isInstance = isCode<InvalidImageError>('invalid-image');
  override toJSON() {
    return { ...super.toJSON(), input: this.input, reason: this.reason };
  }
}

export interface BackendAttempt {
  backend: string;
  reason: string;
}

/** No requested backend could be initialised; `attempts` says why for each one tried. */
export class BackendUnavailableError extends VitzooError {
  readonly attempts: readonly BackendAttempt[];
  constructor(attempts: readonly BackendAttempt[]) {
    super(
      'backend-unavailable',
      attempts.length === 0
        ? 'No backend is registered. Install and import @vitzoo/runtime-node (Node) or @vitzoo/runtime-web (browsers).'
        : `No backend could be initialised: ${attempts.map((a) => `${a.backend}: ${a.reason}`).join('; ')}.`,
    );
    this.name = 'BackendUnavailableError';
    this.attempts = attempts;
  }
  static override isInstance = isCode<BackendUnavailableError>('backend-unavailable');
  override toJSON() {
    return { ...super.toJSON(), attempts: this.attempts };
  }
}

/**
 * The runtime refused a model or failed while running it. `signal` is set when the runtime's
 * process died (a native crash in an isolated session: 'SIGSEGV', 'SIGABRT', …, or 'timeout').
 */
export class InferenceError extends VitzooError {
  readonly backend: string;
  readonly signal: string | undefined;
  constructor(backend: string, message: string, options?: { cause?: unknown; signal?: string }) {
    super('inference-failed', message, options);
    this.name = 'InferenceError';
    this.backend = backend;
    this.signal = options?.signal;
  }
  static override isInstance = isCode<InferenceError>('inference-failed');
  override toJSON() {
    return { ...super.toJSON(), backend: this.backend, ...(this.signal !== undefined ? { signal: this.signal } : {}) };
  }
}

export class FileNotFoundError extends VitzooError {
  readonly path: string;
  constructor(path: string, what: string) {
    super('file-not-found', `${what} not found: ${path}.`);
    this.name = 'FileNotFoundError';
    this.path = path;
  }
  static override isInstance = isCode<FileNotFoundError>('file-not-found');
  override toJSON() {
    return { ...super.toJSON(), path: this.path };
  }
}

/** What file-system error codes mean, in words a user can act on. */
const FILE_SYSTEM_REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOTDIR: 'a file is where a folder should be',
  EEXIST: 'a file is in the way where a folder should be',
  EISDIR: 'it is a folder, not a file',
  EROFS: 'the file system is read-only',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'the disk quota is exceeded',
  ENAMETOOLONG: 'the path is too long',
  ELOOP: 'too many levels of symbolic links',
  EMFILE: 'too many open files',
  ENFILE: 'too many open files in the system',
  EIO: 'an input/output error of the device',
  EBUSY: 'the file or device is busy',
  ETXTBSY: 'the file is busy',
  EXDEV: 'it is on another device',
  ENOENT: 'a folder on the way does not exist',
};

/** True for a Node file-system error (an `Error` with an `E…` code and the system call that failed). */
export function isFileSystemError(error: unknown): error is Error & { code: string; syscall?: string; path?: string } {
  const code = (error as { code?: unknown } | null)?.code;
  return error instanceof Error && typeof code === 'string' && /^E[A-Z]+$/.test(code) && 'syscall' in error;
}

/** The parts of a file-system `Stats` that tell what kind of entry it is. */
export interface FileTypeInfo {
  isFile(): boolean;
  isDirectory(): boolean;
  isCharacterDevice(): boolean;
  isBlockDevice(): boolean;
  isFIFO(): boolean;
  isSocket(): boolean;
}

/** What kind of file-system entry `info` is, in words: 'a regular file', 'a character device', 'a FIFO (named pipe)', … */
export function describeFileType(info: FileTypeInfo): string {
  if (info.isFile()) return 'a regular file';
  if (info.isDirectory()) return 'a folder';
  if (info.isCharacterDevice()) return 'a character device';
  if (info.isBlockDevice()) return 'a block device';
  if (info.isFIFO()) return 'a FIFO (named pipe)';
  if (info.isSocket()) return 'a socket';
  return 'a special file';
}

/**
 * A file or folder that cannot be used as asked: no permission, a file where a folder should be,
 * a read-only or full disk, a device or pipe where a regular file is needed. `reason` is the
 * system's error code (`EACCES`, `ENOTDIR`, …) or a short description.
 */
export class FileAccessError extends VitzooError {
  readonly path: string;
  readonly operation: 'read' | 'write';
  readonly reason: string;
  constructor(path: string, operation: 'read' | 'write', reason: string, hint?: string, options?: { cause?: unknown }) {
    const explained = FILE_SYSTEM_REASONS[reason] ?? reason;
    super('file-access', `Cannot ${operation} ${path}: ${explained}${reason in FILE_SYSTEM_REASONS ? ` (${reason})` : ''}.${hint ? ` ${hint}` : ''}`, options);
    this.name = 'FileAccessError';
    this.path = path;
    this.operation = operation;
    this.reason = reason;
  }

  /**
   * The typed form of a Node file-system error; other errors are returned as they are. `path`
   * defaults to the one the error names; a failed write-side call (mkdir, rename, write, …) is a
   * 'write' whatever `operation` says.
   */
  static from(error: unknown, operation: 'read' | 'write', options: { path?: string; hint?: string } = {}): unknown {
    if (!isFileSystemError(error)) return error;
    const writing = /^(mkdir|rename|symlink|link|unlink|rmdir|rm|write|copyfile|fsync|ftruncate|utime|chmod)$/.test(error.syscall ?? '');
    return new FileAccessError(options.path ?? error.path ?? '(unknown path)', writing ? 'write' : operation, error.code, options.hint, { cause: error });
  }

  static override isInstance = isCode<FileAccessError>('file-access');
  override toJSON() {
    return { ...super.toJSON(), path: this.path, operation: this.operation, reason: this.reason };
  }
}

export class DownloadError extends VitzooError {
  readonly url: string;
  readonly status: number | undefined;
  constructor(url: string, reason: string, status?: number, options?: { cause?: unknown }) {
    super('download-failed', `Download of ${url} failed: ${reason}.`, options);
    this.name = 'DownloadError';
    this.url = url;
    this.status = status;
  }
  static override isInstance = isCode<DownloadError>('download-failed');
}

export class IntegrityError extends VitzooError {
  readonly url: string;
  readonly expected: string;
  readonly actual: string;
  constructor(url: string, expected: string, actual: string) {
    super('integrity-failed', `Integrity check failed for ${url}: expected ${expected}, got ${actual}.`);
    this.name = 'IntegrityError';
    this.url = url;
    this.expected = expected;
    this.actual = actual;
  }
  static override isInstance = isCode<IntegrityError>('integrity-failed');
}

export class UnsupportedError extends VitzooError {
  constructor(message: string) {
    super('unsupported', message);
    this.name = 'UnsupportedError';
  }
  static override isInstance = isCode<UnsupportedError>('unsupported');
}

/** Checks a count option (a batch size, a limit): a positive safe integer, else an `InvalidArgumentError` naming it. */
export function positiveInteger(value: unknown, name: string): number {
  if (!Number.isSafeInteger(value) || (value as number) < 1) throw new InvalidArgumentError(name, `${name} must be a positive integer, got ${String(value)}.`);
  return value as number;
}

export function describeValue(value: unknown): string {
  if (value === undefined) return 'missing';
  try {
    const text = JSON.stringify(value);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  } catch {
    return String(value);
  }
}
