// The one error type of the commands layer: a refusal meant for the person who asked, carrying
// what was wrong and what is allowed; the service turns it into a private `error` reply.
import type { ErrorCode, ErrorReply } from './contract.js';

export class CommandError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly allowed?: string,
  ) {
    super(message);
    this.name = 'CommandError';
  }

  toReply(): ErrorReply {
    return { type: 'error', code: this.code, message: this.message, allowed: this.allowed };
  }
}
