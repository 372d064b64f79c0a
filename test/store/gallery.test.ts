// The gallery: only finished jobs, only by their author; reactions; removal by author or admin;
// top, recent and mine listings.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { GalleryError, type Store, type Who } from '../../src/store/index.js';
import { openTestStore } from '../helpers/open-test-store.js';

const alice: Who = { platform: 'discord', userId: 'alice' };
const bob: Who = { platform: 'discord', userId: 'bob' };
const carol: Who = { platform: 'slack', userId: 'carol' };

function finishedJob(store: Store, who: Who, seed: number): number {
  const job = store.jobs.insert({ who, command: 'digits', params: { digit: seed % 10 }, seed, kind: 'interactive' });
  store.jobs.claimNext({ maxRunningPerUser: 100 });
  store.jobs.markDone(job.id, {});
  const file = store.artifacts.save(Buffer.from(`image ${seed}`), 'png');
  store.artifacts.linkToJob(job.id, 0, file.sha256);
  return job.id;
}

function code(expected: string) {
  return (error: unknown) => error instanceof GalleryError && error.code === expected;
}

test('publishing checks the job and its author, and is idempotent', (t) => {
  const store = openTestStore(t);
  const done = finishedJob(store, alice, 1);
  const queued = store.jobs.insert({ who: alice, command: 'digits', params: {}, seed: 2, kind: 'interactive' });
  assert.throws(() => store.gallery.publish(999, alice), code('not-found'));
  assert.throws(() => store.gallery.publish(queued.id, alice), code('not-done'));
  assert.throws(() => store.gallery.publish(done, bob), code('not-owner'));
  const post = store.gallery.publish(done, alice, { title: 'a seven' });
  assert.equal(post.title, 'a seven');
  assert.equal(post.seed, 1);
  assert.ok(post.artifactSha256);
  assert.equal(store.gallery.publish(done, alice).id, post.id);
});

test('reactions rank the top listing; recent and mine list what they say', (t) => {
  const store = openTestStore(t);
  const p1 = store.gallery.publish(finishedJob(store, alice, 1), alice);
  const p2 = store.gallery.publish(finishedJob(store, bob, 2), bob);
  const p3 = store.gallery.publish(finishedJob(store, alice, 3), alice);
  assert.equal(store.gallery.react(p2.id, alice), true);
  assert.equal(store.gallery.react(p2.id, alice), false, 'one of each reaction per person');
  store.gallery.react(p2.id, carol, '🔥');
  store.gallery.react(p1.id, carol);
  assert.deepEqual(
    store.gallery.listTop().map((p) => [p.id, p.votes]),
    [
      [p2.id, 2],
      [p1.id, 1],
      [p3.id, 0],
    ],
  );
  assert.deepEqual(
    store.gallery.listRecent({ limit: 2 }).map((p) => p.id),
    [p3.id, p2.id],
  );
  assert.deepEqual(
    store.gallery.listMine(alice).map((p) => p.id),
    [p3.id, p1.id],
  );
  assert.deepEqual(store.gallery.listReactions(p2.id), [
    { reaction: '👍', count: 1 },
    { reaction: '🔥', count: 1 },
  ]);
  assert.equal(store.gallery.unreact(p2.id, alice), true);
});

test('removal by author or admin only; removed posts leave listings and cannot be republished', (t) => {
  const store = openTestStore(t);
  const job = finishedJob(store, alice, 1);
  const post = store.gallery.publish(job, alice);
  assert.throws(() => store.gallery.remove(post.id, bob), code('not-allowed'));
  const removed = store.gallery.remove(post.id, carol, { isAdmin: true, reason: 'off-topic' });
  assert.equal(removed.removedBy, 'slack:carol');
  assert.deepEqual(store.gallery.listRecent(), []);
  assert.throws(() => store.gallery.publish(job, alice), code('removed'));
  assert.throws(() => store.gallery.remove(post.id, alice), code('not-found'));
});
