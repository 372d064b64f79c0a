// Start-up diagnostics as operators meet them: the real bot (and CLI) on a read-only data folder and
// on a database whose damage is confined to one table refuse to start, naming the file and the fix.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { DatabaseCorruptError, openStore } from '../../src/store/index.js';
import { botMain, childEnv, cliBin } from '../helpers/bot-process.js';
import { makeMountDir, makeReadOnly } from '../helpers/mounts.js';

/** Runs the bot (or a CLI command) on `dataDir` until it exits on its own. */
function runToExit(dataDir: string, args: string[] = [botMain]) {
  const r = spawnSync(process.execPath, args, {
    env: childEnv({ DATA_DIR: dataDir, PORT: '0' }),
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: r.status, stderr: r.stderr, stdout: r.stdout };
}

test('a read-only data folder: the bot refuses to start, naming the folder, why, and what to do', (t) => {
  const root = makeMountDir(t, 'illusionist-ro-');
  const empty = path.join(root, 'empty');
  const existing = path.join(root, 'existing');
  fs.mkdirSync(empty);
  openStore(path.join(existing, 'illusionist.db')).close();
  makeReadOnly(empty);
  makeReadOnly(existing);

  for (const dir of [empty, existing]) {
    const db = path.join(dir, 'illusionist.db');
    const bot = runToExit(dir);
    assert.equal(bot.code, 1, bot.stderr);
    assert.match(
      bot.stderr,
      new RegExp(`database ${db} cannot be opened for writing: its folder ${dir} is not writable \\((EROFS|EACCES)`),
    );
    assert.match(bot.stderr, /make .* writable by this user.*or set DATA_DIR to a writable folder/);
    assert.doesNotMatch(bot.stderr, /^error: unable to open database file$/m);
  }
  const cli = runToExit(existing, [cliBin, 'jobs', 'list']);
  assert.equal(cli.code, 1, cli.stderr);
  assert.match(cli.stderr, /cannot be opened for writing: its folder .* is not writable/);
});

test('damage confined to the artifacts table: the bot refuses to start and says how to recover', (t) => {
  const dataDir = path.join(makeMountDir(t, 'illusionist-damaged-'), 'data');
  const db = path.join(dataDir, 'illusionist.db');
  const store = openStore(db);
  for (let i = 0; i < 200; i++) store.artifacts.save(Buffer.from(`image ${i}`), 'png');
  store.jobs.insert({
    who: { platform: 'cli', userId: 'me' },
    command: 'digits',
    params: {},
    seed: 1,
    kind: 'interactive',
  });
  store.close();

  // Scribble over the artifacts table's root page only.
  const raw = new Database(db);
  const { rootpage } = raw.prepare(`SELECT rootpage FROM sqlite_master WHERE name = 'artifacts'`).get() as {
    rootpage: number;
  };
  const pageSize = raw.pragma('page_size', { simple: true }) as number;
  raw.close();
  const fd = fs.openSync(db, 'r+');
  fs.writeSync(fd, Buffer.alloc(pageSize, 0x5a), 0, pageSize, (rootpage - 1) * pageSize);
  fs.closeSync(fd);
  // Confined: the rest of the file reads, so nothing but a check at start would notice.
  const check = new Database(db, { readonly: true });
  assert.equal(check.prepare('SELECT count(*) AS n FROM jobs').get()?.constructor, Object);
  assert.throws(() => check.prepare('SELECT count(*) FROM artifacts').get(), /malformed/);
  check.close();
  const bytes = fs.readFileSync(db);

  const bot = runToExit(dataDir);
  assert.equal(bot.code, 1, bot.stderr);
  assert.match(
    bot.stderr,
    new RegExp(
      `database ${db} is not a usable SQLite database \\(SQLite's quick_check found damage: .*page ${rootpage}`,
    ),
  );
  assert.ok(bot.stderr.includes(`sqlite3 ${db} .recover | sqlite3 ${db}.recovered`), bot.stderr);
  assert.match(bot.stderr, /restore the file from a backup/);
  assert.deepEqual(fs.readFileSync(db), bytes, 'the damaged file was left as it was');

  const cli = runToExit(dataDir, [cliBin, 'jobs', 'list']);
  assert.equal(cli.code, 1);
  assert.match(cli.stderr, /quick_check found damage/);
  assert.throws(() => openStore(db), DatabaseCorruptError);
});
