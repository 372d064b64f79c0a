// Admission and bookkeeping of the SQLite queue without a worker: several users, per-user and
// global limits, bans and quotas (typed, readable errors), positions, and who may cancel.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import { QueueRejectedError } from '../../src/jobs/queue.js';
import { SqliteQueue } from '../../src/jobs/sqlite-queue.js';
import { waitForJob } from '../../src/jobs/wait-for-job.js';
import type { JobEvent, JobSpec } from '../../src/jobs/types.js';
import { openStore, type Who } from '../../src/store/index.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const alice: Who = { platform: 'discord', userId: 'alice' };
const bob: Who = { platform: 'slack', userId: 'bob' };
const admin: Who = { platform: 'discord', userId: 'root' };

function spec(who: Who, seed = 1, extra: Partial<JobSpec> = {}): JobSpec {
  return { who, command: 'mix', params: { steps: 3 }, seed, ...extra };
}

function rejected(code: string, pattern: RegExp) {
  return (error: unknown) => error instanceof QueueRejectedError && error.code === code && pattern.test(error.message);
}

function openQueue(t: import('node:test').TestContext, options: ConstructorParameters<typeof SqliteQueue>[1] = {}) {
  const store = openStore(path.join(makeTempDir(t), 'q.db'), {
    users: { admins: ['discord:root'], defaults: { maxActiveJobs: 2, dailyQuota: 4 } },
  });
  t.after(() => store.close());
  return { store, queue: new SqliteQueue(store, options) };
}

test('jobs from several users get positions in FIFO order, training after interactive', async (t) => {
  const { queue } = openQueue(t);
  const events: JobEvent[] = [];
  queue.subscribe((e) => events.push(e));
  const train = await queue.enqueue(spec(bob, 1, { command: 'train', kind: 'training' }));
  const a = await queue.enqueue(spec(alice, 2));
  const b = await queue.enqueue(spec(bob, 3));
  assert.equal(train.position, 1);
  assert.equal(a.position, 1);
  assert.equal(b.position, 2);
  assert.equal(await queue.position(train.jobId), 3);
  assert.deepEqual(
    events.map((e) => e.type),
    ['queued', 'queued', 'queued'],
  );
  const view = await queue.get(b.jobId);
  assert.equal(view?.position, 2);
  assert.equal(view?.status, 'queued');
});

test('refuses with typed, readable errors: per-user limit, full queue, quota, ban', async (t) => {
  const { store, queue } = openQueue(t, { maxQueued: 6 });
  await queue.enqueue(spec(alice));
  await queue.enqueue(spec(alice));
  await assert.rejects(
    queue.enqueue(spec(alice)),
    rejected('user-limit', /already have 2 jobs waiting or running \(the limit is 2\)/),
  );
  await queue.enqueue(spec(bob));
  // Admins are exempt from per-user limits, not from the queue length.
  for (let i = 0; i < 3; i++) await queue.enqueue(spec(admin));
  await assert.rejects(queue.enqueue(spec(bob)), rejected('queue-full', /the queue is full \(6 jobs waiting\)/));
  assert.equal(store.jobs.countQueued(), 6);

  // Quota: 4 per day; finishing jobs frees the active slots but not the quota.
  for (const job of store.jobs.list({ who: alice })) store.jobs.markCancelled(job.id);
  await queue.enqueue(spec(alice));
  store.jobs.markCancelled(store.jobs.list({ who: alice })[0]!.id);
  await queue.enqueue(spec(alice));
  await assert.rejects(queue.enqueue(spec(alice)), rejected('quota', /used your 4 jobs/));

  store.users.ban(bob, admin, 'spam');
  await assert.rejects(queue.enqueue(spec(bob)), rejected('banned', /banned.*spam/));
});

test('only the owner or an admin can cancel; a queued job is cancelled at once', async (t) => {
  const { queue } = openQueue(t);
  const a = await queue.enqueue(spec(alice));
  const a2 = await queue.enqueue(spec(alice));
  await assert.rejects(queue.cancel(a.jobId, bob), rejected('not-allowed', /only the owner/));
  await assert.rejects(queue.cancel(999, alice), rejected('not-found', /no job #999/));
  assert.equal(await queue.cancel(a.jobId, alice), 'cancelled');
  assert.equal(await queue.cancel(a2.jobId, admin), 'cancelled');
  assert.equal((await queue.get(a2.jobId))?.cancelledBy, 'discord:root');
  assert.equal(await queue.cancel(a.jobId, alice), 'not-active');
});

test('the seed recipe is recorded with each job', async (t) => {
  const { store, queue } = openQueue(t, { engineVersion: '1.2.3' });
  const { jobId } = await queue.enqueue(spec(alice, 77, { params: { b: 1, a: [2, 3] }, model: 'mnist-flow' }));
  const recipe = store.seeds.get(jobId)!;
  assert.equal(recipe.seed, 77);
  assert.equal(recipe.engineVersion, '1.2.3');
  assert.deepEqual(recipe.params, { a: [2, 3], b: 1 });
  await assert.rejects(queue.enqueue(spec(bob, 1, { checkpointId: 42 })), rejected('not-found', /no checkpoint #42/));
});

test("another connection's changes to a job reach subscribers as events, once each", async (t) => {
  const file = path.join(makeTempDir(t), 'shared.db');
  const here = openStore(file);
  const there = openStore(file);
  t.after(() => {
    here.close();
    there.close();
  });
  const watching = new SqliteQueue(here, { watchIntervalMs: 10 });
  const other = new SqliteQueue(there, { progressWriteIntervalMs: 0 });
  const events: string[] = [];
  watching.subscribe((e) => events.push(e.type === 'progress' ? `progress ${e.step}/${e.total}` : e.type));
  const settle = () => new Promise((resolve) => setTimeout(resolve, 60));

  const mine = await watching.enqueue(spec(alice, 1));
  const theirs = await other.enqueue(spec(bob, 2));
  await settle();
  const workerId = await other.registerWorker();
  const claimed = await other.claim(workerId);
  assert.equal(claimed?.view.id, mine.jobId);
  await settle();
  await other.reportProgress(mine.jobId, { step: 1, total: 3 });
  await settle();
  await watching.cancel(theirs.jobId, bob);
  await other.reportProgress(mine.jobId, { step: 3, total: 3 });
  await other.complete(mine.jobId, { files: [] }, 5);
  await settle();
  assert.deepEqual(events, ['queued', 'queued', 'started', 'progress 1/3', 'cancelled', 'progress 3/3', 'done']);
  const done = await waitForJob(watching, mine.jobId, { timeoutMs: 1000 });
  assert.equal(done.status, 'done');
});

test('waitForJob hears the end of a job another connection runs', async (t) => {
  const file = path.join(makeTempDir(t), 'shared.db');
  const here = openStore(file);
  const there = openStore(file);
  t.after(() => {
    here.close();
    there.close();
  });
  const watching = new SqliteQueue(here, { watchIntervalMs: 10 });
  const other = new SqliteQueue(there);
  const { jobId } = await watching.enqueue(spec(alice, 1));
  const seen: string[] = [];
  const waiting = waitForJob(watching, jobId, { timeoutMs: 5000, onEvent: (e) => seen.push(e.type) });
  const workerId = await other.registerWorker();
  await other.claim(workerId);
  await new Promise((resolve) => setTimeout(resolve, 50));
  await other.fail(jobId, 'out of paint');
  const job = await waiting;
  assert.equal(job.status, 'failed');
  assert.equal(job.error, 'out of paint');
  assert.deepEqual(seen, ['started', 'failed']);
});
