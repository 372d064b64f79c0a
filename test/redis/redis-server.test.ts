// The Redis the Redis-mode tests run against: started on a free loopback port when REDIS_URL is
// not set, stopped and started again on the same port.
import assert from 'node:assert/strict';
import test from 'node:test';
import { pingRedis, startRedis } from '../helpers/redis-server.js';

test('the test Redis answers, goes away when stopped and comes back on its port', async (t) => {
  const redis = await startRedis(t);
  assert.match(redis.url, /^redis:\/\/127\.0\.0\.1:\d+$/);
  assert.equal(await pingRedis('127.0.0.1', redis.port), true);
  if (process.env.REDIS_URL) return;
  await redis.stop();
  assert.equal(await pingRedis('127.0.0.1', redis.port), false, 'nothing answers once it is stopped');
  await redis.start();
  assert.equal(await pingRedis('127.0.0.1', redis.port), true, 'it answers again after a start');
});
