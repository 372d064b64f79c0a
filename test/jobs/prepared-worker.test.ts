// An engine worker started ahead of its runner (what the CLI does while it reads its options): the
// runner takes that thread for its first job, the worker warms the commands it was told of, and a
// prepared worker nobody takes neither outlives discardWorker nor holds its process open.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { discardWorker, type PreparedWorker, prepareWorker } from '../../src/jobs/job-runner.js';
import type { JobResult } from '../../src/jobs/types.js';
import { waitForJob } from '../../src/jobs/wait-for-job.js';
import { cpuHandlersPath, startTestRunner } from '../helpers/start-test-runner.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/** A prepared worker does not hold the event loop open (see the last test): the test does meanwhile. */
function keepAlive(t: import('node:test').TestContext): void {
  const timer = setInterval(() => {}, 1000);
  t.after(() => clearInterval(timer));
}

/** The fixture's 'warmed' job run to its end by a runner (on `prepared`, when given). */
async function runWarmed(t: import('node:test').TestContext, prepared?: PreparedWorker): Promise<JobResult> {
  const { queue } = await startTestRunner(t, path.join(makeTempDir(t), 'illusionist.db'), { runner: { prepared } });
  const who = { platform: 'cli', userId: 'me' } as const;
  const { jobId } = await queue.enqueue({ who, command: 'warmed', params: {}, seed: 1 });
  const job = await waitForJob(queue, jobId, { timeoutMs: 10_000 });
  assert.equal(job.status, 'done', job.error ?? undefined);
  return job.result as JobResult;
}

test('a runner given a prepared worker runs its first job on that thread, warmed for the command named', async (t) => {
  keepAlive(t);
  const prepared = prepareWorker({ handlerModules: [cpuHandlersPath], warm: ['mix'] });
  await prepared.ready;
  const preparedThread = prepared.worker.threadId;
  const result = await runWarmed(t, prepared);
  assert.deepEqual(result.captions, ['mix']);
  assert.equal(result.metrics.threadId, preparedThread, 'the prepared thread ran the job');
});

test('a worker the runner spawns itself is warmed for nothing', async (t) => {
  assert.deepEqual((await runWarmed(t)).captions, ['nothing']);
});

test('discardWorker ends a prepared worker that no runner took', async (t) => {
  keepAlive(t);
  const prepared = prepareWorker({ handlerModules: [cpuHandlersPath], warm: ['mix'] });
  await prepared.ready;
  assert.notEqual(prepared.worker.threadId, -1);
  await discardWorker(prepared);
  assert.equal(prepared.worker.threadId, -1, 'the thread has ended');
});

test('a prepared worker does not keep its process alive', (t) => {
  const jobRunner = fileURLToPath(new URL('../../src/jobs/job-runner.js', import.meta.url));
  // A file, not -e: the worker thread inherits the process's flags, and --input-type is for -e only.
  const script = path.join(makeTempDir(t), 'prepare.mjs');
  writeFileSync(
    script,
    `const { prepareWorker } = await import(${JSON.stringify(pathToFileURL(jobRunner).href)});
const p = prepareWorker({ handlerModules: [${JSON.stringify(cpuHandlersPath)}] });
const alive = setInterval(() => {}, 1000);
await p.ready;
clearInterval(alive);
process.stdout.write('ready');`,
  );
  const started = Date.now();
  const r = spawnSync(process.execPath, [script], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, 'ready');
  assert.ok(Date.now() - started < 15_000, 'the process ended by itself, not at the timeout');
});
