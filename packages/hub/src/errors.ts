import { DownloadError, FileNotFoundError, VitzooError } from '@vitzoo/core';

/** The hub answered 404 for a file of a repo (wrong repo, revision or file name, or a private repo without HF_TOKEN). */
export class HubFileNotFoundError extends FileNotFoundError {
  readonly repo: string;
  readonly revision: string;
  readonly file: string;
  readonly url: string;
  constructor(repo: string, revision: string, file: string, url: string) {
    super(url, `File '${file}' of hub repo '${repo}' (revision '${revision}'; check the repo id and revision, and set HF_TOKEN for a private repo)`);
    this.name = 'HubFileNotFoundError';
    this.repo = repo;
    this.revision = revision;
    this.file = file;
    this.url = url;
  }
  override toJSON() {
    return { ...super.toJSON(), repo: this.repo, revision: this.revision, file: this.file, url: this.url };
  }
}

/** Offline mode (VITZOO_OFFLINE=1, HF_HUB_OFFLINE=1 or `offline: true`) and files the cache does not hold. */
export class OfflineCacheMissError extends FileNotFoundError {
  readonly source: string;
  readonly missing: readonly string[];
  /** What turned offline mode on: 'VITZOO_OFFLINE', 'HF_HUB_OFFLINE' or 'option' (`offline: true`, the CLI's --offline). */
  readonly offlineBy: OfflineSetting | undefined;
  constructor(source: string, missing: readonly string[], cacheDir: string, offlineBy?: OfflineSetting) {
    const by = offlineBy === undefined ? '' : offlineBy === 'option' ? ' (--offline, the offline option)' : ` (${offlineBy} is set)`;
    const undo =
      offlineBy === undefined
        ? 'unset VITZOO_OFFLINE / HF_HUB_OFFLINE'
        : offlineBy === 'option'
          ? 'run without --offline (offline: false)'
          : `unset ${offlineBy}`;
    super(
      cacheDir,
      `Offline mode${by}: ${source} is not fully cached; missing ${missing.map((file) => `'${file}'`).join(', ')}. ` +
        `Fetch it once online (\`vitzoo download ${source}\`: ${undo}). Cache folder`,
    );
    this.name = 'OfflineCacheMissError';
    this.source = source;
    this.missing = missing;
    this.offlineBy = offlineBy;
  }
  override toJSON() {
    return { ...super.toJSON(), source: this.source, missing: this.missing, offlineBy: this.offlineBy };
  }
}

/** What turned offline mode on. */
export type OfflineSetting = 'VITZOO_OFFLINE' | 'HF_HUB_OFFLINE' | 'option';

/**
 * A download stopped at a limit: a body longer than its announced size (`'announced-size'`), a file
 * with no announced size past `maxDownloadBytes` or a JSON file past 16 MiB (`'size-cap'`), or a
 * file not finished within `deadlineMs` (`'deadline'`). Nothing of it is kept (a deadline keeps the
 * bytes received for resuming).
 */
export class DownloadLimitError extends DownloadError {
  readonly limit: 'announced-size' | 'size-cap' | 'deadline';
  /** Bytes (size limits) or milliseconds (deadline). */
  readonly value: number;
  constructor(url: string, limit: DownloadLimitError['limit'], value: number, reason: string) {
    super(url, reason);
    this.name = 'DownloadLimitError';
    this.limit = limit;
    this.value = value;
  }
  static override isInstance = (error: unknown): error is DownloadLimitError => VitzooError.isInstance(error) && error.name === 'DownloadLimitError';
  override toJSON() {
    return { ...super.toJSON(), url: this.url, limit: this.limit, value: this.value };
  }
}

/** The server sent something else than the file asked for: an HTML page (a login wall) or text that is not JSON. Nothing is cached. */
export class UnexpectedContentError extends DownloadError {
  readonly file: string;
  readonly expected: string;
  readonly received: string;
  constructor(url: string, file: string, expected: string, received: string) {
    super(url, `expected ${expected} for '${file}' but the server sent ${received}; nothing was cached (check the URL, and HF_TOKEN for a gated or private repo)`);
    this.name = 'UnexpectedContentError';
    this.file = file;
    this.expected = expected;
    this.received = received;
  }
  static override isInstance = (error: unknown): error is UnexpectedContentError => VitzooError.isInstance(error) && error.name === 'UnexpectedContentError';
  override toJSON() {
    return { ...super.toJSON(), url: this.url, file: this.file, expected: this.expected, received: this.received };
  }
}
