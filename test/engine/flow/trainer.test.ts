// The Part B trainers on a small slice of the embedded digits: loss falls, checkpoints are
// written per epoch, and a run stopped mid-epoch resumes to exactly the weights of an unbroken run.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, existsSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  defaultSettings,
  train,
  loadCheckpoint,
  latestCheckpoint,
  updateEma,
  withEma,
  type TrainSettings,
  type RunRecord,
} from '../../../src/engine/flow/trainer.js';
import { paramInfos } from '../../../src/engine/flow/unet.js';
import { exportModel } from '../../../src/engine/flow/model-card.js';
import { mnistSlice as slice } from '../../helpers/tiny-mnist.js';

const tiny = (kind: TrainSettings['kind'], over: Partial<TrainSettings> = {}): TrainSettings => ({
  ...defaultSettings(kind),
  hidden: 4,
  batch: 16,
  epochs: 2,
  seed: 5,
  ...over,
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
    const first = await train({
      settings,
      dataset: data,
      runDir: broken,
      backend,
      hooks: {
        onProgress: () => {
          steps++;
        },
        shouldStop: () => steps >= 8,
      },
    });
    assert.equal(first.stopped, true);
    assert.match(latestCheckpoint(broken)!, /last\.safetensors$/);
    const before = loadCheckpoint(join(broken, 'last.safetensors')).position?.epochSeconds ?? 0;
    const resumed = await train({ settings, dataset: data, runDir: broken, resume: true, backend });
    assert.equal(resumed.stopped, false);
    assert.equal(resumed.run.losses.length, 12);

    const a = loadCheckpoint(join(straight, 'checkpoint-epoch-002.safetensors'));
    const b = loadCheckpoint(join(broken, 'checkpoint-epoch-002.safetensors'));
    for (const [name, w] of a.weights) assert.deepEqual(b.weights.get(name), w, `tensor ${name} differs after resume`);
    assert.equal(a.metadata.adam_iterations, b.metadata.adam_iterations);
    // The stopped epoch's record is the whole epoch's: its mean loss and the time before the stop.
    assert.equal(
      resumed.run.epochs[1]!.meanLoss,
      JSON.parse(readFileSync(join(straight, 'run.json'), 'utf8')).epochs[1].meanLoss,
    );
    assert.ok(
      before > 0 && resumed.run.epochs[1]!.seconds >= before,
      `epoch 2 took ${resumed.run.epochs[1]!.seconds} s in all, ${before} s before the stop`,
    );
  });
}

test('the pure-noise denoiser variant trains: its loss falls and it checkpoints', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'illusionist-den-'));
  const data = slice(64);
  const out = await train({
    settings: tiny('denoiser', { pureNoise: true, epochs: 4, lr: 1e-2 }),
    dataset: data,
    runDir: dir,
  });
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
  await assert.rejects(
    train({ settings: tiny('class', { batch: 1 }), dataset: slice(32), runDir: dir }),
    /--batch must be an integer from 2 to 4096/,
  );
  await assert.rejects(
    train({ settings: tiny('class', { batch: 64 }), dataset: slice(32), runDir: dir }),
    /larger than the data set/,
  );
  await assert.rejects(
    train({ settings: tiny('class'), dataset: slice(32), runDir: join(dir, 'none'), resume: true }),
    /cannot resume/,
  );
});

test('a finished run trains on with --epochs, keeping the ExponentialLR γ', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'illusionist-extend-'));
  const data = slice(64);
  const settings = tiny('class', { epochs: 1, lr: 1e-2 });
  await train({ settings, dataset: data, runDir: dir });
  await assert.rejects(
    train({ settings, dataset: data, runDir: dir, resume: true }),
    /already finished its 1 epochs; train on with --resume .* --epochs N/,
  );
  await assert.rejects(
    train({ settings, dataset: data, runDir: dir, resume: true, extendTo: 1 }),
    /--epochs must be more than the 1 epochs already trained/,
  );
  const lrs: number[] = [];
  const out = await train({
    settings,
    dataset: data,
    runDir: dir,
    resume: true,
    extendTo: 3,
    hooks: { onProgress: (p) => lrs.push(p.lr) },
  });
  assert.equal(out.run.finished, true);
  assert.equal(out.run.epochs.length, 3);
  assert.equal(out.run.settings.lrDecayEpochs, 1);
  assert.equal(out.run.losses.length, 3 * 4);
  // γ = 0.1^(1/1): epoch 2 runs at 1e-3, epoch 3 at 1e-4.
  assert.ok(Math.abs(lrs[0]! - 1e-3) < 1e-12 && Math.abs(lrs.at(-1)! - 1e-4) < 1e-12, `lrs ${lrs.join(', ')}`);
  assert.ok(existsSync(join(dir, 'checkpoint-epoch-003.safetensors')));
});

