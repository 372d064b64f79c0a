// The engine worker end to end with real CPU-bound handlers: results and seeds, a free main event
// loop, ordering, cancellation within a step, time limits, worker crashes, and training pausing for images.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { waitForJob } from '../../src/jobs/wait-for-job.js';
import type { JobEvent, JobResult, JobSpec } from '../../src/jobs/types.js';
import type { Who } from '../../src/store/index.js';
import { startTestRunner } from '../helpers/start-test-runner.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const alice: Who = { platform: 'discord', userId: 'alice' };
const bob: Who = { platform: 'slack', userId: 'bob' };

function mix(who: Who, seed: number, params: object = {}, extra: Partial<JobSpec> = {}): JobSpec {
  return { who, command: 'mix', params: { steps: 5, work: 50_000, ...params }, seed, ...extra };
}

function dbFile(t: import('node:test').TestContext): string {
  return path.join(makeTempDir(t), 'illusionist.db');
}

test('runs a job to a result with files, captions, seed, timings and progress events', async (t) => {
  const { queue, store } = await startTestRunner(t, dbFile(t));
  const events: JobEvent[] = [];
  const { jobId } = await queue.enqueue(mix(alice, 42));
  const job = await waitForJob(queue, jobId, { onEvent: (e) => events.push(e), timeoutMs: 10_000 });
  assert.equal(job.status, 'done');
  const result = job.result as JobResult;
  assert.equal(result.seed, 42);
  assert.equal(result.files.length, 1);
  assert.equal(result.files[0]?.caption, 'mix of seed 42');
  assert.deepEqual(result.captions, ['seed 42, 5 steps']);
  assert.ok(result.timings.runMs >= 0 && result.timings.handlerMs > 0);
  assert.equal(fs.readFileSync(result.files[0]!.path).length, 64);
  const progress = events.filter((e) => e.type === 'progress');
  assert.deepEqual(
    progress.map((e) => (e.type === 'progress' ? `${e.step}/${e.total}` : '')),
    ['1/5', '2/5', '3/5', '4/5', '5/5'],
  );
  assert.ok(progress[0]?.type === 'progress' && progress[0].preview?.data.length === 8);
  assert.equal(store.jobs.get(jobId)?.progressStep, 5);
  assert.equal(store.seeds.get(jobId)?.outputSha256, result.files[0]?.sha256);
});

test('same seed, same output row; another seed, another output', async (t) => {
  const { queue, store } = await startTestRunner(t, dbFile(t));
  const ids = [];
  for (const [who, seed] of [
    [alice, 7],
    [bob, 7],
    [alice, 8],
  ] as const) {
    const { jobId } = await queue.enqueue(mix(who, seed));
    ids.push(jobId);
    await waitForJob(queue, jobId, { timeoutMs: 10_000 });
  }
  const [a, b, c] = ids.map((id) => store.artifacts.listForJob(id!)[0]!.sha256);
  assert.equal(a, b);
  assert.notEqual(a, c);
  assert.equal(store.db.prepare('SELECT count(*) FROM artifacts').pluck().get(), 2);
  assert.deepEqual(
    store.seeds.listSameRecipe(ids[0]!).map((r) => r.jobId),
    [ids[0], ids[1]],
  );
});

test("the main thread's event loop keeps running while a CPU-heavy job runs", async (t) => {
  // The handler spins without yielding until the main thread, counting its own timer ticks, tells it
  // to stop: had the job blocked this thread, the ticks could never come and the job never end. No
  // tick rate is assumed, so a loaded machine only makes it slower.
  const { queue, store } = await startTestRunner(t, dbFile(t));
  const flag = path.join(makeTempDir(t), 'stop-spinning');
  const { jobId } = await queue.enqueue({ who: alice, command: 'spin-until-file', params: { path: flag }, seed: 1 });
  const spinning = new Promise<void>((resolve) => {
    const unsubscribe = queue.subscribe((e) => {
      if (e.jobId === jobId && e.type === 'progress' && e.step === 1) {
        unsubscribe();
        resolve();
      }
    });
  });
  const done = waitForJob(queue, jobId, { timeoutMs: 60_000 });
  await spinning;
  let ticks = 0;
  const statusAtTenthTick = await new Promise<string | undefined>((resolve) => {
    const timer = setInterval(() => {
      ticks += 1;
      if (ticks < 10) return;
      clearInterval(timer);
      resolve(store.jobs.get(jobId)?.status);
      fs.writeFileSync(flag, '');
    }, 5);
  });
  const job = await done;
  assert.equal(statusAtTenthTick, 'running', 'ten timer ticks came while the job was mid-step');
  assert.equal(job.status, 'done');
  assert.ok((job.result as JobResult).metrics.rounds! > 0, 'the handler was spinning on the CPU meanwhile');
});

