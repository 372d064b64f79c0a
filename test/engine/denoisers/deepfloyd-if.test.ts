// The DeepFloyd IF denoisers through onnxruntime-node on tiny models with the real I/O: tokenisation to 77,
// every technique on stage I, stage II upscaling and anagrams, fp16 vs fp32, and the folder errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { DeepFloydIF, EXPORT_HINT } from '../../../src/engine/denoisers/deepfloyd-if.js';
import { T5Prompts } from '../../../src/engine/denoisers/t5-prompt.js';
import { Tokenizer } from '@huggingface/tokenizers';
import { Rng } from '../../../src/engine/random.js';
import { MissingModelError } from '../../../src/engine/runtime/onnx.js';
import { anagram } from '../../../src/engine/sampling/anagram.js';
import { cfgEstimator, encodeGuided, imagine } from '../../../src/engine/sampling/cfg.js';
import { hybrid } from '../../../src/engine/sampling/hybrid.js';
import { boxMask, inpaint } from '../../../src/engine/sampling/inpaint.js';
import { initialNoise } from '../../../src/engine/sampling/iterative.js';
import { sdedit } from '../../../src/engine/sampling/sdedit.js';
import { stridedTimesteps } from '../../../src/engine/schedules/timesteps.js';
import { clamp, mse, randn } from '../../../src/engine/tensor.js';
import { createView } from '../../../src/engine/views/registry.js';
import { tinyTokenizerJson, writeMalformedStageI, writeTinyDeepFloyd } from '../../fixtures/tiny-deepfloyd.js';

const quiet = { log: () => {} };
/** Four steps keep the suite fast; the loop is the same as with 34. */
const timesteps = stridedTimesteps({ start: 990, stride: 330 });
const dir32 = writeTinyDeepFloyd('float32');
const if32 = DeepFloydIF.load({ dir: dir32, ...quiet });

test('prompts are padded to 77 ids and truncated keeping the final </s>', () => {
  const t5 = new T5Prompts(new Tokenizer(tinyTokenizerJson(), {}));
  const { ids, attentionMask } = t5.tokenize(['a photo', '']);
  assert.deepEqual([...ids.slice(0, 4)].map(Number), [4, 7, 1, 0]);
  assert.equal(attentionMask.slice(0, 77).reduce((a, b) => a + b, 0n), 3n);
  assert.deepEqual([...ids.slice(77, 79)].map(Number), [1, 0], "'' is just </s>");
  const long = t5.ids(new Array(100).fill('dog').join(' '));
  assert.equal(long.length, 77);
  assert.equal(long[76], 1);
  assert.equal(long[75], t5.ids('dog')[0]);
});

test('a missing folder names the file and the export command; a malformed UNet lists its inputs', async () => {
  await assert.rejects(DeepFloydIF.load({ dir: '/nonexistent/if', ...quiet }), (e: Error) =>
    e instanceof MissingModelError && e.message.includes('/nonexistent/if/tokenizer.json') && e.message.includes('export-deepfloyd-if.py'));
  const bad = writeTinyDeepFloyd('float32', { textDim: 8, stageII: false });
  writeMalformedStageI(bad);
  await assert.rejects(DeepFloydIF.load({ dir: bad, ...quiet }), /stage1-unet\.onnx has inputs \[x\] but needs \[sample, timestep, encoder_hidden_states\]/);
  assert.match(EXPORT_HINT, /licence/);
  rmSync(bad, { recursive: true });
});

test('T5 runs once per distinct prompt; a shared embedding cache skips it entirely', async () => {
  const store = new Map<string, Float32Array>();
  let sets = 0;
  const cache = { get: (k: string) => store.get(k), set: (k: string, v: Float32Array) => { sets++; store.set(k, v); } };
  const a = await DeepFloydIF.load({ dir: dir32, cache, ...quiet });
  const c = await a.encode(['a dog', '', 'a dog']);
  await a.encode(['a dog']);
  assert.equal(sets, 2);
  assert.equal(store.get('')!.length, 77 * 4096);
  const b = await DeepFloydIF.load({ dir: dir32, cache, ...quiet });
  const again = await b.encode(['', 'a dog']);
  assert.equal(sets, 2);
  assert.deepEqual((again as unknown as { rows: Float32Array[] }).rows[1], (c as unknown as { rows: Float32Array[] }).rows[0]);
  await a.dispose();
  await b.dispose();
});

