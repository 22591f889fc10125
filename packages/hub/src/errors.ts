import { FileNotFoundError } from '@vitzoo/core';

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
  constructor(source: string, missing: readonly string[], cacheDir: string) {
    super(
      cacheDir,
      `Offline mode: ${source} is not fully cached; missing ${missing.map((file) => `'${file}'`).join(', ')}. ` +
        `Fetch it once online (\`vitzoo download ${source}\`) or unset VITZOO_OFFLINE / HF_HUB_OFFLINE. Cache folder`,
    );
    this.name = 'OfflineCacheMissError';
    this.source = source;
    this.missing = missing;
  }
  override toJSON() {
    return { ...super.toJSON(), source: this.source, missing: this.missing };
  }
}
