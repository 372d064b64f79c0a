// Content-addressed artifacts: equal bytes share one file and row, the file is complete before
// its row exists, and leftovers from a crashed write are swept.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { hashBytes } from '../../src/store/index.js';
import { makeMountDir, mountTmpfs } from '../helpers/mounts.js';
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

test('saveAll stores files side by side in the order given, equal bytes once, like save', async (t) => {
  const store = openTestStore(t);
  const known = store.artifacts.save(Buffer.from('known'), 'txt');
  const pngs = Array.from({ length: 12 }, (_, i) => new Uint8Array(300).fill(i));
  const files = [
    ...pngs.map((data) => ({ data, ext: 'png' })),
    { data: Buffer.from('known'), ext: 'txt' },
    { data: pngs[3]!.slice(), ext: '.PNG' },
  ];
  const saved = await store.artifacts.saveAll(files);
  assert.deepEqual(
    saved.map((a) => a.sha256),
    files.map((f) => hashBytes(f.data)),
  );
  assert.equal(saved[12]!.path, known.path, 'a file stored before is reused');
  assert.equal(saved[13]!.path, saved[3]!.path, 'equal bytes in one call are one file');
  for (const [i, a] of saved.entries())
    assert.deepEqual(new Uint8Array(fs.readFileSync(a.path)), new Uint8Array(files[i]!.data));
  assert.equal(store.db.prepare('SELECT count(*) FROM artifacts').pluck().get(), 13);
  assert.equal(
    fs.readdirSync(store.artifacts.dir).filter((f) => f.startsWith('.')).length,
    0,
    'no temporary files remain',
  );
  await assert.rejects(
    store.artifacts.saveAll([
      { data: Buffer.from('x'), ext: 'png' },
      { data: Buffer.from('y'), ext: '../x' },
    ]),
    /extension/,
  );
  assert.equal(
    store.db.prepare('SELECT count(*) FROM artifacts').pluck().get(),
    13,
    'a bad extension stores none of the files',
  );
});

/** A store whose artifacts folder is a tmpfs of 2 MiB with only `free` bytes left (a real disk about to fill up). */
function nearlyFullStore(t: import('node:test').TestContext, free: number) {
  const dir = makeMountDir(t, 'illusionist-short-');
  mountTmpfs(dir, 2 << 20);
  // The database elsewhere, with room: only the file meets the full disk.
  const store = openTestStore(t, { artifactsDir: path.join(dir, 'artifacts') });
  fs.mkdirSync(store.artifacts.dir, { recursive: true });
  const filler = path.join(dir, 'filler');
  const fd = fs.openSync(filler, 'w');
  let written = 0;
  try {
    for (;;) written += fs.writeSync(fd, Buffer.alloc(1 << 16, 1));
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
  } finally {
    fs.closeSync(fd);
  }
  fs.truncateSync(filler, written - free);
  return store;
}

test('a file that fits only in part on the disk is refused, never stored cut short (save and saveAll)', async (t) => {
  // The file system takes the first 64 KiB of a 300 KB write and reports that as written, without an error.
  const big = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff);
  const small = new Uint8Array(100).fill(9); // fits: only the big one is cut short
  type Store = ReturnType<typeof openTestStore>;
  const ways: Array<[string, (store: Store) => Promise<unknown>]> = [
    ['save', async (store) => store.artifacts.save(big, 'png')],
    [
      'saveAll',
      (store) =>
        store.artifacts.saveAll([
          { data: small, ext: 'png' },
          { data: big, ext: 'png' },
        ]),
    ],
  ];
  for (const [what, saving] of ways) {
    const store = nearlyFullStore(t, 64 << 10);
    await assert.rejects(saving(store), { code: 'ENOSPC' }, `${what} reports the full disk`);
    assert.equal(store.db.prepare('SELECT count(*) FROM artifacts').pluck().get(), 0, `${what}: no row`);
    assert.deepEqual(fs.readdirSync(store.artifacts.dir), [], `${what}: no file, whole or partial`);
  }
});
