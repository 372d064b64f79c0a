// Users and limits: defaults from configuration, per-user overrides, admins from configuration, bans.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { openTestStore } from '../helpers/open-test-store.js';

const admin = { platform: 'discord', userId: 'root' };
const alice = { platform: 'discord', userId: 'alice' };

test('limits default from configuration and can be overridden per user', (t) => {
  const { users } = openTestStore(t, { users: { admins: ['discord:root'], defaults: { maxActiveJobs: 2 } } });
  assert.equal(users.get(alice).limits.maxActiveJobs, 2);
  assert.equal(users.get(alice).limits.dailyQuota, 200);
  users.setLimits(alice, { dailyQuota: 5 });
  assert.deepEqual(users.get(alice).limits, { dailyQuota: 5, maxActiveJobs: 2 });
  users.setLimits(alice, { dailyQuota: null, maxActiveJobs: 9 });
  assert.deepEqual(users.get(alice).limits, { dailyQuota: 200, maxActiveJobs: 9 });
  assert.equal(users.isAdmin(admin), true);
  assert.equal(users.isAdmin(alice), false);
});

test('bans record who and why; admins cannot be banned', (t) => {
  const { users } = openTestStore(t, { users: { admins: ['discord:root'] } });
  users.ensure(alice, 'Alice');
  users.ban(alice, admin, 'spam');
  const banned = users.get(alice);
  assert.equal(banned.banned, true);
  assert.equal(banned.banReason, 'spam');
  assert.equal(banned.bannedBy, 'discord:root');
  assert.equal(banned.displayName, 'Alice');
  users.unban(alice);
  assert.equal(users.get(alice).banned, false);
  assert.throws(() => users.ban(admin, alice), /admin/);
});
