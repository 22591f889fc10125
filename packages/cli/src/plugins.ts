import { readFile, stat } from 'node:fs/promises';
import { isAbsolute, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidArgumentError, type Architecture } from '@vitzoo/core';

function isArchitecture(value: unknown): value is Architecture {
  return typeof value === 'object' && value !== null && (value as Architecture).specificationVersion === 'v1' && typeof (value as Architecture).id === 'string';
}

/** A folder holding a package resolves to its package.json `exports['.']` import entry (or `main`). */
async function packageEntry(path: string): Promise<string> {
  const info = await stat(path).catch(() => null);
  if (!info) throw new InvalidArgumentError('plugin', `Plugin path ${path} does not exist.`);
  if (!info.isDirectory()) return path;
  const manifest = JSON.parse(await readFile(join(path, 'package.json'), 'utf8').catch(() => '{}')) as {
    exports?: string | Record<string, string | Record<string, string>>;
    main?: string;
  };
  const root = typeof manifest.exports === 'string' ? manifest.exports : manifest.exports?.['.'];
  const entry = typeof root === 'string' ? root : (root?.import ?? root?.default ?? manifest.main);
  if (!entry) throw new InvalidArgumentError('plugin', `Plugin folder ${path} has no package.json with an exports '.' entry or main.`);
  return join(path, entry);
}

/**
 * Loads third-party architectures from a module: its default export, or an `architectures` array,
 * or every exported object that is an Architecture (specificationVersion 'v1').
 */
export async function loadPlugin(specifier: string, cwd: string): Promise<Architecture[]> {
  const isPath = specifier.startsWith('.') || isAbsolute(specifier);
  const target = isPath ? pathToFileURL(await packageEntry(resolve(cwd, specifier))).href : specifier;
  let module: Record<string, unknown>;
  try {
    module = (await import(target)) as Record<string, unknown>;
  } catch (error) {
    throw new InvalidArgumentError('plugin', `Cannot load plugin '${specifier}': ${(error as Error).message.split('\n')[0]}`);
  }
  const candidates: unknown[] = [];
  if (Array.isArray(module.architectures)) candidates.push(...module.architectures);
  else if (isArchitecture(module.default)) candidates.push(module.default);
  else candidates.push(...Object.values(module).filter(isArchitecture));
  const architectures = candidates.filter(isArchitecture);
  if (architectures.length === 0) {
    throw new InvalidArgumentError('plugin', `Plugin '${specifier}' exports no architecture (an object with specificationVersion 'v1').`);
  }
  return architectures;
}