test('jobs run in FIFO order across users, interactive before training', async (t) => {
  const { queue, runner } = await startTestRunner(t, dbFile(t), { start: false });
  const order: number[] = [];
  queue.subscribe((e) => {
    if (e.type === 'started') order.push(e.jobId);
  });
  const train = await queue.enqueue({ ...mix(bob, 1), command: 'train', kind: 'training' });
  const a1 = await queue.enqueue(mix(alice, 2));
  const b1 = await queue.enqueue(mix(bob, 3));
  const a2 = await queue.enqueue(mix(alice, 4));
  await runner.start();
  await waitForJob(queue, train.jobId, { timeoutMs: 10_000 });
  assert.deepEqual(order, [a1.jobId, b1.jobId, a2.jobId, train.jobId]);
});

test('cancellation by the owner takes effect within one step', async (t) => {
  const { queue } = await startTestRunner(t, dbFile(t));
  const steps: number[] = [];
  // Steps of tens of milliseconds, long beside the progress messages' latency even on a loaded CPU.
  const { jobId } = await queue.enqueue(mix(alice, 1, { steps: 200, work: 20_000_000 }));
  let cancelledAt = -1;
  const done = waitForJob(queue, jobId, {
    timeoutMs: 20_000,
    onEvent: (e) => {
      if (e.type !== 'progress') return;
      steps.push(e.step);
      if (e.step === 3) {
        cancelledAt = e.step;
        void queue.cancel(jobId, alice);
      }
    },
  });
  const job = await done;
  assert.equal(job.status, 'cancelled');
  assert.equal(job.cancelledBy, 'discord:alice');
  // The step running when the request arrived may finish; no later one starts.
  assert.ok(
    Math.max(...steps) <= cancelledAt + 1,
    `last step ${Math.max(...steps)} after cancelling at ${cancelledAt}`,
  );
});

test('an admin can cancel a job that waits on its abort signal', async (t) => {
  const { queue } = await startTestRunner(t, dbFile(t), { store: { users: { admins: ['slack:mod'] } } });
  const { jobId } = await queue.enqueue({ who: alice, command: 'wait-signal', params: {}, seed: 1 });
  await new Promise((resolve) => setTimeout(resolve, 100));
  assert.equal(await queue.cancel(jobId, { platform: 'slack', userId: 'mod' }), 'requested');
  const job = await waitForJob(queue, jobId, { timeoutMs: 5_000 });
  assert.equal(job.status, 'cancelled');
});

test('per-job time limits fail a slow job; one that never yields is cut off by restarting the worker', async (t) => {
  const { queue } = await startTestRunner(t, dbFile(t), { runner: { stopGraceMs: 300 } });
  const slow = await queue.enqueue(mix(alice, 1, { steps: 1000, work: 1_000_000 }, { timeLimitMs: 150 }));
  const stuck = await queue.enqueue({
    who: bob,
    command: 'never-yields',
    params: { ms: 20_000 },
    seed: 1,
    timeLimitMs: 100,
  });
  const after = await queue.enqueue(mix(bob, 3));
  assert.match(
    (await waitForJob(queue, slow.jobId, { timeoutMs: 10_000 })).error ?? '',
    /longer than its time limit of 0.1 s/,
  );
  const started = Date.now();
  const stuckJob = await waitForJob(queue, stuck.jobId, { timeoutMs: 10_000 });
  assert.equal(stuckJob.status, 'failed');
  assert.match(stuckJob.error ?? '', /time limit/);
  assert.ok(Date.now() - started < 5_000);
  assert.equal(
    (await waitForJob(queue, after.jobId, { timeoutMs: 10_000 })).status,
    'done',
    'the restarted worker runs the next job',
  );
});

