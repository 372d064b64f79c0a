// The pieces the bot and `illusionist worker` agree on in Redis mode, without a Redis: the URL,
// the queue a job goes to, and the uploads that travel with it.
import assert from 'node:assert/strict';
import test from 'node:test';
import {
  familyOf,
  redactedUrl,
  redisConnection,
  rewriteUploadPaths,
  uploadPaths,
} from '../../src/jobs/redis-shared.js';

test('REDIS_URL: host, port, password and database; anything else is refused naming what is allowed', () => {
  assert.deepEqual(redisConnection('redis://127.0.0.1:6390'), { host: '127.0.0.1', port: 6390 });
  assert.deepEqual(redisConnection('redis://:s%40cret@queue.lan/2'), {
    host: 'queue.lan',
    port: 6379,
    password: 's@cret',
    db: 2,
  });
  assert.deepEqual(redisConnection('rediss://u:p@h:1'), { host: 'h', port: 1, username: 'u', password: 'p', tls: {} });
  assert.throws(
    () => redisConnection('http://127.0.0.1:6379'),
    /REDIS_URL must start with redis:\/\/ or rediss:\/\/, got 'http:\/\/'/,
  );
  assert.throws(
    () => redisConnection('127.0.0.1:6379'),
    /REDIS_URL is not a URL: '127\.0\.0\.1:6379' \(allowed: redis:\/\//,
  );
  assert.throws(() => redisConnection('not a url'), /REDIS_URL is not a URL: 'not a url' \(allowed: redis:\/\//);
  assert.throws(() => redisConnection('redis://h:1/jobs'), /database must be a number .* got 'jobs'/);
  assert.equal(redactedUrl('redis://:s3cret@h:1/0'), 'redis://:***@h:1/0');
});

test('one queue per model family: training apart, MNIST, and DeepFloyd for the rest', () => {
  assert.equal(familyOf({ command: 'train', params: { kind: 'class' } }), 'train');
  assert.equal(familyOf({ command: 'digits', model: 'mnist-class', params: {} }), 'mnist');
  assert.equal(familyOf({ command: 'anagram', params: { model: 'mnist-flow' } }), 'mnist');
  assert.equal(familyOf({ command: 'imagine', params: { model: 'deepfloyd-if' } }), 'deepfloyd');
});

test('uploads (StoredImage-shaped params) are found and their paths rewritten, nothing else', () => {
  const params = {
    model: 'deepfloyd-if',
    image: { path: '/data/artifacts/a.png', width: 64, height: 64, name: 'cat.png' },
    mask: { path: '/data/artifacts/m.png', width: 64, height: 64 },
    checkpointPath: '/models/x.safetensors',
    box: { x: 1, y: 2, width: 3, height: 4 },
  };
  assert.deepEqual(uploadPaths(params), ['/data/artifacts/a.png', '/data/artifacts/m.png']);
  const moved = rewriteUploadPaths(params, (p) => p.replace('/data/artifacts', '/tmp/w')) as typeof params;
  assert.equal(moved.image.path, '/tmp/w/a.png');
  assert.equal(moved.image.name, 'cat.png');
  assert.equal(moved.mask.path, '/tmp/w/m.png');
  assert.equal(moved.checkpointPath, '/models/x.safetensors');
  assert.deepEqual(moved.box, params.box);
  assert.equal(params.image.path, '/data/artifacts/a.png', "the bot's params are left as they were");
});
