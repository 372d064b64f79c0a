// Crash safety and graceful shutdown with real processes: a process killed mid-job leaves nothing
// lost (the job resumes and completes after restart); SIGTERM re-queues or finishes and closes cleanly.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import readline from 'node:readline';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { SqliteQueue } from '../../src/jobs/sqlite-queue.js';
import type { JobResult, JobSpec } from '../../src/jobs/types.js';
import { waitForJob } from '../../src/jobs/wait-for-job.js';
import { openStore } from '../../src/store/index.js';
import { startTestRunner } from '../helpers/start-test-runner.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const processScript = fileURLToPath(new URL('../fixtures/queue-process.js', import.meta.url));
const bob = { platform: 'slack', userId: 'bob' };

interface Line {
  type: string;
  jobId: number;
  step?: number;
}

function startProcess(
  t: import('node:test').TestContext,
  args: string[],
): { child: ChildProcess; waitFor: (match: (l: Line) => boolean) => Promise<void>; exited: Promise<number | null> } {
  const child = spawn(process.execPath, [processScript, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
  t.after(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });
  const lines: Line[] = [];
  const waiters: { match: (l: Line) => boolean; resolve: () => void }[] = [];
  readline.createInterface({ input: child.stdout! }).on('line', (text) => {
    const line = JSON.parse(text) as Line;
    lines.push(line);
    for (const w of waiters.filter((w) => w.match(line))) w.resolve();
  });
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  const waitFor = (match: (l: Line) => boolean) =>
    lines.some(match)
      ? Promise.resolve()
      : Promise.race([
          new Promise<void>((resolve) => waiters.push({ match, resolve })),
          exited.then((code) =>
            Promise.reject(new Error(`the process exited (${code}) first; it printed ${JSON.stringify(lines)}`)),
          ),
        ]);
  return { child, waitFor, exited };
}

function trainSpec(seed: number): JobSpec {
  return { who: bob, command: 'train', kind: 'training', params: { steps: 40, work: 1_000_000 }, seed };
}

test('a process killed mid-job: after restart the job resumes from its saved step, completes, and nothing queued is lost', async (t) => {
  const dir = makeTempDir(t);
  const file = path.join(dir, 'illusionist.db');
  const setup = openStore(file, { users: { defaults: { maxActiveJobs: 5 } } });
  const setupQueue = new SqliteQueue(setup);
  const first = await setupQueue.enqueue(trainSpec(11));
  const second = await setupQueue.enqueue(trainSpec(12));
  setup.close();

  const proc = startProcess(t, [file]);
  await proc.waitFor((l) => l.type === 'progress' && l.jobId === first.jobId && (l.step ?? 0) >= 5);
  proc.child.kill('SIGKILL');
  await proc.exited;

  const { store, queue, runner } = await startTestRunner(t, file, { start: false });
  const left = store.jobs.get(first.jobId)!;
  assert.equal(left.status, 'running', 'the dead process left it running');
  const savedStep = (left.resumeState as { step: number }).step;
  assert.ok(savedStep >= 5, `saved step ${savedStep}`);
  await runner.start();
  const resumed = await waitForJob(queue, first.jobId, { timeoutMs: 20_000 });
  assert.equal(resumed.status, 'done');
  assert.equal(resumed.attempts, 2);
  const result = resumed.result as JobResult;
  assert.ok((result.metrics.resumedFrom ?? 0) >= savedStep, 'resumed, not restarted from step 0');
  assert.equal((await waitForJob(queue, second.jobId, { timeoutMs: 20_000 })).status, 'done');

  // The resumed run's output equals an uninterrupted run of the same seed.
  const reference = await startTestRunner(t, path.join(dir, 'reference.db'));
  const ref = await reference.queue.enqueue(trainSpec(11));
  const refResult = (await waitForJob(reference.queue, ref.jobId, { timeoutMs: 20_000 })).result as JobResult;
  assert.equal(result.files[0]?.sha256, refResult.files[0]?.sha256);
});

test('SIGTERM mid-job re-queues the job without spending an attempt and closes the database cleanly', async (t) => {
  const file = path.join(makeTempDir(t), 'illusionist.db');
  const spec: JobSpec = { who: bob, command: 'mix', params: { steps: 400, work: 1_000_000 }, seed: 3 };
  const proc = startProcess(t, [file, JSON.stringify(spec), '0']);
  await proc.waitFor((l) => l.type === 'progress' && (l.step ?? 0) >= 3);
  proc.child.kill('SIGTERM');
  assert.equal(await proc.exited, 0);
  assert.equal(fs.existsSync(`${file}-wal`) && fs.statSync(`${file}-wal`).size > 0, false, 'WAL checkpointed on close');

  const { store, queue, runner } = await startTestRunner(t, file, { start: false });
  const job = store.jobs.list()[0]!;
  assert.equal(job.status, 'queued');
  assert.equal(job.attempts, 0);
  assert.match(job.error ?? '', /shutdown/);
  await runner.start();
  assert.equal((await waitForJob(queue, job.id, { timeoutMs: 20_000 })).status, 'done');
});

test('SIGTERM with enough grace lets the running job finish before exiting', async (t) => {
  const file = path.join(makeTempDir(t), 'illusionist.db');
  const spec: JobSpec = { who: bob, command: 'mix', params: { steps: 30, work: 1_000_000 }, seed: 3 };
  const proc = startProcess(t, [file, JSON.stringify(spec), '20000']);
  await proc.waitFor((l) => l.type === 'progress' && (l.step ?? 0) >= 2);
  proc.child.kill('SIGTERM');
  assert.equal(await proc.exited, 0);
  const store = openStore(file);
  t.after(() => store.close());
  assert.equal(store.jobs.list()[0]?.status, 'done');
});
