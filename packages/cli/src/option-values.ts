import { InvalidArgumentError } from '@vitzoo/core';

/** A command-line value that must be a positive integer (`option` names the flag in the error). */
export function positiveInteger(value: string, option: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 1) throw new InvalidArgumentError(option, `${option} must be a positive integer, got '${value}'.`);
  return number;
}

/** A whole number option within `min..max`. */
export function integerOption(value: string, option: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const number = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(number) || number < min || number > max) {
    throw new InvalidArgumentError(option, `${option} must be a whole number from ${min}${max === Number.MAX_SAFE_INTEGER ? ' up' : ` to ${max}`}, got '${value}'.`);
  }
  return number;
}