test('the weight average warms up as min(d, (1 + n)/(10 + n)) and then decays at d', () => {
  const ema = new Map([['w', new Float32Array([0, 10])]]);
  const weights = new Map([['w', new Float32Array([1, 0])]]);
  updateEma(ema, weights, 0.99, 0); // decay min(0.99, 1/10) = 0.1
  assert.deepEqual(
    [...ema.get('w')!].map((v) => +v.toFixed(5)),
    [0.9, 1],
  );
  updateEma(ema, weights, 0.5, 1000); // decay 0.5
  assert.deepEqual(
    [...ema.get('w')!].map((v) => +v.toFixed(5)),
    [0.95, 0.5],
  );
  const live = new Map([
    ['w', new Float32Array([7, 7])],
    ['bn', new Float32Array([3])],
  ]);
  const serving = withEma(live, ema);
  assert.equal(serving.get('w'), ema.get('w'));
  assert.equal(serving.get('bn'), live.get('bn'), 'tensors without an average are served as they are');
  assert.equal(withEma(live, undefined), live);
});

test('--ema: checkpoints carry the average, sampling and exports use it, and a resumed run keeps it bit for bit', async () => {
  const data = slice(96);
  const settings = tiny('time', { ema: 0.9 });
  const straight = mkdtempSync(join(tmpdir(), 'illusionist-ema-'));
  await train({ settings, dataset: data, runDir: straight });
  const broken = mkdtempSync(join(tmpdir(), 'illusionist-ema-broken-'));
  let steps = 0;
  await train({
    settings,
    dataset: data,
    runDir: broken,
    hooks: {
      onProgress: () => {
        steps++;
      },
      shouldStop: () => steps >= 7,
    },
  });
  await train({ settings, dataset: data, runDir: broken, resume: true });

  const a = loadCheckpoint(join(straight, 'checkpoint-epoch-002.safetensors'));
  const b = loadCheckpoint(join(broken, 'checkpoint-epoch-002.safetensors'));
  const trainable = paramInfos(a.spec)
    .filter((p) => p.trainable)
    .map((p) => p.name);
  assert.deepEqual([...a.ema!.keys()].sort(), [...trainable].sort(), 'one average per trained tensor');
  for (const [name, avg] of a.ema!) assert.deepEqual(b.ema!.get(name), avg, `average of ${name} differs after resume`);
  const moved = trainable.filter((n) => a.ema!.get(n)!.some((v, i) => v !== a.weights.get(n)![i]));
  assert.ok(moved.length > trainable.length / 2, 'the average lags the live weights');
  for (const [name, w] of a.servingWeights) assert.equal(w, a.ema!.get(name) ?? a.weights.get(name), `serving ${name}`);

  // Exported: the committed file holds the average as the weights, and no separate average.
  const models = mkdtempSync(join(tmpdir(), 'illusionist-ema-model-'));
  const out = await exportModel(straight, models, {
    name: 'ema-test',
    samplesPng: Buffer.alloc(0),
    samplesCommand: '-',
    samplesSeconds: 0,
  });
  const committed = loadCheckpoint(out.checkpoint);
  assert.equal(committed.ema, undefined);
  for (const n of trainable) assert.deepEqual(committed.weights.get(n), a.ema!.get(n));
  assert.match(readFileSync(out.card, 'utf8'), /exponential moving average, decay 0\.9/);
  assert.match(readFileSync(out.card, 'utf8'), /--ema 0\.9/);
});

test('an average with a vanishing decay is the live weights of the last step', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'illusionist-ema0-'));
  await train({ settings: tiny('class', { epochs: 1, ema: 1e-12 }), dataset: slice(64), runDir: dir });
  const ck = loadCheckpoint(join(dir, 'checkpoint-epoch-001.safetensors'));
  for (const [name, avg] of ck.ema!) assert.deepEqual(avg, ck.weights.get(name), name);
});

test("initWeights: a new run starts from another run's weights instead of a fresh initialisation", async () => {
  const data = slice(64);
  const first = mkdtempSync(join(tmpdir(), 'illusionist-init-a-'));
  await train({ settings: tiny('class', { epochs: 1, lr: 1e-2 }), dataset: data, runDir: first });
  const from = loadCheckpoint(join(first, 'checkpoint-epoch-001.safetensors'));
  const second = mkdtempSync(join(tmpdir(), 'illusionist-init-b-'));
  // A learning rate so small that the weights stay where they started.
  const settings = tiny('class', { epochs: 1, lr: 1e-9, seed: 9 });
  await train({
    settings: { ...settings, init: 'first' },
    dataset: data,
    runDir: second,
    initWeights: from.servingWeights,
  });
  const fresh = mkdtempSync(join(tmpdir(), 'illusionist-init-c-'));
  await train({ settings, dataset: data, runDir: fresh });
  const b = loadCheckpoint(join(second, 'checkpoint-epoch-001.safetensors'));
  const c = loadCheckpoint(join(fresh, 'checkpoint-epoch-001.safetensors'));
  assert.equal(b.settings?.init, 'first');
  let fromInit = 0;
  let fromFresh = 0;
  for (const p of paramInfos(b.spec).filter((q) => q.trainable)) {
    const w = b.weights.get(p.name)!;
    w.forEach((v, i) => {
      fromInit = Math.max(fromInit, Math.abs(v - from.weights.get(p.name)![i]!));
      fromFresh = Math.max(fromFresh, Math.abs(v - c.weights.get(p.name)![i]!));
    });
  }
  assert.ok(fromInit < 1e-6, `started from the given weights: max |Δ| ${fromInit}`);
  assert.ok(fromFresh > 1e-2, `not from a fresh initialisation: max |Δ| ${fromFresh}`);
});
