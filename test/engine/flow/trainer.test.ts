// The Part B trainers on a small slice of the embedded digits: loss falls, checkpoints are
// written per epoch, and a run stopped mid-epoch resumes to exactly the weights of an unbroken run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultSettings, train, loadCheckpoint, latestCheckpoint, type TrainSettings, type RunRecord } from '../../../src/engine/flow/trainer.js';
import { mnistSlice as slice } from '../../helpers/tiny-mnist.js';

const tiny = (kind: TrainSettings['kind'], over: Partial<TrainSettings> = {}): TrainSettings => ({
  ...defaultSettings(kind), hidden: 4, batch: 16, epochs: 2, seed: 5, ...over,
});

test('class flow matching: loss falls and each epoch leaves a checkpoint and a run record', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'illusionist-train-'));
  const data = slice(128);
  const out = await train({ settings: tiny('class', { epochs: 3, lr: 5e-3 }), dataset: data, runDir: dir });
  assert.equal(out.stopped, false);
  assert.equal(out.run.finished, true);
  assert.equal(out.run.losses.length, 3 * 8);
  const files = readdirSync(dir).sort();
  for (const e of [1, 2, 3]) assert.ok(files.includes(`checkpoint-epoch-00${e}.safetensors`), files.join(','));
  const first = out.run.epochs[0]!.meanLoss;
  const last = out.run.epochs.at(-1)!.meanLoss;
  assert.ok(last < first, `mean loss went from ${first} to ${last}`);
  const record = JSON.parse(readFileSync(join(dir, 'run.json'), 'utf8')) as RunRecord;
  assert.equal(record.epochs.length, 3);
  const ck = loadCheckpoint(join(dir, 'checkpoint-epoch-003.safetensors'));
  assert.deepEqual(ck.spec, { kind: 'class', hidden: 4 });
  assert.equal(ck.settings?.seed, 5);
});

for (const backend of ['onnxruntime', 'wasm'] as const) {
  test(`a run stopped mid-epoch resumes to exactly the weights of an uninterrupted run (${backend})`, async () => {
    const data = slice(96);
    const settings = tiny('time');
    const straight = mkdtempSync(join(tmpdir(), 'illusionist-straight-'));
    await train({ settings, dataset: data, runDir: straight, backend });

    const broken = mkdtempSync(join(tmpdir(), 'illusionist-broken-'));
    let steps = 0;
    const first = await train({ settings, dataset: data, runDir: broken, backend, hooks: { onProgress: () => { steps++; }, shouldStop: () => steps >= 8 } });
    assert.equal(first.stopped, true);
    assert.match(latestCheckpoint(broken)!, /last\.safetensors$/);
    const resumed = await train({ settings, dataset: data, runDir: broken, resume: true, backend });
    assert.equal(resumed.stopped, false);
    assert.equal(resumed.run.losses.length, 12);

    const a = loadCheckpoint(join(straight, 'checkpoint-epoch-002.safetensors'));
    const b = loadCheckpoint(join(broken, 'checkpoint-epoch-002.safetensors'));
    for (const [name, w] of a.weights) assert.deepEqual(b.weights.get(name), w, `tensor ${name} differs after resume`);
    assert.equal(a.metadata.adam_iterations, b.metadata.adam_iterations);
  });
}

test('the pure-noise denoiser variant trains: its loss falls and it checkpoints', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'illusionist-den-'));
  const data = slice(64);
  const out = await train({ settings: tiny('denoiser', { pureNoise: true, epochs: 4, lr: 1e-2 }), dataset: data, runDir: dir });
  assert.ok(out.run.epochs.at(-1)!.meanLoss < out.run.epochs[0]!.meanLoss);
  assert.ok(existsSync(join(dir, 'checkpoint-epoch-004.safetensors')));
});

test('a checkpoint written by the onnxruntime trainer resumes on TensorFlow.js wasm, and back', async () => {
  const data = slice(64);
  const dir = mkdtempSync(join(tmpdir(), 'illusionist-switch-'));
  const settings = tiny('class', { epochs: 3 });
  await train({ settings: { ...settings, epochs: 1 }, dataset: data, runDir: dir, backend: 'onnxruntime' });
  const onWasm = await train({ settings, dataset: data, runDir: dir, resume: true, extendTo: 2, backend: 'wasm' });
  assert.match(onWasm.run.backend, /wasm/);
  const back = await train({ settings, dataset: data, runDir: dir, resume: true, extendTo: 3, backend: 'onnxruntime' });
  assert.match(back.run.backend, /onnxruntime/);
  assert.equal(back.run.losses.length, 3 * 4);
  assert.ok(back.run.losses.every(Number.isFinite));
  const ck = loadCheckpoint(join(dir, 'checkpoint-epoch-003.safetensors'));
  assert.equal(ck.metadata.adam_iterations, '12', 'Adam counted the steps of both trainers');
});

test('bad settings are refused with the allowed range', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'illusionist-bad-'));
  await assert.rejects(train({ settings: tiny('class', { batch: 1 }), dataset: slice(32), runDir: dir }), /--batch must be an integer from 2 to 4096/);
  await assert.rejects(train({ settings: tiny('class', { batch: 64 }), dataset: slice(32), runDir: dir }), /larger than the data set/);
  await assert.rejects(train({ settings: tiny('class'), dataset: slice(32), runDir: join(dir, 'none'), resume: true }), /cannot resume/);
});

test('a finished run trains on with --epochs, keeping the ExponentialLR γ', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'illusionist-extend-'));
  const data = slice(64);
  const settings = tiny('class', { epochs: 1, lr: 1e-2 });
  await train({ settings, dataset: data, runDir: dir });
  await assert.rejects(train({ settings, dataset: data, runDir: dir, resume: true }), /already finished its 1 epochs; train on with --resume .* --epochs N/);
  await assert.rejects(train({ settings, dataset: data, runDir: dir, resume: true, extendTo: 1 }), /--epochs must be more than the 1 epochs already trained/);
  const lrs: number[] = [];
  const out = await train({ settings, dataset: data, runDir: dir, resume: true, extendTo: 3, hooks: { onProgress: (p) => lrs.push(p.lr) } });
  assert.equal(out.run.finished, true);
  assert.equal(out.run.epochs.length, 3);
  assert.equal(out.run.settings.lrDecayEpochs, 1);
  assert.equal(out.run.losses.length, 3 * 4);
  // γ = 0.1^(1/1): epoch 2 runs at 1e-3, epoch 3 at 1e-4.
  assert.ok(Math.abs(lrs[0]! - 1e-3) < 1e-12 && Math.abs(lrs.at(-1)! - 1e-4) < 1e-12, `lrs ${lrs.join(', ')}`);
  assert.ok(existsSync(join(dir, 'checkpoint-epoch-003.safetensors')));
});
