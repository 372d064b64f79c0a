// A full disk under the data folder (a real tmpfs of 2 MiB, filled to the last byte): the job whose
// outputs cannot be saved ends failed with a message that says so and where, and the queue takes
// the next job by itself once space is freed, without a restart.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createCommandService } from '../../src/commands/service.js';
import { SqliteQueue } from '../../src/jobs/sqlite-queue.js';
import { waitForJob } from '../../src/jobs/wait-for-job.js';
import { openStore } from '../../src/store/index.js';
import { makeMountDir, mountTmpfs } from '../helpers/mounts.js';
import { cpuHandlersPath, startTestRunner } from '../helpers/start-test-runner.js';
import { recordingSink } from '../helpers/reply-sink.js';
import { makeTempDir } from '../helpers/temp-dir.js';
import { tinyClassCheckpoint } from '../helpers/tiny-mnist.js';

const waitFileHandlers = fileURLToPath(new URL('../fixtures/wait-file-handlers.js', import.meta.url));
const who = { platform: 'discord', userId: 'alice' };

/** Writes `file` until the file system refuses another byte; returns how many bytes it took. */
function fillDisk(file: string): number {
  const fd = fs.openSync(file, 'w');
  let written = 0;
  try {
    for (const size of [1 << 16, 1 << 12, 1]) {
      const chunk = Buffer.alloc(size, 1);
      for (;;) {
        try {
          written += fs.writeSync(fd, chunk);
        } catch (error) {
          if ((error as NodeJS.ErrnoException).code !== 'ENOSPC') throw error;
          break;
        }
      }
    }
  } finally {
    fs.closeSync(fd);
  }
  return written;
}

async function until(what: string, check: () => boolean, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test('a job whose outputs meet a full disk fails saying so, and the queue goes on once space returns', async (t) => {
  const dataDir = makeMountDir(t, 'illusionist-full-');
  mountTmpfs(dataDir, 2 << 20);
  const go = path.join(makeTempDir(t), 'go');
  const { store, queue } = await startTestRunner(t, path.join(dataDir, 'illusionist.db'), {
    runner: { handlerModules: [cpuHandlersPath, waitFileHandlers] },
  });
  const a = await queue.enqueue({ who, command: 'wait-file', params: { path: go, bytes: 64 }, seed: 1 });
  const b = await queue.enqueue({ who, command: 'mix', params: { steps: 3, work: 1000 }, seed: 2 });
  await until('job A to run', () => store.jobs.get(a.jobId)?.status === 'running');

  const filler = path.join(dataDir, 'filler');
  assert.ok(fillDisk(filler) > 0);
  fs.writeFileSync(go, ''); // job A finishes now, onto the full disk
  // While the disk is full nothing can be recorded: job B must not start (it could not be saved either).
  await new Promise((resolve) => setTimeout(resolve, 1500));
  assert.notEqual(store.jobs.get(a.jobId)?.status, 'done');
  assert.equal(store.jobs.get(b.jobId)?.status, 'queued');

  fs.rmSync(filler);
  const jobB = await waitForJob(queue, b.jobId, { timeoutMs: 20_000 });
  assert.equal(jobB.status, 'done', jobB.error ?? '');
  const jobA = store.jobs.get(a.jobId)!;
  assert.equal(jobA.status, 'failed');
  assert.match(
    jobA.error ?? '',
    new RegExp(`^the job ran but its outputs could not be saved: the disk holding ${dataDir} is full \\(`),
  );
  assert.match(jobA.error ?? '', /free some space there/);
  assert.deepEqual(
    fs.readdirSync(path.join(dataDir, 'artifacts')).filter((f) => f.startsWith('.')),
    [],
    'no partial file left behind',
  );
});

test('a request that meets a full disk is answered privately, saying so, and leaves no job behind', async (t) => {
  const dataDir = makeMountDir(t, 'illusionist-full-');
  mountTmpfs(dataDir, 2 << 20);
  const store = openStore(path.join(dataDir, 'illusionist.db'));
  t.after(() => store.close());
  store.training.registerCommittedModels([
    { modelKind: 'mnist-class', name: 'mnist-class', path: await tinyClassCheckpoint() },
  ]);
  const queue = new SqliteQueue(store);
  const service = createCommandService({ store, queue, dataDir });
  fillDisk(path.join(dataDir, 'filler'));

  const sink = recordingSink();
  await service.handle(
    { command: 'digits', options: { digit: 7 }, requester: { platform: 'discord', userId: 'alice' } },
    sink,
  );
  const reply = sink.last();
  assert.equal(reply.type, 'error');
  assert.ok(reply.type === 'error');
  assert.equal(reply.message, "the bot's disk is full, so your request was not queued");
  assert.match(reply.allowed ?? '', /try again later/);
  assert.equal(store.jobs.list({ limit: 10 }).length, 0);
});
