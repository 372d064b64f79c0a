// `illusionist worker`'s refusals: each names what was wrong and what is allowed, exit code 2.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import test from 'node:test';
import { childEnv, cliBin } from '../helpers/bot-process.js';

function worker(args: string[], env: Record<string, string> = {}) {
  const base = childEnv(env);
  if (!('REDIS_URL' in env)) delete base.REDIS_URL;
  return spawnSync(process.execPath, [cliBin, 'worker', ...args], { env: base, encoding: 'utf8', timeout: 60_000 });
}

test('worker: an unknown family, no Redis, a bad URL or a bad number are refused plainly', () => {
  const family = worker(['--models', 'mnist,gpu'], { REDIS_URL: 'redis://127.0.0.1:1' });
  assert.equal(family.status, 2, family.stderr);
  assert.match(family.stderr, /--models: unknown family 'gpu' \(allowed: mnist, deepfloyd, train\)/);

  const none = worker(['--models', 'mnist']);
  assert.equal(none.status, 2, none.stderr);
  assert.match(none.stderr, /the worker needs Redis: set REDIS_URL/);

  const url = worker(['--redis', 'http://h:1']);
  assert.equal(url.status, 2, url.stderr);
  assert.match(url.stderr, /REDIS_URL must start with redis:\/\/ or rediss:\/\//);

  const lock = worker(['--lock-ms', 'soon'], { REDIS_URL: 'redis://127.0.0.1:1' });
  assert.equal(lock.status, 2, lock.stderr);
  assert.match(lock.stderr, /--lock-ms must be an integer from 100 to 3600000, got 'soon'/);
});
