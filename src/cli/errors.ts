// The CLI's own option checks. A user's mistake anywhere (these, the shared option checks, the
// engine's: a bad view, image, i_start, a missing checkpoint, a run folder already in use) is an
// InputError, printed as one line with exit code 2, never a stack trace; anything else is a bug or
// an environment problem and exits 1.
import { InputError } from '../engine/errors.js';

export function parseIntOption(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new InputError(`--${name} must be an integer from ${min} to ${max}, got '${value}'`);
  }
  return n;
}

export function parseFloatOption(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new InputError(`--${name} must be a number from ${min} to ${max}, got '${value}'`);
  }
  return n;
}
