// Opening the database: migrations, refusal of newer or damaged files without touching them,
// a locked file, and readers running while another connection writes (WAL).
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import {
  DatabaseCorruptError,
  DatabaseLockedError,
  DatabaseTooNewError,
  latestSchemaVersion,
  openDatabase,
  openStore,
} from '../../src/store/index.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const alice = { platform: 'discord', userId: 'alice' };

test('a new database is created in WAL mode at the latest schema version', (t) => {
  const file = path.join(makeTempDir(t), 'nested', 'illusionist.db');
  const { db, schemaVersion } = openDatabase(file);
  assert.equal(schemaVersion, latestSchemaVersion);
  assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
  assert.equal(db.pragma('user_version', { simple: true }), latestSchemaVersion);
  db.close();
  // Reopening applies nothing twice.
  const again = openDatabase(file);
  assert.equal(again.schemaVersion, latestSchemaVersion);
  again.db.close();
});

test('pending migrations are applied in order on open', (t) => {
  const file = path.join(makeTempDir(t), 'm.db');
  const v1 = [{ version: 1, name: 'a', sql: 'CREATE TABLE a (x INTEGER);' }];
  openDatabase(file, { migrations: v1 }).db.close();
  const v2 = [
    ...v1,
    { version: 2, name: 'b', sql: "ALTER TABLE a ADD COLUMN y TEXT; INSERT INTO a VALUES (1, 'one');" },
  ];
  const { db, schemaVersion } = openDatabase(file, { migrations: v2 });
  assert.equal(schemaVersion, 2);
  assert.deepEqual(db.prepare('SELECT x, y FROM a').get(), { x: 1, y: 'one' });
  db.close();
});

test('a database newer than the code is refused with a clear message and left untouched', (t) => {
  const file = path.join(makeTempDir(t), 'new.db');
  const raw = new Database(file);
  raw.pragma(`user_version = ${latestSchemaVersion + 5}`);
  raw.exec('CREATE TABLE future (x)');
  raw.close();
  const before = fs.readFileSync(file);
  assert.throws(
    () => openStore(file),
    (error: unknown) =>
      error instanceof DatabaseTooNewError &&
      error.fileVersion === latestSchemaVersion + 5 &&
      /only knows versions up to/.test(error.message) &&
      error.message.includes(file),
  );
  assert.deepEqual(fs.readFileSync(file), before);
});

test('a file that is not SQLite gives a clear error and is not overwritten', (t) => {
  const file = path.join(makeTempDir(t), 'notes.db');
  const text = 'these are my notes, not a database\n'.repeat(100);
  fs.writeFileSync(file, text);
  assert.throws(
    () => openStore(file),
    (error: unknown) => error instanceof DatabaseCorruptError && /SQLite file header/.test(error.message),
  );
  assert.equal(fs.readFileSync(file, 'utf8'), text);
  assert.equal(fs.existsSync(`${file}-wal`), false);
});

test('a SQLite file with damaged pages gives a clear error and is not overwritten', (t) => {
  const file = path.join(makeTempDir(t), 'damaged.db');
  const store = openStore(file);
  store.jobs.insert({ who: alice, command: 'digits', params: { digit: 7 }, seed: 1, kind: 'interactive' });
  store.close();
  const bytes = fs.readFileSync(file);
  // Keep the 100-byte header, scribble over the schema page and everything after it.
  for (let i = 100; i < bytes.length; i++) bytes[i] = (i * 7919) & 0xff;
  fs.writeFileSync(file, bytes);
  assert.throws(() => openStore(file), DatabaseCorruptError);
  assert.deepEqual(fs.readFileSync(file), bytes);
});

test('a database locked by another process gives a clear error, and no data is lost', (t) => {
  const file = path.join(makeTempDir(t), 'locked.db');
  const store = openStore(file);
  const job = store.jobs.insert({ who: alice, command: 'digits', params: { digit: 3 }, seed: 9, kind: 'interactive' });
  store.close();

  const other = new Database(file);
  other.exec("BEGIN EXCLUSIVE; INSERT INTO users (platform, user_id, created_at) VALUES ('slack', 'bob', 0);");
  assert.throws(
    () => openStore(file, { busyTimeoutMs: 50 }),
    (error: unknown) => error instanceof DatabaseLockedError && /locked by another process/.test(error.message),
  );
  other.exec('COMMIT');
  other.close();

  const reopened = openStore(file);
  t.after(() => reopened.close());
  assert.equal(reopened.jobs.get(job.id)?.seed, 9);
  assert.equal(reopened.users.get({ platform: 'slack', userId: 'bob' }).userId, 'bob');
});

test('readers on other connections see committed rows while a writer is mid-transaction', (t) => {
  const file = path.join(makeTempDir(t), 'wal.db');
  const writer = openStore(file);
  const reader = openStore(file);
  t.after(() => {
    reader.close();
    writer.close();
  });
  writer.jobs.insert({ who: alice, command: 'digits', params: {}, seed: 1, kind: 'interactive' });
  writer.db.exec('BEGIN IMMEDIATE');
  for (let i = 0; i < 50; i++)
    writer.jobs.insert({ who: alice, command: 'digits', params: { i }, seed: i, kind: 'interactive' });
  // The reader is not blocked by the open write transaction and sees only committed data.
  const started = Date.now();
  assert.equal(reader.jobs.list({ limit: 100 }).length, 1);
  assert.ok(Date.now() - started < 1000);
  writer.db.exec('COMMIT');
  assert.equal(reader.jobs.list({ limit: 100 }).length, 51);
});
