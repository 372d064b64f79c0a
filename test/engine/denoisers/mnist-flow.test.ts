// The flow ↔ DDPM mapping (checked against an exact single-exemplar flow, where ε̂ must equal the true ε)
// and digit prompt parsing.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  MnistFlowDenoiser,
  NULL_CLASS,
  flowTimeFor,
  parseDigitPrompt,
} from '../../../src/engine/denoisers/mnist-flow.js';
import { Rng } from '../../../src/engine/random.js';
import { forward } from '../../../src/engine/sampling/forward.js';
import { oneStepDenoise, predictOriginal } from '../../../src/engine/sampling/one-step.js';
import { concat, mse, tensor } from '../../../src/engine/tensor.js';
import { digitDataset, digitImage } from '../../fixtures/digits.js';
import { EmpiricalFlow } from '../../fixtures/empirical-flow.js';

test('digit prompts: digits, words, articles; "" is the null class; others list what is allowed', () => {
  assert.equal(parseDigitPrompt('7'), 7);
  assert.equal(parseDigitPrompt('seven'), 7);
  assert.equal(parseDigitPrompt('a 7'), 7);
  assert.equal(parseDigitPrompt('The digit Nine.'), 9);
  assert.equal(parseDigitPrompt('  '), NULL_CLASS);
  for (const bad of ['a cat', '12', 'seventy', 'a high quality photo']) {
    assert.throws(
      () => parseDigitPrompt(bad),
      (e: Error) => e instanceof RangeError && /Allowed: a digit 0–9/.test(e.message) && e.message.includes(bad),
    );
  }
});

test('flow time: s = √ᾱ/(√ᾱ + √(1−ᾱ)) runs from noise (0) to data (1)', () => {
  assert.deepEqual(flowTimeFor(1), { s: 1, k: 1 });
  assert.equal(flowTimeFor(0).s, 0);
  assert.ok(Math.abs(flowTimeFor(0.5).s - 0.5) < 1e-12);
});

test('with one exemplar per class the mapped ε̂ is the true noise and x̂0 the exemplar', async () => {
  const data = [
    { label: 3, image: digitImage(3) },
    { label: 8, image: digitImage(8) },
  ];
  const den = new MnistFlowDenoiser(new EmpiricalFlow(data));
  const x0 = concat([digitImage(3), digitImage(8)]);
  for (const t of [100, 500, 900]) {
    const { xt, eps } = forward(den.schedule, x0, t, new Rng(t));
    const pred = await den.predict(xt, t, await den.encode(['3', 'eight']));
    assert.ok(mse(pred.eps, eps) < 1e-6, `t=${t}: ε̂ error ${mse(pred.eps, eps)}`);
    assert.ok(mse(predictOriginal(den.schedule, xt, t, pred.eps), x0) < 1e-4);
  }
});

test('one-step denoising of a noised digit recovers it (class-conditioned)', async () => {
  const den = new MnistFlowDenoiser(new EmpiricalFlow(digitDataset()));
  const x0 = digitImage(5);
  const { xt } = forward(den.schedule, x0, 500, new Rng(1));
  const x0hat = await oneStepDenoise(den, xt, 500, { prompt: '5' });
  assert.ok(mse(x0hat, x0) < 0.05, `${mse(x0hat, x0)}`);
  assert.ok(mse(x0hat, x0) < mse(xt, x0) / 10);
});

test('predict checks shapes, row counts and prompts', async () => {
  const den = new MnistFlowDenoiser(new EmpiricalFlow(digitDataset()));
  await assert.rejects(den.encode(['a dog']), /mnist-flow draws digits only/);
  await assert.rejects(
    den.predict(tensor([1, 1, 28, 28]), 10, await den.encode(['1', '2'])),
    /2 rows for a batch of 1/,
  );
  await assert.rejects(
    den.predict(tensor([1, 3, 28, 28]), 10, await den.encode(['1'])),
    /takes images \[B, 1, 28, 28\]/,
  );
});
