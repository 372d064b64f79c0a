// Content-addressed artifacts: equal bytes share one file and row, the file is complete before
// its row exists, and leftovers from a crashed write are swept.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { hashBytes } from '../../src/store/index.js';
import { openTestStore } from '../helpers/open-test-store.js';

test('saves files under their sha256 and dedupes equal content', (t) => {
  const store = openTestStore(t);
  const bytes = new Uint8Array(4096).map((_, i) => (i * 31) & 0xff);
  const a = store.artifacts.save(bytes, 'png');
  assert.equal(a.sha256, hashBytes(bytes));
  assert.equal(path.basename(a.path), `${a.sha256}.png`);
  assert.equal(a.mime, 'image/png');
  assert.deepEqual(new Uint8Array(fs.readFileSync(a.path)), bytes);
  const b = store.artifacts.save(bytes.slice(), '.PNG');
  assert.equal(b.path, a.path);
  assert.equal(store.db.prepare('SELECT count(*) FROM artifacts').pluck().get(), 1);
  assert.deepEqual(fs.readdirSync(store.artifacts.dir), [`${a.sha256}.png`], 'no temporary files remain');
});

test('links outputs to jobs in order with captions', (t) => {
  const store = openTestStore(t);
  const job = store.jobs.insert({
    who: { platform: 'cli', userId: 'me' },
    command: 'digits',
    params: {},
    seed: 5,
    kind: 'interactive',
  });
  const one = store.artifacts.save(Buffer.from('one'), 'txt');
  const two = store.artifacts.save(Buffer.from('two'), 'txt');
  store.artifacts.linkToJob(job.id, 1, two.sha256);
  store.artifacts.linkToJob(job.id, 0, one.sha256, 'first');
  assert.deepEqual(
    store.artifacts.listForJob(job.id).map((o) => [o.ordinal, o.sha256, o.caption]),
    [
      [0, one.sha256, 'first'],
      [1, two.sha256, null],
    ],
  );
});

test('rejects odd extensions and sweeps only stale partial files', (t) => {
  const store = openTestStore(t);
  assert.throws(() => store.artifacts.save(Buffer.from('x'), '../../etc'), /extension/);
  fs.mkdirSync(store.artifacts.dir, { recursive: true });
  const stale = path.join(store.artifacts.dir, '.partial-1-old');
  const fresh = path.join(store.artifacts.dir, '.partial-2-new');
  fs.writeFileSync(stale, 'half');
  fs.writeFileSync(fresh, 'half');
  const hourAgo = new Date(Date.now() - 3_600_000);
  fs.utimesSync(stale, hourAgo, hourAgo);
  assert.equal(store.artifacts.removePartialFiles(), 1);
  assert.equal(fs.existsSync(stale), false);
  assert.equal(fs.existsSync(fresh), true);
});
