// The bot keeps its SQLite locks for as long as it runs: a training job (which opens the store again
// in the engine worker) must not drop them, or the next process to read the file deletes the live
// -wal and -shm files and later jobs are lost at a kill -9.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { openStore } from '../../src/store/index.js';
import { runWebCommand, startBotProcess } from '../helpers/bot-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

/** The POSIX locks /proc/locks lists on `file` for process `pid`. */
function locksHeld(file: string, pid: number): string[] {
  const stat = fs.statSync(file);
  const inode = `:${stat.ino} `;
  return fs
    .readFileSync('/proc/locks', 'utf8')
    .split('\n')
    .filter((line) => line.includes(inode) && line.split(/\s+/).includes(String(pid)));
}

test('after a training job the bot still holds its locks; a sqlite3 read and a kill -9 lose nothing', async (t) => {
  const dataDir = path.join(makeTempDir(t, 'illusionist-locks-'), 'data');
  const db = path.join(dataDir, 'illusionist.db');
  const bot = await startBotProcess(t, dataDir);
  assert.notDeepEqual(locksHeld(db, bot.pid), [], 'the bot holds a lock on the database once started');

  const train = await runWebCommand(bot.url, 'train', {
    kind: 'class',
    epochs: '1',
    hidden: '2',
    batch: '16',
    images: '16',
  });
  assert.equal(train.at(-1)?.type, 'result', JSON.stringify(train.at(-1)));
  assert.notDeepEqual(locksHeld(db, bot.pid), [], `the bot still holds a lock on ${db} after the training job`);

  // Debian's sqlite3, as an operator would look: it must not take the file over as its last user.
  const read = spawnSync('/usr/bin/sqlite3', [db, 'select count(*) from jobs'], { encoding: 'utf8' });
  assert.equal(read.status, 0, read.stderr);
  assert.equal(read.stdout.trim(), '1');
  assert.ok(fs.existsSync(`${db}-wal`), 'the live -wal file is still there after another process read the database');

  const digits = await runWebCommand(bot.url, 'digits', { digit: '7', count: '1', steps: '2', seed: '5' });
  assert.equal(digits.at(-1)?.type, 'result', JSON.stringify(digits.at(-1)));
  bot.child.kill('SIGKILL');
  await bot.exited;

  // Everything the bot committed before the kill is in the file.
  const raw = new Database(db, { readonly: true });
  const jobs = raw.prepare('SELECT id, command, status FROM jobs ORDER BY id').all();
  raw.close();
  assert.deepEqual(jobs, [
    { id: 1, command: 'train', status: 'done' },
    { id: 2, command: 'digits', status: 'done' },
  ]);
});

test("opening the store a second time in one process keeps the first connection's locks", (t) => {
  const file = path.join(makeTempDir(t), 'illusionist.db');
  const first = openStore(file);
  t.after(() => first.close());
  first.jobs.insert({
    who: { platform: 'cli', userId: 'me' },
    command: 'digits',
    params: {},
    seed: 1,
    kind: 'interactive',
  });
  const before = locksHeld(file, process.pid);
  assert.notDeepEqual(before, []);
  openStore(file).close();
  assert.deepEqual(locksHeld(file, process.pid), before, 'the locks are unchanged after a second open and close');
  // Another process reading the file leaves the WAL in place, and this connection's rows stay.
  const read = spawnSync('/usr/bin/sqlite3', [file, 'select count(*) from jobs'], { encoding: 'utf8' });
  assert.equal(read.stdout.trim(), '1', read.stderr);
  assert.ok(fs.existsSync(`${file}-wal`));
  first.jobs.insert({
    who: { platform: 'cli', userId: 'me' },
    command: 'digits',
    params: {},
    seed: 2,
    kind: 'interactive',
  });
  const again = spawnSync('/usr/bin/sqlite3', [file, 'select count(*) from jobs'], { encoding: 'utf8' });
  assert.equal(again.stdout.trim(), '2', 'a row written after the other process read is visible to it');
});
