// A mistake by the person at the keyboard: printed as one line, exit code 2, never a stack trace.
// Anything else is a bug or an environment problem and exits 1.
import { CheckpointNotFoundError } from '../engine/flow/checkpoints.js';
import { RunExistsError } from '../engine/flow/trainer.js';
import { InputError } from '../engine/techniques/errors.js';
import { CommandError } from '../commands/errors.js';

export class UsageError extends Error {
  override name = 'UsageError';
}

/**
 * What the CLI prints as one line with exit code 2: its own UsageError, and the engine's errors about
 * what was asked for (InputError: bad view, image, i_start…; CheckpointNotFoundError; RunExistsError:
 * a new run pointed at another run's folder), and the option checks shared with chat (CommandError).
 */
export function isUserMistake(err: unknown): err is Error {
  return err instanceof UsageError || err instanceof InputError || err instanceof CommandError || err instanceof CheckpointNotFoundError || err instanceof RunExistsError;
}

export function parseIntOption(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be an integer from ${min} to ${max}, got '${value}'`);
  }
  return n;
}

export function parseFloatOption(name: string, value: string, min: number, max: number): number {
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < min || n > max) {
    throw new UsageError(`--${name} must be a number from ${min} to ${max}, got '${value}'`);
  }
  return n;
}
