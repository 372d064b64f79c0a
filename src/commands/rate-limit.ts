// How many requests (commands and buttons that start jobs) one person may send per window. Admins
// are exempt; a request refused for a typo gives its turn back.
import { InputError } from '../engine/errors.js';
import type { Who } from '../store/index.js';

export interface RateLimit {
  /** Requests per window and person. */
  readonly max: number;
  readonly windowMs: number;
}

export const defaultRateLimit: RateLimit = { max: 10, windowMs: 60_000 };

export interface RateLimiter {
  /** Takes one of the person's turns, or throws a 'rate-limited' InputError; the returned function gives it back. */
  take(who: Who, isAdmin: boolean): () => void;
}

export function createRateLimiter(limit: RateLimit, now: () => number = Date.now): RateLimiter {
  const recent = new Map<string, number[]>();
  return {
    take(who, isAdmin) {
      if (isAdmin) return () => {};
      const key = `${who.platform}:${who.userId}`;
      const at = now();
      const times = (recent.get(key) ?? []).filter((t) => at - t < limit.windowMs);
      if (times.length >= limit.max) {
        const waitS = Math.ceil((limit.windowMs - (at - times[0]!)) / 1000);
        recent.set(key, times);
        throw new InputError(
          `you sent ${times.length} requests in the last ${Math.round(limit.windowMs / 1000)} s; the limit is ${limit.max}`,
          `try again in ${waitS} s`,
          'rate-limited',
        );
      }
      times.push(at);
      recent.set(key, times);
      return () => {
        const list = recent.get(key);
        const i = list?.lastIndexOf(at) ?? -1;
        if (i >= 0) list!.splice(i, 1);
      };
    },
  };
}
