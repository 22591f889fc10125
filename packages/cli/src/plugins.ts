import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidArgumentError, type Architecture } from '@vitzoo/core';

function isArchitecture(value: unknown): value is Architecture {
  return typeof value === 'object' && value !== null && (value as Architecture).specificationVersion === 'v1' && typeof (value as Architecture).id === 'string';
}

/**
 * Loads third-party architectures from a module: its default export, or an `architectures` array,
 * or every exported object that is an Architecture (specificationVersion 'v1').
 */
export async function loadPlugin(specifier: string, cwd: string): Promise<Architecture[]> {
  const isPath = specifier.startsWith('.') || isAbsolute(specifier);
  const target = isPath ? pathToFileURL(resolve(cwd, specifier)).href : specifier;
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