test('stage I text-to-image with CFG: deterministic per seed, γ = 1 is conditional', async () => {
  const m = await if32;
  const run = async (seed: number) => (await imagine(m.stageI, { prompt: 'a photo of a dog', rng: new Rng(seed), timesteps })).image;
  const a = await run(5), b = await run(5), c = await run(6);
  assert.deepEqual(a.shape, [1, 3, 64, 64]);
  assert.deepEqual(Buffer.from(a.data.buffer), Buffer.from(b.data.buffer));
  assert.ok(mse(a, c) > 0 && a.data.every(Number.isFinite));
  const x = randn([1, 3, 64, 64], new Rng(1));
  const cond = await encodeGuided(m.stageI, ['a photo of a dog'], 1);
  const g1 = await cfgEstimator(m.stageI, cond, 1)(x, 500);
  const conditional = await m.stageI.predict(x, 500, cond.take([0]));
  assert.deepEqual(g1.eps.data, conditional.eps.data);
  assert.deepEqual(g1.varianceValues!.data, conditional.varianceValues!.data);
  const g7 = await cfgEstimator(m.stageI, cond, 7)(x, 500);
  assert.ok(mse(g7.eps, conditional.eps) > 1e-8, 'the prompt must matter');
});

test('stage I SDEdit, inpainting (unmasked pixels exact), anagrams and hybrids', async () => {
  const m = await if32;
  const photo = clamp(randn([1, 3, 64, 64], new Rng(9)), -1, 1);
  const edits = await sdedit(m.stageI, photo, { prompt: 'a rocket ship', rng: new Rng(1), iStarts: [1, 2], timesteps });
  assert.deepEqual(edits.map((e) => e.t), [660, 330]);
  const mask = boxMask(64, 64, { x: 16, y: 16, width: 32, height: 32 });
  const painted = await inpaint(m.stageI, photo, mask, { prompt: 'a cat', rng: new Rng(2), timesteps });
  for (let i = 0; i < painted.image.data.length; i++) {
    if (mask.data[i % 4096] === 0) assert.equal(painted.image.data[i], photo.data[i]);
  }
  const ctx = { height: 64, width: 64 };
  for (const names of [['identity', 'flip'], ['identity', 'negate', 'skew']]) {
    const views = names.map((n) => createView(n, ctx));
    const prompts = ['an old man', 'a campfire', 'a volcano'].slice(0, views.length);
    const r = await anagram(m.stageI, initialNoise(m.stageI, 1, new Rng(3)), { prompts, views, rng: new Rng(3), timesteps });
    assert.ok(r.image.data.every(Number.isFinite));
  }
  const h = await hybrid(m.stageI, initialNoise(m.stageI, 1, new Rng(4)), { farPrompt: 'a panda', nearPrompt: 'a waterfall', rng: new Rng(4), timesteps });
  assert.deepEqual(h.image.shape, [1, 3, 64, 64]);
});

test('stage II upscales a stage I image to 256 px, also as a flip anagram', async () => {
  const m = await if32;
  assert.ok(m.hasStageII);
  const low = (await imagine(m.stageI, { prompt: 'a dog', rng: new Rng(1), timesteps })).image;
  const sr = await m.stageII(low, { rng: new Rng(1) });
  const steps = [990, 500, 0];
  const up = await imagine(sr, { prompt: 'a dog', rng: new Rng(1), timesteps: steps });
  assert.deepEqual(up.image.shape, [1, 3, 256, 256]);
  const views = ['identity', 'flip'].map((n) => createView(n, { height: 256, width: 256 }));
  const ana = await anagram(sr, initialNoise(sr, 1, new Rng(2)), { prompts: ['a cat', 'a dog'], views, rng: new Rng(2), timesteps: steps });
  assert.ok(ana.image.data.every(Number.isFinite));
  await assert.rejects(m.stageII(randn([2, 3, 64, 64], new Rng(0)), { rng: new Rng(0) }), /one RGB image/);
});

test('fp16 exports give the fp32 result to half precision', async () => {
  const dir16 = writeTinyDeepFloyd('float16', { stageII: false });
  const m16 = await DeepFloydIF.load({ dir: dir16, ...quiet });
  const m32 = await if32;
  const x = randn([2, 3, 64, 64], new Rng(7));
  const c16 = await m16.stageI.encode(['a photo', '']);
  const c32 = await m32.stageI.encode(['a photo', '']);
  const p16 = await m16.stageI.predict(x, 250, c16);
  const p32 = await m32.stageI.predict(x, 250, c32);
  assert.ok(mse(p16.eps, p32.eps) < 1e-5, `${mse(p16.eps, p32.eps)}`);
  await m16.dispose();
  rmSync(dir16, { recursive: true });
});

test.after(async () => {
  await (await if32).dispose();
  rmSync(dir32, { recursive: true });
});
