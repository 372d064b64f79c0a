// Any error as the reply its requester sees: a user's mistake or a refusal (InputError, and the
// queue's and gallery's own refusals) with its code and what is allowed; anything else is logged
// and answered with a short apology, never with its message (it may name server paths).
import { InputError } from '../engine/errors.js';
import { QueueRejectedError } from '../jobs/index.js';
import { GalleryError, isStorageFull, StorageFullError } from '../store/index.js';
import type { ErrorCode, ErrorReply } from './contract.js';

const rejectionCodes: Record<string, ErrorCode> = {
  'queue-full': 'queue-full',
  'user-limit': 'rate-limited',
  quota: 'quota',
  banned: 'banned',
  'not-allowed': 'not-allowed',
  'not-found': 'not-found',
  unavailable: 'unavailable',
};

export function toErrorReply(
  error: unknown,
  log: (message: string, error: unknown) => void = console.error,
): ErrorReply {
  if (error instanceof InputError)
    return { type: 'error', code: error.code, message: error.message, allowed: error.allowed };
  if (error instanceof QueueRejectedError) {
    const allowed =
      error.code === 'queue-full'
        ? 'try again in a few minutes'
        : error.code === 'user-limit'
          ? 'wait for a job to finish, or /cancel one'
          : undefined;
    return { type: 'error', code: rejectionCodes[error.code] ?? 'not-allowed', message: error.message, allowed };
  }
  if (error instanceof GalleryError) {
    return {
      type: 'error',
      code: error.code === 'not-found' || error.code === 'not-done' ? 'not-found' : 'not-allowed',
      message: error.message,
      allowed: undefined,
    };
  }
  if (error instanceof StorageFullError || isStorageFull(error)) {
    // The operator reads the path in the log; the person is told what happened to their request.
    log("command service: the data folder's disk is full:", (error as Error).message);
    return {
      type: 'error',
      code: 'queue-full',
      message: "the bot's disk is full, so your request was not queued",
      allowed: 'try again later; the operator has been told in the log',
    };
  }
  log('command service:', error);
  return {
    type: 'error',
    code: 'internal',
    message: "something went wrong on the bot's side (it was logged); please try again",
    allowed: undefined,
  };
}
