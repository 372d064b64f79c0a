// The CLI's jobs and gallery actions on a real store and worker: list rows, the show text,
// a rerun that reproduces the output exactly, cancel messages, and gallery publish/list/remove.
import assert from 'node:assert/strict';
import path from 'node:path';
import { test } from 'node:test';
import {
  cancelJob,
  formatTable,
  isUserFacingError,
  listGallery,
  listJobs,
  publishToGallery,
  removeFromGallery,
  rerunJob,
  showJob,
} from '../../src/jobs/cli-actions.js';
import { waitForJob } from '../../src/jobs/wait-for-job.js';
import type { Who } from '../../src/store/index.js';
import { startTestRunner } from '../helpers/start-test-runner.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const me: Who = { platform: 'cli', userId: 'me' };
const other: Who = { platform: 'discord', userId: 'other' };
const admin: Who = { platform: 'discord', userId: 'root' };

test('jobs list, show, rerun (same output) and cancel', async (t) => {
  const { store, queue } = await startTestRunner(t, path.join(makeTempDir(t), 'db.sqlite'), {
    queue: { engineVersion: '0.1.0' },
  });
  const { jobId } = await queue.enqueue({
    who: me,
    command: 'mix',
    params: { steps: 3 },
    seed: 1234,
    model: 'cpu-mix',
  });
  await waitForJob(queue, jobId, { timeoutMs: 10_000 });

  const rows = listJobs(store, { who: me });
  assert.deepEqual(
    rows.map(({ id, command, status, seed, who }) => ({ id, command, status, seed, who })),
    [{ id: jobId, command: 'mix', status: 'done', seed: 1234, who: 'cli:me' }],
  );
  const table = formatTable(rows, ['id', 'command', 'status', 'seed']);
  assert.match(table, /^id\s+command\s+status\s+seed\n1\s+mix\s+done\s+1234$/);

  const text = showJob(store, jobId);
  assert.match(text, /^job #1 {2}mix {2}done/);
  assert.match(text, /seed {5}1234/);
  assert.match(text, /recipe {3}engine 0\.1\.0/);
  assert.match(text, /output {3}.*\.bin {2}\(mix of seed 1234\)/);

  const rerun = await rerunJob(queue, store, jobId, other);
  const again = await waitForJob(queue, rerun.jobId, { timeoutMs: 10_000 });
  assert.equal(again.rerunOf, jobId);
  assert.equal(again.seed, 1234);
  assert.equal(store.seeds.get(rerun.jobId)?.outputSha256, store.seeds.get(jobId)?.outputSha256);

  const queued = await queue.enqueue({ who: me, command: 'mix', params: { steps: 100_000 }, seed: 1 });
  const waiting = await queue.enqueue({ who: other, command: 'mix', params: {}, seed: 1 });
  assert.equal(await cancelJob(queue, waiting.jobId, other), `job #${waiting.jobId} was cancelled before it started`);
  await new Promise((resolve) => setTimeout(resolve, 50));
  assert.equal(await cancelJob(queue, queued.jobId, me), `job #${queued.jobId} will stop after its current step`);
  assert.equal((await waitForJob(queue, queued.jobId, { timeoutMs: 10_000 })).status, 'cancelled');
  assert.equal(await cancelJob(queue, jobId, me), `job #${jobId} had already finished`);
  await assert.rejects(
    cancelJob(queue, jobId, other),
    (e: unknown) => isUserFacingError(e) && /only the owner/.test(e.message),
  );
  assert.throws(() => showJob(store, 999), /no job #999/);
});

test('gallery publish, list and remove', async (t) => {
  const { store, queue } = await startTestRunner(t, path.join(makeTempDir(t), 'db.sqlite'), {
    store: { users: { admins: ['discord:root'] } },
  });
  const { jobId } = await queue.enqueue({ who: me, command: 'mix', params: { steps: 2 }, seed: 5 });
  await waitForJob(queue, jobId, { timeoutMs: 10_000 });
  assert.throws(
    () => publishToGallery(store, jobId, other),
    (e: unknown) => isUserFacingError(e) && /only the author/.test(e.message),
  );
  assert.equal(publishToGallery(store, jobId, me, 'noise'), `job #${jobId} is in the gallery as post #1`);
  store.gallery.react(1, other);
  assert.deepEqual(
    listGallery(store, { sort: 'top' }).map(({ id, job, by, votes, title }) => ({ id, job, by, votes, title })),
    [{ id: 1, job: jobId, by: 'cli:me', votes: 1, title: 'noise' }],
  );
  assert.equal(listGallery(store, { sort: 'mine', who: other }).length, 0);
  assert.throws(() => removeFromGallery(store, 1, other), /only the author of post #1 or an admin/);
  assert.equal(removeFromGallery(store, 1, admin, 'test'), 'gallery post #1 was removed');
  assert.deepEqual(listGallery(store), []);
});
