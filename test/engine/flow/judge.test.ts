// The digit judge of the quality bench: trained here on real digits it reads held-out real digits
// far above chance (10%), and qualityOf counts confident (and requested) readings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FEATURE_DIM, qualityOf, trainDigitJudge } from '../../../src/engine/flow/judge.js';
import { mnistSlice } from '../../helpers/tiny-mnist.js';

test('the judge, trained on 9 in 10 of 2,000 real digits, reads the held-out ones', async () => {
  const data = mnistSlice(2000);
  const judge = await trainDigitJudge(data, { epochs: 3, seed: 0, backend: 'wasm' });
  try {
    assert.equal(judge.heldOut.labels.length, 200);
    assert.ok(judge.heldOutAccuracy > 0.8, `held-out accuracy ${judge.heldOutAccuracy}`);
    const real = qualityOf(judge.heldOut.verdicts, judge.heldOut.labels, 0.5);
    assert.ok(real.readable > 0.75, `real digits read confidently and correctly: ${real.readable}`);
    // The held-out digits are every 10th: judged again on their own, they get the same readings.
    const firstFive = new Float32Array(5 * 784);
    for (let k = 0; k < 5; k++) firstFive.set(data.images.subarray(k * 10 * 784, (k * 10 + 1) * 784), k * 784);
    const again = await judge.judge(firstFive);
    assert.deepEqual(
      again.map((v) => v.label),
      judge.heldOut.verdicts.slice(0, 5).map((v) => v.label),
    );
    await assert.rejects(judge.judge(new Float32Array(100)), /whole 28×28 digits/);
    // The feature space of the variety figures: 64 values per digit, the same for the same digit.
    assert.equal(judge.trained.labels.length, 1800);
    const f = await judge.features(firstFive);
    assert.equal(f.length, 5 * FEATURE_DIM);
    assert.deepEqual(await judge.features(firstFive.subarray(784, 2 * 784)), f.subarray(FEATURE_DIM, 2 * FEATURE_DIM));
    assert.ok(f.some((v) => v > 0) && f.every((v) => v >= 0), 'after the ReLU');
  } finally {
    judge.dispose();
  }
});

test('qualityOf: confident readings count, and for a requested digit only that digit', () => {
  const verdicts = [
    { label: 3, confidence: 0.95 },
    { label: 3, confidence: 0.5 },
    { label: 7, confidence: 0.99 },
    { label: 1, confidence: 0.91 },
  ];
  const free = qualityOf(verdicts, [null, null, null, null], 0.9);
  assert.equal(free.readable, 3 / 4);
  assert.equal(free.readAsAsked, null, 'nothing was asked');
  assert.deepEqual(free.histogram, [0, 1, 0, 2, 0, 0, 0, 1, 0, 0]);
  const asked = qualityOf(verdicts, [3, 3, 1, 1], 0.9);
  assert.equal(asked.readable, 2 / 4, 'the 7 was asked to be a 1');
  assert.equal(asked.readAsAsked, 3 / 4, 'the unsure 3 reads as a 3; the 7 does not');
});
