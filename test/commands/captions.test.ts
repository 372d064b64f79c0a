// Jobs as replies: the queued summary, the result (caption, files, shown parameters, buttons), and
// a person's history, on a real store and queue.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { jobReply, jobSummary, resultReply } from '../../src/commands/captions.js';
import type { JobCommand } from '../../src/commands/command.js';
import { loadCommands } from '../../src/commands/registry.js';
import { SqliteQueue } from '../../src/jobs/sqlite-queue.js';
import { openTestStore } from '../helpers/open-test-store.js';

const commands = loadCommands();
const alice = { platform: 'web' as const, userId: 'alice' };
const upload = {
  sha256: 'abc',
  path: '/srv/artifacts/abc.png',
  width: 64,
  height: 64,
  sourceWidth: 640,
  sourceHeight: 640,
};

test("a result shows captioned files, the caption with seed and job, no server paths, and the command's buttons", async (t) => {
  const store = openTestStore(t);
  const queue = new SqliteQueue(store);
  const params = { prompt: 'a cat', image: upload, iStarts: [1, 3], model: 'deepfloyd-if', steps: 33, guidance: 7 };
  const { jobId } = await queue.enqueue({ who: alice, command: 'edit', params, seed: 5, model: 'deepfloyd-if' });
  await queue.claim(await queue.registerWorker());
  const result = await queue.complete(
    jobId,
    {
      files: [
        { data: Buffer.from('a'), ext: 'png', caption: 'edits' },
        { data: Buffer.from('{}'), ext: 'json', name: 'job.json' },
      ],
    },
    1,
  );
  const edit = commands.get('edit') as JobCommand;
  const reply = resultReply(store, edit, jobId, result);
  assert.deepEqual(
    reply.files.map((f) => f.name),
    [`job${jobId}-edits.png`],
    'uncaptioned files stay in the store',
  );
  assert.match(
    reply.caption,
    new RegExp(
      `^/edit · prompt "a cat" · iStarts 1 / 3 · model "deepfloyd-if" · steps 33 · guidance 7 · seed 5 · job #${jobId} · \\d+\\.\\d s$`,
    ),
  );
  assert.equal('image' in reply.params, false, 'an upload is an artifact path');
  assert.deepEqual(reply.params.iStarts, [1, 3]);
  assert.deepEqual(
    reply.actions.map((a) => a.id.split(':')[0]),
    ['reroll', 'more', 'vary', 'publish', 'delete'],
  );
  assert.deepEqual(
    jobReply(store, commands, store.jobs.get(jobId)!),
    reply,
    'history shows a finished job as its result',
  );
});

test('history shows waiting, running and failed jobs as they stand', async (t) => {
  const store = openTestStore(t);
  const queue = new SqliteQueue(store);
  const train = commands.get('train') as JobCommand;
  const first = await queue.enqueue({
    who: alice,
    command: 'train',
    params: { kind: 'class', epochs: 2, dataDir: '/srv/data', storePath: '/srv/db' },
    seed: 1,
    kind: 'training',
  });
  const second = await queue.enqueue({ who: alice, command: 'digits', params: { digit: 3, count: 2 }, seed: 2 });
  assert.equal(jobSummary(train, 'train', { kind: 'class', epochs: 2 }, 1), '/train kind "class" · epochs 2 · seed 1');
  assert.deepEqual(jobReply(store, commands, store.jobs.get(second.jobId)!), {
    type: 'queued',
    jobId: second.jobId,
    command: 'digits',
    position: 1,
    summary: '/digits digit 3 · count 2 · seed 2',
  });
  await queue.claim(await queue.registerWorker());
  await queue.reportProgress(second.jobId, { step: 3, total: 8, message: 'step 3' });
  assert.deepEqual(jobReply(store, commands, store.jobs.get(second.jobId)!), {
    type: 'progress',
    jobId: second.jobId,
    step: 3,
    total: 8,
    message: 'step 3',
  });
  await queue.fail(second.jobId, 'out of memory');
  assert.deepEqual(jobReply(store, commands, store.jobs.get(second.jobId)!), {
    type: 'failed',
    jobId: second.jobId,
    outcome: 'failed',
    message: `job #${second.jobId} (/digits) failed: out of memory`,
  });
  assert.equal(jobReply(store, commands, store.jobs.get(first.jobId)!).type, 'queued');
});
