// The per-person rate limit, on an injected clock.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InputError } from '../../src/engine/errors.js';
import { createRateLimiter } from '../../src/commands/rate-limit.js';

const alice = { platform: 'web' as const, userId: 'alice' };
const bob = { platform: 'discord' as const, userId: 'alice' };

test('each person has max requests per window; the refusal says when to try again; admins are exempt', () => {
  let now = 1_000_000;
  const limiter = createRateLimiter({ max: 2, windowMs: 60_000 }, () => now);
  limiter.take(alice, false);
  now += 10_000;
  limiter.take(alice, false);
  limiter.take(bob, false); // the same id on another platform is another person
  assert.throws(
    () => limiter.take(alice, false),
    (e: unknown) =>
      e instanceof InputError &&
      e.code === 'rate-limited' &&
      /2 requests in the last 60 s; the limit is 2/.test(e.message) &&
      e.allowed === 'try again in 50 s',
  );
  for (let i = 0; i < 5; i++) limiter.take(alice, true);
  now += 50_000; // the first turn has left the window
  limiter.take(alice, false);
});

test('a turn given back (a request refused for a typo) can be taken again', () => {
  const limiter = createRateLimiter({ max: 1, windowMs: 60_000 }, () => 5);
  const giveBack = limiter.take(alice, false);
  assert.throws(() => limiter.take(alice, false), InputError);
  giveBack();
  limiter.take(alice, false);
});
