// The one error type for a mistake or refusal meant for the person who asked (an unknown view, an
// out-of-range i_start, an unreadable upload, a rate limit): every layer throws it, and each front end
// shows it its own way: the CLI as one line with exit code 2, chat as a private error reply, the web
// console with an HTTP status chosen by `code`. Anything else is a bug or an environment problem.
// Modelled on Bolt's CodedError: the code is for programs (icons, HTTP statuses), the text for people.

/** Why a request was refused. */
export type InputErrorCode =
  | 'unknown-command'
  | 'missing-option'
  | 'invalid-option'
  | 'not-an-image'
  | 'too-large'
  | 'prompt-too-long'
  | 'blocked-prompt'
  | 'not-allowed'
  | 'rate-limited'
  | 'queue-full'
  | 'quota'
  | 'banned'
  | 'model-not-installed'
  /** The job queue (Redis mode) does not answer; nothing was started. */
  | 'unavailable'
  | 'not-found';

export class InputError extends Error {
  override name = 'InputError';
  constructor(
    /** What was wrong, for the person who asked: "view 'spin' is not a view". */
    message: string,
    /** What is allowed instead ("i_start: 0 to 32 …"), shown after the message. */
    readonly allowed?: string,
    readonly code: InputErrorCode = 'invalid-option',
  ) {
    super(message);
  }
}
