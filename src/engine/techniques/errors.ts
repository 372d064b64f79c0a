// A mistake in what a user asked for (unknown view, unreadable upload, out-of-range i_start): the CLI
// prints it as one line with exit code 2, and chat front ends reply with it privately.

export class InputError extends Error {
  override name = 'InputError';
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
