import { InvalidArgumentError } from '@vitzoo/core';

const SEGMENT = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/**
 * Checks a file name inside a repo (`model.safetensors`, `onnx/model.onnx`) before anything uses
 * it as a path: relative, '/'-separated, no '.' or '..' segments, no backslashes, no drive letters,
 * no control characters. Throws `InvalidArgumentError` (argument 'file') otherwise.
 */
export function checkRepoFileName(file: string): string {
  const refuse = (why: string): never => {
    throw new InvalidArgumentError('file', `Refusing repo file name ${JSON.stringify(file)}: ${why}. File names must be relative paths inside the repo, like 'onnx/model.onnx'.`);
  };
  if (typeof file !== 'string' || file.length === 0) refuse('it is empty');
  if (file.length > 512) refuse('it is longer than 512 characters');
  if (file.includes('\\')) refuse('it contains a backslash');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(file)) refuse('it contains control characters');
  if (file.startsWith('/') || /^[A-Za-z]:/.test(file)) refuse('it is an absolute path');
  for (const segment of file.split('/')) {
    if (segment === '' ) refuse('it has an empty path segment');
    if (segment === '.' || segment === '..') refuse(`it has a '${segment}' segment (path traversal)`);
    if (segment.includes(':')) refuse("it contains ':'");
  }
  return file;
}

/** Checks an `org/repo` (or bare `repo`) id: letters, digits, '.', '_', '-', no '..'. */
export function checkRepoId(repo: string): string {
  const parts = repo.split('/');
  if (parts.length > 2 || parts.some((part) => !SEGMENT.test(part) || part.includes('..') || part.length > 96)) {
    throw new InvalidArgumentError('repo', `Invalid hub repo id ${JSON.stringify(repo)}: expected 'org/name' with letters, digits, '.', '_' or '-'.`);
  }
  return repo;
}

/** Checks a revision (branch, tag, commit, 'refs/pr/1'): used in URLs (encoded) and as a folder name under refs/. */
export function checkRevision(revision: string): string {
  const parts = revision.split('/');
  if (revision.length === 0 || revision.length > 200 || revision.includes('\\') || parts.some((part) => part === '' || part === '.' || part === '..' || !/^[A-Za-z0-9._-]+$/.test(part))) {
    throw new InvalidArgumentError('revision', `Invalid revision ${JSON.stringify(revision)}: use a branch, tag or commit hash (letters, digits, '.', '_', '-', '/').`);
  }
  return revision;
}

/** A 40-hex git commit hash. */
export function isCommitHash(value: string): boolean {
  return /^[0-9a-f]{40}$/.test(value);
}

/** A 64-hex sha256 digest. */
export function isSha256(value: string): boolean {
  return /^[0-9a-f]{64}$/.test(value);
}
