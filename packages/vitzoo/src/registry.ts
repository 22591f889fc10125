import { createRegistry, type Architecture, type Registry } from '@vitzoo/core';
import { vit } from '@vitzoo/vit';
import { deit } from '@vitzoo/deit';
import { swin } from '@vitzoo/swin';
import { cait } from '@vitzoo/cait';
import { cswin } from '@vitzoo/cswin';
import { fdvit } from '@vitzoo/fdvit';

export { vit } from '@vitzoo/vit';
export { deit } from '@vitzoo/deit';
export { swin } from '@vitzoo/swin';
export { cait } from '@vitzoo/cait';
export { cswin } from '@vitzoo/cswin';
export { fdvit } from '@vitzoo/fdvit';

/** Every architecture vitzoo ships. */
export const builtinArchitectures: readonly Architecture[] = [vit, deit, swin, cait, cswin, fdvit] as Architecture[];

/** A registry holding every built-in architecture (plus `extra` ones, e.g. third-party plugins). */
export function createDefaultRegistry(extra: readonly Architecture[] = []): Registry {
  return createRegistry([...builtinArchitectures, ...extra]);
}

let shared: Registry | undefined;

/** The registry `loadModel` uses when none is given (created once). */
export function defaultRegistry(): Registry {
  return (shared ??= createDefaultRegistry());
}
