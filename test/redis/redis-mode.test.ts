// Redis mode with real parts: redis-server on loopback, the bot (REDIS_URL) and `illusionist worker`
// processes as children, chat commands through the bot's web console. One bot serves the steps in
// turn (each a subtest), so the suite starts few processes: ordering and limits first (no worker
// yet), then two workers for byte-identical outputs, progress, cancellation, kill -9, a bot
// restart, and Redis stopped and started again.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import test from 'node:test';
import { openStore } from '../../src/store/index.js';
import { startBotProcess, type BotProcess } from '../helpers/bot-process.js';
import { startRedis } from '../helpers/redis-server.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import {
  brief,
  isEnd,
  isResult,
  jobsTaken,
  resultFiles,
  startRedisBot,
  startRun,
  startWorker,
  type Reply,
  type WorkerProcess,
} from './cluster.js';

const ALICE = 'alice-token-0123456789abcdef';
const BOB = 'bob-token-0123456789abcdef01';
const ENV = {
  WEB_USERS: `alice:${ALICE},bob:${BOB}`,
  ADMINS: 'web:bob',
  MAX_ACTIVE_JOBS: '2',
  SESSION_SECRET: 'test-session-secret-0123456789abcdef',
};

function jobRow(dataDir: string, jobId: number) {
  const store = openStore(join(dataDir, 'illusionist.db'));
  try {
    return store.jobs.get(jobId);
  } finally {
    store.close();
  }
}

