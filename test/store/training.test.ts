// Training runs and checkpoints: per-epoch loss, sample grids, default checkpoints, and the
// idempotent registration of committed model files.
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { hashFile } from '../../src/store/index.js';
import { openTestStore } from '../helpers/open-test-store.js';
import { makeTempDir } from '../helpers/temp-dir.js';

test('records a run with epochs, grids and a checkpoint', (t) => {
  const store = openTestStore(t);
  const run = store.training.startRun({ modelKind: 'mnist-flow', settings: { batch: 64, lr: 1e-2 } });
  store.training.recordEpoch(run.id, 1, 0.5, 12.5);
  store.training.recordEpoch(run.id, 2, 0.3);
  store.training.recordEpoch(run.id, 2, 0.25); // a resumed epoch overwrites
  const grid = store.artifacts.save(Buffer.from('grid'), 'png');
  store.training.addSampleGrid(run.id, 2, grid.sha256);
  const file = path.join(makeTempDir(t), 'epoch2.json');
  fs.writeFileSync(file, '{"weights":[1,2,3]}');
  const ckpt = store.training.addCheckpoint({
    runId: run.id,
    modelKind: 'mnist-flow',
    name: 'run1-e2',
    path: file,
    epoch: 2,
  });
  store.training.finishRun(run.id, 'done');
  assert.deepEqual(store.training.listEpochs(run.id), [
    { epoch: 1, loss: 0.5, seconds: 12.5 },
    { epoch: 2, loss: 0.25, seconds: null },
  ]);
  assert.deepEqual(store.training.listSampleGrids(run.id), [{ epoch: 2, sha256: grid.sha256 }]);
  assert.equal(ckpt.sha256, hashFile(file));
  assert.equal(store.training.getRun(run.id)?.status, 'done');
  assert.deepEqual(store.training.getRun(run.id)?.settings, { batch: 64, lr: 1e-2 });
  store.training.setDefaultCheckpoint('mnist-flow', ckpt.id);
  assert.equal(store.training.getDefaultCheckpoint('mnist-flow')?.id, ckpt.id);
  assert.throws(() => store.training.setDefaultCheckpoint('deepfloyd-if', ckpt.id), /is a mnist-flow model/);
});

test('committed models are registered once, updated when the file changes, and become defaults', (t) => {
  const store = openTestStore(t);
  const dir = makeTempDir(t);
  const a = path.join(dir, 'class-cond.onnx');
  const b = path.join(dir, 'time-cond.onnx');
  fs.writeFileSync(a, 'A1');
  fs.writeFileSync(b, 'B1');
  const models = [
    { modelKind: 'mnist-flow-class', name: 'committed', path: a },
    { modelKind: 'mnist-flow-time', name: 'committed', path: b },
  ];
  assert.equal(store.training.registerCommittedModels(models).added.length, 2);
  assert.deepEqual(store.training.registerCommittedModels(models), { added: [], updated: [] });
  fs.writeFileSync(a, 'A2');
  const { updated } = store.training.registerCommittedModels(models);
  assert.equal(updated.length, 1);
  assert.equal(updated[0]?.sha256, hashFile(a));
  assert.equal(store.training.getDefaultCheckpoint('mnist-flow-class')?.committed, true);
  assert.throws(
    () => store.training.registerCommittedModels([{ modelKind: 'x', name: 'y', path: path.join(dir, 'missing.onnx') }]),
    /no file at/,
  );
});

test('listCheckpoints filters by model kind, or lists all', (t) => {
  const store = openTestStore(t);
  const dir = path.dirname(store.path);
  const file = path.join(dir, 'a.safetensors');
  fs.writeFileSync(file, 'weights');
  store.training.addCheckpoint({ modelKind: 'mnist-class', name: 'a', path: file });
  store.training.addCheckpoint({ modelKind: 'mnist-time', name: 'b', path: file });
  assert.deepEqual(
    store.training.listCheckpoints('mnist-time').map((c) => c.name),
    ['b'],
  );
  assert.deepEqual(
    store.training.listCheckpoints().map((c) => c.name),
    ['a', 'b'],
  );
});
