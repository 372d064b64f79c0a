// Following a job on a real SQLite queue: the worker's side is driven by hand (claim, progress,
// complete, fail), so each update the follower sends can be checked in order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { enqueueAndFollow, type FollowUpdate } from '../../src/jobs/follow-job.js';
import { SqliteQueue } from '../../src/jobs/sqlite-queue.js';
import type { JobSpec } from '../../src/jobs/types.js';
import { openTestStore } from '../helpers/open-test-store.js';

const alice = { platform: 'web' as const, userId: 'alice' };
const bob = { platform: 'web' as const, userId: 'bob' };
const spec = (who: typeof alice, seed: number): JobSpec => ({ who, command: 'digits', params: { digit: 7 }, seed });

/** Resolves once `n` updates were sent, so the worker's next move comes after the follower has shown the last one. */
type Seen = (n: number) => Promise<void>;

/** Follows a job, calling `onQueued` (the worker's turn) once it is in the queue. */
async function follow(
  queue: SqliteQueue,
  job: JobSpec,
  onQueued: (jobId: number, seen: Seen) => Promise<void>,
  options = { progressIntervalMs: 0, pollMs: 60_000 },
): Promise<FollowUpdate[]> {
  const updates: FollowUpdate[] = [];
  const waiting: Array<{ n: number; resolve: () => void }> = [];
  const seen: Seen = (n) => new Promise((resolve) => (updates.length >= n ? resolve() : waiting.push({ n, resolve })));
  let driving: Promise<void> | undefined;
  await enqueueAndFollow(
    queue,
    job,
    async (u) => {
      updates.push(u);
      for (const w of waiting.splice(0)) (updates.length >= w.n ? w.resolve : () => waiting.push(w))();
      if (u.type === 'queued' && !driving) driving = onQueued(u.jobId, seen);
    },
    options,
  );
  await driving;
  return updates;
}

test('a job is followed from its place in the queue to its result: queued, moved up, started, progress, done', async (t) => {
  const store = openTestStore(t);
  const queue = new SqliteQueue(store);
  const worker = await queue.registerWorker();
  const ahead = await queue.enqueue(spec(bob, 1));
  const updates = await follow(queue, spec(alice, 2), async (jobId, seen) => {
    // Bob's job runs and ends: Alice's moves up, then runs.
    assert.equal((await queue.claim(worker))?.view.id, ahead.jobId);
    await queue.complete(ahead.jobId, { files: [] }, 1);
    await seen(2);
    assert.equal((await queue.claim(worker))?.view.id, jobId);
    await seen(3);
    await queue.reportProgress(jobId, { step: 1, total: 2, message: 'step 1' });
    await seen(4);
    await queue.reportPaused(jobId, true);
    await seen(5);
    await queue.reportProgress(jobId, { step: 2, total: 2 });
    await seen(6);
    await queue.complete(jobId, { files: [{ data: Buffer.from('png'), ext: 'png', caption: 'image' }] }, 1);
  });
  const jobId = updates[0]!.jobId;
  assert.deepEqual(
    updates.map((u) => u.type),
    ['queued', 'queued', 'started', 'progress', 'paused', 'progress', 'done'],
  );
  assert.deepEqual(
    updates.slice(0, 2).map((u) => (u as { position: number }).position),
    [2, 1],
  );
  assert.deepEqual(updates[4], { type: 'paused', jobId, step: 1, total: 2 }, 'paused shows the last progress heard');
  const done = updates[6] as Extract<FollowUpdate, { type: 'done' }>;
  assert.equal(done.result.files[0]!.caption, 'image');
});

test("progress is throttled to the front end's interval, but the last step always shows; failures carry the error", async (t) => {
  const store = openTestStore(t);
  const queue = new SqliteQueue(store);
  const worker = await queue.registerWorker();
  const updates = await follow(
    queue,
    spec(alice, 3),
    async (jobId) => {
      await queue.claim(worker);
      for (let step = 1; step <= 20; step++) await queue.reportProgress(jobId, { step, total: 20 });
      await queue.fail(jobId, 'out of memory');
    },
    { progressIntervalMs: 60_000, pollMs: 60_000 },
  );
  const progress = updates.filter((u) => u.type === 'progress') as Extract<FollowUpdate, { type: 'progress' }>[];
  assert.deepEqual(
    progress.map((p) => p.step),
    [20],
    'within one interval only the last step is shown',
  );
  assert.deepEqual(updates.at(-1), { type: 'failed', jobId: updates[0]!.jobId, error: 'out of memory' });
});

test('a job another process ends (no event here) is found on its row after a quiet spell', async (t) => {
  const store = openTestStore(t);
  const queue = new SqliteQueue(store);
  // Another process's queue on the same database: its events are not delivered to this one.
  const other = new SqliteQueue(store);
  const worker = await other.registerWorker();
  const updates = await follow(
    queue,
    spec(alice, 4),
    async (jobId) => {
      await other.claim(worker);
      await other.markCancelled(jobId);
    },
    { progressIntervalMs: 0, pollMs: 20 },
  );
  assert.deepEqual(
    updates.map((u) => u.type),
    ['queued', 'cancelled'],
  );
});

test('a refused job rejects before any update', async (t) => {
  const store = openTestStore(t);
  const queue = new SqliteQueue(store, { maxQueued: 0 });
  const updates: FollowUpdate[] = [];
  await assert.rejects(
    enqueueAndFollow(queue, spec(alice, 5), async (u) => void updates.push(u), { progressIntervalMs: 0, pollMs: 20 }),
    /queue/i,
  );
  assert.deepEqual(updates, []);
});
