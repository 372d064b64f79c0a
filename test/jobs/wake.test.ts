// The waker that following a job and the web console's event stream sleep on.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWaker } from '../../src/jobs/wake.js';

test('a sleep ends early when woken, and with false when its time passes first', async () => {
  const waker = createWaker();
  const long = waker.sleep(60_000);
  waker.wake();
  assert.equal(await long, true);
  assert.equal(await waker.sleep(5), false);
});

test('news that arrives between two sleeps is not lost: the next sleep returns at once, once', async () => {
  const waker = createWaker();
  waker.wake();
  waker.wake();
  assert.equal(await waker.sleep(60_000), true);
  assert.equal(await waker.sleep(5), false, 'two wakes while awake are one piece of news');
});
