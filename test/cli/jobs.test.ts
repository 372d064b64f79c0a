// `illusionist jobs ...` and `illusionist gallery ...` as a user runs them: a real process against a
// temporary DATA_DIR, after a CLI generation (which is a job there too) and a job the bot left queued.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SqliteQueue } from '../../src/jobs/sqlite-queue.js';
import { databasePath, openStore } from '../../src/store/index.js';
import { tinyClassRun } from '../helpers/tiny-mnist.js';

const bin = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url));
const dataDir = mkdtempSync(join(tmpdir(), 'illusionist-cli-jobs-'));
const me = `cli:${userInfo().username}`;
let runDir = '';

function cli(...args: string[]) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    env: { ...process.env, DATA_DIR: dataDir },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The data rows of a table (header dropped), split into cells. */
function rows(table: string): string[][] {
  return table
    .trim()
    .split('\n')
    .slice(1)
    .map((line) => line.trim().split(/\s{2,}/));
}

before(async () => {
  runDir = (await tinyClassRun()).runDir;
});

test('a CLI generation is a job: listed, shown, rerun to the same bytes, published, cancelled', async () => {
  const a = join(dataDir, 'out-a');
  const gen = cli(
    'anagram',
    '--prompt1',
    '6',
    '--prompt2',
    '9',
    '--checkpoint',
    runDir,
    '--steps',
    '4',
    '--seed',
    '11',
    '--out',
    a,
  );
  assert.equal(gen.code, 0, gen.stderr);
  assert.match(gen.stdout, /job #1\n$/);
  assert.match(gen.stderr, /anagram job #1: step 4\/4/, 'progress on stderr');

  const list = cli('jobs', 'list');
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^id\s+command\s+status\s+seed\s+who/);
  assert.deepEqual(rows(list.stdout)[0]!.slice(0, 5), ['1', 'anagram', 'done', '11', me]);

  const show = cli('jobs', 'show', '1');
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /^job #1 {2}anagram {2}done/);
  assert.match(show.stdout, /seed {5}11/);
  for (const name of [
    'image-large.png  (image)',
    'views.png  (views)',
    'animation.gif  (animation)',
    'image.png',
    'progression.png',
    'job.json',
  ]) {
    assert.ok(show.stdout.includes(name), `jobs show lists ${name}`);
  }

  const b = join(dataDir, 'out-b');
  const rerun = cli('jobs', 'rerun', '1', '--out', b);
  assert.equal(rerun.code, 0, rerun.stderr);
  assert.match(rerun.stdout, /job #2 \(anagram, seed 11, rerun of #1\)/);
  for (const f of ['image.png', 'views.png', 'animation.gif'])
    assert.ok(readFileSync(join(a, f)).equals(readFileSync(join(b, f))), `rerun: same ${f}`);
  assert.match(cli('jobs', 'show', '2').stdout, /rerun of #1/);

  const variation = cli('jobs', 'rerun', '1', '--seed', '12', '--out', join(dataDir, 'out-c'));
  assert.equal(variation.code, 0, variation.stderr);
  assert.ok(
    !readFileSync(join(a, 'image.png')).equals(readFileSync(join(dataDir, 'out-c', 'image.png'))),
    'another seed, another image',
  );

  assert.match(cli('jobs', 'cancel', '2').stdout, /job #2 had already finished/);

  // A job the bot enqueued and no worker has taken yet: cancelled at once by the terminal's admin user.
  const store = openStore(databasePath(dataDir));
  const queued = await new SqliteQueue(store).enqueue({
    who: { platform: 'discord', userId: 'u1' },
    command: 'digits',
    params: {},
    seed: 1,
  });
  store.close();
  assert.match(
    cli('jobs', 'cancel', String(queued.jobId)).stdout,
    new RegExp(`job #${queued.jobId} was cancelled before it started`),
  );
  assert.deepEqual(
    rows(cli('jobs', 'list', '--status', 'cancelled').stdout).map((r) => r.slice(0, 3)),
    [[String(queued.jobId), 'digits', 'cancelled']],
  );
  assert.deepEqual(
    rows(cli('jobs', 'list', '--mine').stdout).map((r) => r[0]),
    ['3', '2', '1'],
  );

  const pub = cli('gallery', 'publish', '1', '--title', 'six and nine');
  assert.equal(pub.code, 0, pub.stderr);
  assert.match(pub.stdout, /job #1 is in the gallery as post #1/);
  for (const sort of ['top', 'recent', 'mine']) {
    const g = cli('gallery', 'list', '--sort', sort);
    assert.equal(g.code, 0, g.stderr);
    assert.deepEqual(
      rows(g.stdout).map((r) => [r[0], r[1], r[2], r[4], r[6]]),
      [['1', '1', 'anagram', me, 'six and nine']],
      sort,
    );
  }
  assert.match(cli('gallery', 'remove', '1', '--reason', 'test').stdout, /gallery post #1 was removed/);
  assert.deepEqual(rows(cli('gallery', 'list').stdout), []);
});

test('jobs and gallery mistakes are one line and exit code 2', () => {
  const cases: Array<[string[], RegExp]> = [
    [['jobs', 'show', '999'], /there is no job #999/],
    [['jobs', 'show', 'abc'], /job must be a number like 12/],
    [['jobs', 'rerun', '999'], /there is no job #999/],
    [['jobs', 'list', '--status', 'lost'], /--status must be one of queued, running, done, failed, cancelled/],
    [['gallery', 'list', '--sort', 'best'], /--sort must be one of top, recent, mine/],
    [['gallery', 'remove', '999'], /999/],
  ];
  for (const [args, message] of cases) {
    const r = cli(...args);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  }
});
