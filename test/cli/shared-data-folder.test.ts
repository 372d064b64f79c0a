// The bot and a CLI as two processes on one data folder, as the README promises: whichever
// process's worker runs the CLI's job, the CLI hears it end, writes --out and returns; Ctrl-C
// cancels it wherever it runs; nothing is lost or run twice.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { exitWithin, spawnCli, startBotProcess } from '../helpers/bot-process.js';
import { makeTempDir } from '../helpers/temp-dir.js';

interface JobLine {
  id: number;
  status: string;
  attempts: number;
  worker_id: string | null;
}

/** The jobs, and the worker ids of `pid`'s registered workers, as the file holds them now. */
function readJobs(dataDir: string, pid?: number): { jobs: JobLine[]; workersOfPid: string[] } {
  const db = new Database(path.join(dataDir, 'illusionist.db'), { readonly: true });
  try {
    const jobs = db.prepare('SELECT id, status, attempts, worker_id FROM jobs ORDER BY id').all() as JobLine[];
    const workersOfPid = (
      db.prepare('SELECT id FROM workers WHERE pid = ?').all(pid ?? -1) as Array<{ id: string }>
    ).map((w) => w.id);
    return { jobs, workersOfPid };
  } finally {
    db.close();
  }
}

test("bot first: the CLI job the bot's worker runs returns, with its files in --out", async (t) => {
  const dataDir = path.join(makeTempDir(t, 'illusionist-shared-'), 'data');
  const bot = await startBotProcess(t, dataDir);
  const out = path.join(dataDir, '..', 'x');
  // The issue's command. The bot looks for other processes' jobs every 250 ms and the CLI's own
  // worker needs seconds to load, so the bot's worker takes it.
  const cli = spawnCli(t, dataDir, ['digits', '--digit', '7', '--seed', '3', '--out', out]);
  const code = await exitWithin(cli, 120_000, 'the CLI');
  assert.equal(code, 0, cli.stderr());
  assert.match(cli.stdout(), /→ .*grid\.png · job #1\n$/);
  assert.match(cli.stderr(), /digits job #1: step 15\/15/, "the progress from the bot's worker reached the CLI");
  for (const file of ['grid.png', 'job.json']) assert.ok(fs.existsSync(path.join(out, file)), `${file} in --out`);
  const { jobs, workersOfPid } = readJobs(dataDir, bot.pid);
  assert.deepEqual(
    jobs.map((j) => [j.id, j.status, j.attempts]),
    [[1, 'done', 1]],
  );
  assert.ok(workersOfPid.includes(jobs[0]!.worker_id!), "the bot's worker ran it");
});

test("CLI first: the bot started meanwhile leaves the CLI's running job alone, and the CLI returns with its files", async (t) => {
  const dataDir = path.join(makeTempDir(t, 'illusionist-shared-'), 'data');
  const out = path.join(dataDir, '..', 'x');
  const cli = spawnCli(t, dataDir, [
    'digits',
    '--digit',
    '3',
    '--count',
    '8',
    '--steps',
    '200',
    '--seed',
    '4',
    '--out',
    out,
  ]);
  await cli.waitForStderr(/digits job #1: step \d+\/200/);
  const bot = await startBotProcess(t, dataDir);
  const code = await exitWithin(cli, 300_000, 'the CLI');
  assert.equal(code, 0, cli.stderr());
  assert.match(cli.stdout(), /· job #1\n$/);
  assert.ok(fs.existsSync(path.join(out, 'grid.png')));
  const { jobs, workersOfPid } = readJobs(dataDir, bot.pid);
  assert.deepEqual(
    jobs.map((j) => [j.id, j.status, j.attempts]),
    [[1, 'done', 1]],
    'one job, run once',
  );
  assert.ok(!workersOfPid.includes(jobs[0]!.worker_id!), "the CLI's own worker ran it, not the bot's");
  assert.doesNotMatch(bot.output(), /job runner|Error/);
});

test('Ctrl-C in a CLI whose job the bot runs cancels the job and exits', async (t) => {
  const dataDir = path.join(makeTempDir(t, 'illusionist-shared-'), 'data');
  const bot = await startBotProcess(t, dataDir);
  const cli = spawnCli(t, dataDir, [
    'digits',
    '--digit',
    '1',
    '--count',
    '100',
    '--steps',
    '300',
    '--out',
    path.join(dataDir, '..', 'x'),
  ]);
  await cli.waitForStderr(/digits job #1: step \d+\/300/);
  cli.child.kill('SIGINT');
  const code = await exitWithin(cli, 60_000, 'the CLI after Ctrl-C');
  assert.equal(code, 1, cli.stderr());
  assert.match(cli.stderr(), /cancelling job #1/);
  assert.match(cli.stderr(), /job #1 was cancelled/);
  const { jobs, workersOfPid } = readJobs(dataDir, bot.pid);
  assert.deepEqual(
    jobs.map((j) => [j.id, j.status]),
    [[1, 'cancelled']],
  );
  assert.ok(workersOfPid.includes(jobs[0]!.worker_id!), "the bot's worker ran it");
});