test('a handler error fails the job with its message; an unknown command lists the known ones', async (t) => {
  const { queue } = await startTestRunner(t, dbFile(t), { store: { users: { defaults: { maxActiveJobs: 5 } } } });
  const bad = await queue.enqueue({ who: alice, command: 'fail', params: { digit: 'x' }, seed: 1 });
  const unknown = await queue.enqueue({ who: alice, command: 'paint', params: {}, seed: 1 });
  assert.equal((await waitForJob(queue, bad.jobId)).error, 'cannot draw {"digit":"x"}');
  assert.match(
    (await waitForJob(queue, unknown.jobId)).error ?? '',
    /no engine handler for command "paint" \(registered: crash-always, fail, mix/,
  );
});

test('a worker crash re-queues the job, which completes on a fresh worker; a job that always crashes fails after N attempts', async (t) => {
  const { queue } = await startTestRunner(t, dbFile(t));
  const events: string[] = [];
  const crashOnce = await queue.enqueue(mix(alice, 5, { crashAtStep: 2 }));
  const job = await waitForJob(queue, crashOnce.jobId, { timeoutMs: 10_000, onEvent: (e) => events.push(e.type) });
  assert.equal(job.status, 'done');
  assert.equal(job.attempts, 2);
  assert.ok(events.includes('requeued'));

  const always = await queue.enqueue({ who: bob, command: 'crash-always', params: {}, seed: 1, maxAttempts: 2 });
  const failed = await waitForJob(queue, always.jobId, { timeoutMs: 10_000 });
  assert.equal(failed.status, 'failed');
  assert.match(failed.error ?? '', /gave up after 2 attempts: the engine worker stopped unexpectedly \(exit code 4\)/);
});

test('a training run pauses for interactive jobs between steps and resumes without losing progress', async (t) => {
  const file = dbFile(t);
  // The reference: the same training run, uninterrupted.
  const reference = await startTestRunner(t, path.join(path.dirname(file), 'ref.db'));
  const refJob = await reference.queue.enqueue({
    ...mix(bob, 9, { steps: 30, work: 1_000_000 }),
    command: 'train',
    kind: 'training',
  });
  const refResult = (await waitForJob(reference.queue, refJob.jobId, { timeoutMs: 20_000 })).result as JobResult;

  const { queue } = await startTestRunner(t, file);
  const log: string[] = [];
  queue.subscribe((e) => {
    if (e.type !== 'progress') log.push(`${e.type}#${e.jobId}`);
  });
  const train = await queue.enqueue({
    ...mix(bob, 9, { steps: 30, work: 1_000_000 }),
    command: 'train',
    kind: 'training',
  });
  let image: Promise<unknown> | undefined;
  let imageId = -1;
  await waitForJob(queue, train.jobId, {
    timeoutMs: 20_000,
    onEvent: (e) => {
      if (e.type === 'progress' && e.step === 5 && image === undefined) {
        image = queue.enqueue(mix(alice, 1)).then(({ jobId }) => (imageId = jobId));
      }
    },
  });
  const trained = (await queue.get(train.jobId))!;
  assert.equal(trained.status, 'done');
  const pauseAt = log.indexOf(`paused#${train.jobId}`);
  assert.ok(pauseAt >= 0, `training paused: ${log.join(' ')}`);
  assert.ok(log.indexOf(`done#${imageId}`) > pauseAt, 'the image finished while training was paused');
  assert.ok(log.indexOf(`done#${imageId}`) < log.indexOf(`resumed#${train.jobId}`));
  assert.deepEqual(
    (trained.result as JobResult).files[0]?.sha256,
    refResult.files[0]?.sha256,
    'same result as uninterrupted',
  );
});

test("a second process starting on the same database does not re-queue the first one's running job", async (t) => {
  const file = dbFile(t);
  const first = await startTestRunner(t, file);
  const { jobId } = await first.queue.enqueue(mix(alice, 1, { steps: 40, work: 1_000_000 }));
  const requeued: number[] = [];
  first.queue.subscribe((e) => e.type === 'requeued' && requeued.push(e.jobId));
  await waitForJobStep(first.queue, jobId, 2);
  const second = await startTestRunner(t, file);
  second.queue.subscribe((e) => e.type === 'requeued' && requeued.push(e.jobId));
  const job = await waitForJob(first.queue, jobId, { timeoutMs: 20_000 });
  assert.equal(job.status, 'done');
  assert.equal(job.attempts, 1);
  assert.deepEqual(requeued, []);
});

function waitForJobStep(
  queue: import('../../src/jobs/queue.js').QueueClient,
  jobId: number,
  step: number,
): Promise<void> {
  return new Promise((resolve) => {
    const off = queue.subscribe((e) => {
      if (e.type === 'progress' && e.jobId === jobId && e.step >= step) {
        off();
        resolve();
      }
    });
  });
}
