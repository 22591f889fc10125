import { InvalidArgumentError } from '@vitzoo/core';

/** A command-line value that must be a positive integer (`option` names the flag in the error). */
export function positiveInteger(value: string, option: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 1) throw new InvalidArgumentError(option, `${option} must be a positive integer, got '${value}'.`);
  return number;
}
