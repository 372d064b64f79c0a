// The jobs aggregate's scheduling queries: claim order (interactive before training, FIFO),
// per-user running limits, queue positions, cancellation and crash recovery.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { JobKind, Who } from '../../src/store/index.js';
import { openTestStore } from '../helpers/open-test-store.js';

const alice: Who = { platform: 'discord', userId: 'alice' };
const bob: Who = { platform: 'slack', userId: 'bob' };

function job(who: Who, kind: JobKind = 'interactive', seed = 1) {
  return { who, command: kind === 'training' ? 'train' : 'digits', params: { seed }, seed, kind };
}

test('claims interactive jobs first, FIFO within a kind, and positions follow that order', (t) => {
  const { jobs } = openTestStore(t);
  const train = jobs.insert(job(alice, 'training'));
  const a1 = jobs.insert(job(alice));
  const b1 = jobs.insert(job(bob));
  assert.equal(jobs.position(a1.id), 1);
  assert.equal(jobs.position(b1.id), 2);
  assert.equal(jobs.position(train.id), 3);
  const claimed = [1, 2, 3].map(() => jobs.claimNext({ maxRunningPerUser: 10 })?.id);
  assert.deepEqual(claimed, [a1.id, b1.id, train.id]);
  assert.equal(jobs.claimNext({ maxRunningPerUser: 10 }), undefined);
  assert.equal(jobs.position(a1.id), undefined);
  const running = jobs.get(a1.id)!;
  assert.equal(running.status, 'running');
  assert.equal(running.attempts, 1);
  assert.ok(running.startedAt !== null);
});

test('a user at the running limit is skipped so others go first', (t) => {
  const { jobs } = openTestStore(t);
  const a1 = jobs.insert(job(alice));
  const a2 = jobs.insert(job(alice));
  const b1 = jobs.insert(job(bob));
  assert.equal(jobs.claimNext({ maxRunningPerUser: 1 })?.id, a1.id);
  assert.equal(jobs.claimNext({ maxRunningPerUser: 1 })?.id, b1.id);
  assert.equal(jobs.claimNext({ maxRunningPerUser: 1 }), undefined);
  jobs.markDone(a1.id, {});
  assert.equal(jobs.claimNext({ maxRunningPerUser: 1 })?.id, a2.id);
});

test('cancelling a queued job is immediate; a running one is flagged for its worker', (t) => {
  const { jobs } = openTestStore(t);
  const a1 = jobs.insert(job(alice));
  const a2 = jobs.insert(job(alice));
  jobs.claimNext();
  assert.equal(jobs.requestCancel(a2.id, 'discord:alice'), 'cancelled');
  assert.equal(jobs.get(a2.id)?.status, 'cancelled');
  assert.equal(jobs.requestCancel(a1.id, 'discord:alice'), 'requested');
  assert.equal(jobs.get(a1.id)?.cancelRequested, true);
  assert.equal(jobs.get(a1.id)?.status, 'running');
  assert.ok(jobs.markCancelled(a1.id));
  assert.equal(jobs.requestCancel(a1.id, 'discord:alice'), 'not-active');
});

test('recovery re-queues interrupted jobs at their old place and fails them after max attempts', (t) => {
  const { jobs } = openTestStore(t);
  const once = jobs.insert({ ...job(alice), maxAttempts: 2 });
  const later = jobs.insert(job(bob));
  jobs.claimNext({ maxRunningPerUser: 5 });
  assert.deepEqual(jobs.recoverInterrupted(), { requeued: [once.id], failed: [] });
  assert.equal(jobs.get(once.id)?.status, 'queued');
  assert.equal(jobs.position(once.id), 1, 'keeps its place ahead of later jobs');
  assert.equal(jobs.position(later.id), 2);
  assert.equal(jobs.claimNext({ maxRunningPerUser: 5 })?.attempts, 2);
  assert.deepEqual(jobs.recoverInterrupted(), { requeued: [], failed: [once.id] });
  assert.match(jobs.get(once.id)?.error ?? '', /gave up after 2 attempts/);
});

test('a graceful re-queue does not count as an attempt', (t) => {
  const { jobs } = openTestStore(t);
  const a1 = jobs.insert(job(alice));
  jobs.claimNext();
  assert.ok(jobs.requeue(a1.id, { countAttempt: false }));
  assert.equal(jobs.get(a1.id)?.attempts, 0);
});

test('lists filter by user and status, newest first, with keyset pages', (t) => {
  const { jobs } = openTestStore(t);
  const ids = [alice, bob, alice, alice].map((w, i) => jobs.insert(job(w, 'interactive', i)).id);
  assert.deepEqual(
    jobs.list({ who: alice }).map((j) => j.id),
    [ids[3], ids[2], ids[0]],
  );
  assert.deepEqual(
    jobs.list({ who: alice, limit: 1, beforeId: ids[3] }).map((j) => j.id),
    [ids[2]],
  );
  jobs.claimNext();
  assert.deepEqual(
    jobs.list({ status: 'running' }).map((j) => j.id),
    [ids[0]],
  );
  assert.equal(jobs.countActive(alice), 3);
  assert.equal(jobs.countCreatedSince(bob, 0), 1);
});

test("recovery leaves a live worker's jobs alone and forgets dead workers", (t) => {
  const { jobs } = openTestStore(t);
  jobs.registerWorker({ id: 'live', host: 'h', pid: 1 });
  jobs.registerWorker({ id: 'dead', host: 'h', pid: 2 });
  const mine = jobs.insert(job(alice));
  const orphan = jobs.insert(job(bob));
  jobs.claimNext({ workerId: 'live' });
  jobs.claimNext({ workerId: 'dead' });
  assert.deepEqual(
    jobs.recoverInterrupted((w) => w.id === 'live'),
    { requeued: [orphan.id], failed: [] },
  );
  assert.equal(jobs.get(mine.id)?.status, 'running');
  assert.equal(jobs.get(orphan.id)?.workerId, null);
  assert.deepEqual(
    jobs.listWorkers().map((w) => w.id),
    ['live'],
  );
});
