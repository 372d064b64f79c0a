// Chat's /train job on the real worker and store: every epoch draws the engine's sample grid beside
// its checkpoint, shows it as the job's preview, and the result leads with the last epoch's grid.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Reply, Requester } from '../../src/commands/contract.js';
import { loadCheckpoint } from '../../src/engine/flow/trainer.js';
import { renderSampleGrid } from '../../src/engine/flow/sample-grid.js';
import { loadDataset } from '../../src/engine/data/load.js';
import { spreadSubset } from '../../src/engine/data/dataset.js';
import { startBotStack } from '../helpers/bot-stack.js';
import { recordingSink } from '../helpers/reply-sink.js';

const admin: Requester = { platform: 'discord', userId: 'root' };

test("/train draws each epoch's sample grid with the engine, previews it, and replies with the last one", async (t) => {
  const { service, store } = await startBotStack(t, { store: { users: { admins: ['discord:root'] } } });
  const sink = recordingSink();
  await service.handle(
    {
      command: 'train',
      options: { kind: 'class', epochs: 2, hidden: 4, batch: 16, images: 32, seed: 5 },
      requester: admin,
    },
    sink,
  );
  const r = sink.last() as Extract<Reply, { type: 'result' }>;
  assert.equal(r.type, 'result', JSON.stringify(r));

  const checkpoints = store.training
    .listCheckpoints('mnist-class')
    .filter((c) => c.name.startsWith(`class-job${r.jobId}-`));
  assert.deepEqual(
    checkpoints.map((c) => c.epoch),
    [1, 2],
  );
  const runDir = dirname(checkpoints[0]!.path);
  const grids: Buffer[] = [];
  for (const c of checkpoints) {
    const file = join(runDir, `samples-epoch-00${c.epoch}.png`);
    assert.ok(existsSync(file), `${file} written`);
    // The grid is the engine's figure of that checkpoint's weights, seeded: drawn again, the same bytes.
    const ck = loadCheckpoint(c.path);
    const again = await renderSampleGrid(ck.spec, ck.servingWeights, ck.settings!, spreadSubset(loadDataset(null), 32));
    assert.ok(readFileSync(file).equals(again), `samples of epoch ${c.epoch} match the checkpoint`);
    grids.push(again);
  }

  const previews = sink.replies.flatMap((x) => (x.type === 'progress' && x.preview ? [x.preview.data] : []));
  for (const grid of grids)
    assert.ok(
      previews.some((p) => p.equals(grid)),
      "each epoch's grid was a progress preview",
    );
  assert.equal(r.files[0]!.contentType, 'image/png');
  assert.ok(r.files[0]!.data.equals(grids[1]!), "the reply leads with the last epoch's grid");
  assert.equal(r.files.length, 3, `samples, loss and run.json: ${r.files.map((f) => f.name).join(', ')}`);
});