async function until<T>(what: string, probe: () => T | undefined | Promise<T | undefined>, ms = 60_000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`${what}: not within ${ms / 1000} s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const queuedId = async (run: Awaited<ReturnType<typeof startRun>>): Promise<number> =>
  (await run.waitFor((r) => r.type === 'queued' || r.type === 'error')).jobId ??
  assert.fail(`not queued: ${JSON.stringify(run.replies, brief)}`);

test('Redis mode: the bot and two `illusionist worker` processes on a real redis-server', {
  timeout: 600_000,
}, async (t) => {
  const redis = await startRedis(t);
  const dataDir = join(makeTempDir(t), 'data');
  let bot: BotProcess = await startRedisBot(t, dataDir, redis.url, ENV);
  const workers: WorkerProcess[] = [];

  await t.test(
    "(1) ordering and limits: interactive before training, the per-user cap, everyone's first job before anyone's second",
    async () => {
      // No worker yet, so all of these wait in Redis and the order they are taken in is the queue's.
      const train = await startRun(bot.url, 'train', { epochs: '1', images: '16', batch: '16', hidden: '8' }, BOB);
      const trainId = await queuedId(train);
      const a1 = await startRun(bot.url, 'digits', { count: '1', steps: '2', seed: '1' }, ALICE);
      const a1Id = await queuedId(a1);
      const a2 = await startRun(bot.url, 'digits', { count: '1', steps: '2', seed: '2' }, ALICE);
      const a2Id = await queuedId(a2);
      const a3 = await startRun(bot.url, 'digits', { count: '1', steps: '2', seed: '3' }, ALICE);
      const refused = await a3.waitFor((r) => r.type === 'error');
      assert.equal(refused.code, 'rate-limited', JSON.stringify(refused));
      assert.match(String(refused.message), /you already have 2 jobs waiting or running \(the limit is 2\)/);
      const b1 = await startRun(bot.url, 'digits', { count: '1', steps: '2', seed: '4' }, BOB);
      const b1Id = await queuedId(b1);

      // One worker for both interactive and training work (it shares the bot's host and data folder).
      const worker = await startWorker(t, redis.url, { models: 'mnist,train' });
      workers.push(worker);
      for (const run of [a1, a2, b1]) await run.waitFor(isResult(), 120_000);
      await worker.waitFor(new RegExp(`job #${trainId} `));
      assert.deepEqual(
        jobsTaken(worker),
        [a1Id, b1Id, a2Id, trainId],
        "alice's second waits behind bob's first; training after every image",
      );
      const trainEnd = await train.waitFor(isEnd, 180_000);
      assert.equal(trainEnd.type, 'result', JSON.stringify(trainEnd, brief));
    },
  );

  workers.push(await startWorker(t, redis.url, { models: 'mnist' }));

  await t.test('(7) byte-identical outputs against the embedded mode for the same seed', async (st) => {
    const embedded = await startBotProcess(st, join(makeTempDir(st), 'embedded'));
    const cases: Array<[string, Record<string, string>]> = [
      ['digits', { count: '3', steps: '4', seed: '7' }],
      ['anagram', { model: 'mnist-flow', prompt1: '6', prompt2: '9', view: 'flip', steps: '6', seed: '7' }],
    ];
    for (const [command, options] of cases) {
      const [viaRedis, viaThread] = await Promise.all([
        startRun(bot.url, command, options, ALICE).then((r) => r.waitFor(isEnd)),
        startRun(embedded.url, command, options).then((r) => r.waitFor(isEnd)),
      ]);
      assert.equal(viaRedis.type, 'result', JSON.stringify(viaRedis, brief));
      assert.equal(viaThread.type, 'result', JSON.stringify(viaThread, brief));
      const redisFiles = await resultFiles(bot.url, viaRedis, ALICE);
      const threadFiles = await resultFiles(embedded.url, viaThread);
      assert.ok(redisFiles.length > 0);
      assert.equal(redisFiles.length, threadFiles.length, `/${command}: as many files`);
      redisFiles.forEach((f, i) => {
        assert.ok(f.data.equals(threadFiles[i]!.data), `/${command}: file ${i + 1} (${f.name}) is byte-identical`);
      });
    }
  });

  await t.test("(2) progress with previews reaches the web console's event stream", async () => {
    const run = await startRun(bot.url, 'digits', { count: '2', steps: '10', seed: '11' }, ALICE);
    const end = await run.waitFor(isEnd);
    assert.equal(end.type, 'result', JSON.stringify(end, brief));
    const progress = run.replies.filter(
      (r) => r.type === 'progress' && typeof r.step === 'number' && (r.step as number) > 0,
    );
    assert.ok(progress.length >= 1, JSON.stringify(run.replies, brief));
    const last = progress.at(-1)!;
    assert.equal(last.step, 10);
    assert.equal(last.total, 10);
    const preview = last.preview as { url: string; contentType: string } | undefined;
    assert.equal(preview?.contentType, 'image/png', 'step 10 carries the preview grid');
    const png = Buffer.from(preview!.url.replace(/^data:image\/png;base64,/, ''), 'base64');
    assert.equal(png.subarray(1, 4).toString(), 'PNG', 'a real PNG came through Redis');
  });

  await t.test('(3) cancellation reaches the job on another process and stops it at a step', async () => {
    const run = await startRun(bot.url, 'digits', { count: '1', steps: '300', seed: '12' }, ALICE);
    const jobId = await queuedId(run);
    await run.waitFor((r) => r.type === 'progress' && (r.step as number) >= 2);
    const cancel = await startRun(bot.url, 'cancel', { id: String(jobId) }, ALICE);
    const answer = await cancel.waitFor((r) => r.type === 'info' || r.type === 'error');
    assert.match(String(answer.text), new RegExp(`Job #${jobId} will stop at its next step`), JSON.stringify(answer));
    const end = await run.waitFor(isEnd, 30_000);
    assert.equal(end.outcome, 'cancelled', JSON.stringify(end, brief));
    const row = await until('the row is cancelled', () =>
      jobRow(dataDir, jobId)?.status === 'cancelled' ? jobRow(dataDir, jobId) : undefined,
    );
    assert.ok((row.progressStep ?? 0) < 300, `stopped at step ${row.progressStep} of 300`);
  });

  await t.test(
    '(4) kill -9 of the worker running a job: the other worker runs it again, and one result comes',
    async () => {
      const run = await startRun(bot.url, 'digits', { count: '1', steps: '40', seed: '13' }, ALICE);
      const jobId = await queuedId(run);
      await run.waitFor((r) => r.type === 'progress' && (r.step as number) >= 2);
      const running = workers.find((w) => jobsTaken(w).includes(jobId));
      assert.ok(running, 'a worker logged taking it');
      const other = workers.find((w) => w !== running)!;
      running.child.kill('SIGKILL');
      await running.exited;
      await other.waitFor(new RegExp(`job #${jobId} \\(digits\\), attempt 2 of 3`), 60_000);
      const end = await run.waitFor(isEnd);
      assert.equal(end.type, 'result', JSON.stringify(end, brief));
      await new Promise((r) => setTimeout(r, 1500)); // a second result, if any, would come now
      assert.equal(run.replies.filter((r) => r.type === 'result').length, 1, 'one result, not two');
      const row = jobRow(dataDir, jobId)!;
      assert.equal(row.status, 'done');
      assert.equal(row.attempts, 2);
      workers.splice(workers.indexOf(running), 1);
    },
  );

  await t.test('(5) the bot restarts while a worker runs a job: the result is stored after the restart', async () => {
    const run = await startRun(bot.url, 'digits', { count: '1', steps: '40', seed: '14' }, ALICE);
    const jobId = await queuedId(run);
    await run.waitFor((r) => r.type === 'progress' && (r.step as number) >= 2);
    bot.child.kill('SIGTERM');
    assert.equal(await bot.exited, 0, bot.output());
    // The job goes on while no bot listens; its result waits in Redis for the next start.
    bot = await startRedisBot(t, dataDir, redis.url, ENV);
    const row = await until('the job is stored as done', () =>
      jobRow(dataDir, jobId)?.status === 'done' ? jobRow(dataDir, jobId) : undefined,
    );
    const store = openStore(join(dataDir, 'illusionist.db'));
    try {
      assert.ok(store.artifacts.listForJob(row.id).length > 0, 'its files are stored as artifacts');
    } finally {
      store.close();
    }
  });

  await t.test('(6) Redis stopped: a clear private refusal and a log line; started again: jobs run', async () => {
    await redis.stop();
    const refused = await until(
      'the bot sees Redis gone',
      async () => {
        const run = await startRun(bot.url, 'digits', { count: '1', steps: '2', seed: '15' }, BOB);
        const first = await run.waitFor(() => true);
        return first.type === 'error' ? first : undefined;
      },
      30_000,
    );
    assert.equal(refused.code, 'unavailable', JSON.stringify(refused));
    assert.match(
      String(refused.message),
      new RegExp(
        `the job queue is unreachable right now \\(Redis at 127\\.0\\.0\\.1:${redis.port} does not answer\\), so nothing was started`,
      ),
    );
    assert.match(bot.output(), /redis: unreachable at redis:\/\/127\.0\.0\.1:\d+/);
    await redis.start();
    await until(
      'the bot sees Redis back',
      () => (/redis: reachable again/.test(bot.output()) ? true : undefined),
      60_000,
    );
    const run = await startRun(bot.url, 'digits', { count: '1', steps: '2', seed: '16' }, BOB);
    const end: Reply = await run.waitFor(isEnd, 120_000);
    assert.equal(end.type, 'result', JSON.stringify(end, brief));
  });
});
