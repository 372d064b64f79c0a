// The runner waits for a native call to return before it ends its worker, but a worker that dies
// inside one (its count never comes down) must not hold that wait, and with it stop(), forever.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { startTestRunner } from '../helpers/start-test-runner.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const nativeHandlers = fileURLToPath(new URL('../fixtures/native-handlers.js', import.meta.url));

test('a worker that dies inside a native call while the runner waits to end it: the wait ends with the worker', async (t) => {
  const { store, queue, runner } = await startTestRunner(t, path.join(makeTempDir(t), 'illusionist.db'), {
    runner: { handlerModules: [nativeHandlers] },
  });
  const { jobId } = await queue.enqueue({
    who: { platform: 'discord', userId: 'alice' },
    command: 'native-then-exit',
    params: { exitMs: 500 },
    seed: 1,
  });
  const deadline = Date.now() + 20_000;
  while (store.jobs.get(jobId)?.progressStep !== 1) {
    assert.ok(Date.now() < deadline, 'the job reached its native call');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  // The worker is inside the call now and ends by itself within exitMs: restartWorker must return then.
  let timer: NodeJS.Timeout | undefined;
  const outcome = await Promise.race([
    runner.restartWorker().then(() => 'returned'),
    new Promise((resolve) => (timer = setTimeout(() => resolve('still waiting'), 15_000))),
  ]);
  clearTimeout(timer);
  assert.equal(outcome, 'returned');
});
