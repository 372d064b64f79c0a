// A CLI generation on the data folder of a bot in Redis mode: it runs its own job in its own engine
// thread and leaves the rows the bot handed to Redis to the workers (no job runs twice), and its
// writes to the shared database do not make the bot repeat events of the jobs it follows.
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import test from 'node:test';
import { openStore } from '../../src/store/index.js';
import { exitWithin, spawnCli } from '../helpers/bot-process.js';
import { startRedis } from '../helpers/redis-server.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { brief, isEnd, jobsTaken, startRedisBot, startRun, startWorker } from './cluster.js';

test("a CLI on the bot's data folder leaves Redis's jobs to the workers, and the bot reports each job's start once", {
  timeout: 300_000,
}, async (t) => {
  const redis = await startRedis(t);
  const dir = makeTempDir(t);
  const dataDir = join(dir, 'data');
  const bot = await startRedisBot(t, dataDir, redis.url);
  const worker = await startWorker(t, redis.url, { models: 'mnist' });

  const running = await startRun(bot.url, 'digits', { count: '1', steps: '60', seed: '21' });
  await running.waitFor((r) => r.type === 'progress' && (r.step as number) >= 1);
  // The worker is busy, so this one waits in Redis while the CLI starts.
  const waiting = await startRun(bot.url, 'digits', { count: '1', steps: '2', seed: '22' });
  const waitingId = (await waiting.waitFor((r) => r.type === 'queued')).jobId!;

  const out = join(dir, 'out');
  const cli = spawnCli(t, dataDir, ['digits', '--count', '1', '--steps', '2', '--seed', '23', '--out', out]);
  assert.equal(await exitWithin(cli, 180_000, 'the CLI'), 0, cli.stderr());
  assert.ok(
    existsSync(out) && readdirSync(out).some((f) => f.endsWith('.png')),
    `the CLI wrote its image: ${cli.stderr()}`,
  );

  for (const run of [running, waiting]) {
    const end = await run.waitFor(isEnd, 180_000);
    assert.equal(end.type, 'result', JSON.stringify(end, brief));
    const starts = run.replies.filter((r) => r.type === 'progress' && r.message === 'started');
    assert.equal(starts.length, 1, `one 'started' reply: ${JSON.stringify(run.replies, brief)}`);
  }
  assert.ok(jobsTaken(worker).includes(waitingId), `the worker ran job #${waitingId}:\n${worker.output()}`);
  const store = openStore(join(dataDir, 'illusionist.db'));
  try {
    assert.equal(store.jobs.get(waitingId)!.attempts, 1, 'it ran once');
    const outputs = store.artifacts.listForJob(waitingId);
    assert.ok(outputs.length > 0);
    assert.equal(new Set(outputs.map((o) => o.ordinal)).size, outputs.length, 'one set of outputs');
  } finally {
    store.close();
  }
});
