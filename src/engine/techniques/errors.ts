// A mistake in what a user asked for (unknown view, unreadable upload, out-of-range i_start): the CLI
// prints it as one line with exit code 2, and chat front ends reply with it privately.

export class InputError extends Error {
  override name = 'InputError';
  constructor(
    message: string,
    /** What is allowed instead ("i_start: 0 to 32 …"), shown after the message. */
    readonly allowed?: string,
    /** 'missing-option' when something required was not given. */
    readonly code: 'invalid-option' | 'missing-option' = 'invalid-option',
  ) {
    super(message);
  }
}

/** Runs `f`, turning the engine's RangeError (its validation errors list what is allowed) into an InputError. */
export function asInputError<T>(f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof RangeError) throw new InputError(err.message);
    throw err;
  }
}
