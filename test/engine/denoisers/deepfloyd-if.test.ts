// DeepFloyd IF read from Hugging Face folders (the tiny random-weight repos of ../shared/if-golden):
// prompt → preprocessing → T5 → UNet against diffusers' numbers, the embedding cache and its keys,
// variants, the scheduler config, every technique on stage I, stage II (clamp, noise levels, guidance),
// and the errors for missing or mismatched folders.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  DEFAULT_NOISE_LEVEL,
  DeepFloydIF,
  ILLUSION_NOISE_LEVEL,
  SUPER_RESOLUTION_GUIDANCE,
  embeddingKey,
} from '../../../src/engine/denoisers/deepfloyd-if.js';
import { readSafetensorsHeader, readTensor } from '../../../src/engine/denoisers/deepfloyd/hf-safetensors.js';
import { Rng } from '../../../src/engine/random.js';
import { toFloat32, float32ToFloat16 } from '../../../src/engine/runtime/half.js';
import { MissingModelError } from '../../../src/engine/runtime/onnx.js';
import { anagram } from '../../../src/engine/sampling/anagram.js';
import { cfgEstimator, encodeGuided, imagine } from '../../../src/engine/sampling/cfg.js';
import { hybrid } from '../../../src/engine/sampling/hybrid.js';
import { boxMask, inpaint } from '../../../src/engine/sampling/inpaint.js';
import { initialNoise } from '../../../src/engine/sampling/iterative.js';
import { sdedit } from '../../../src/engine/sampling/sdedit.js';
import { stridedTimesteps } from '../../../src/engine/schedules/timesteps.js';
import { clamp, mse, randn, scale, tensor, type Shape } from '../../../src/engine/tensor.js';
import { createView } from '../../../src/engine/views/registry.js';
import { IF_GOLDEN, IF_II_TINY, IF_I_TINY, mirror, tinyDeepFloydModels } from '../../fixtures/tiny-deepfloyd.js';

const quiet = { log: () => {} };
/** Four steps keep the suite fast; the loop is the same as with 34. */
const timesteps = stridedTimesteps({ start: 990, stride: 330 });
const layout = tinyDeepFloydModels();
const if32 = DeepFloydIF.load({ dir: layout.stageI, stageIIDir: layout.stageII, ...quiet });

function golden(file: string): (name: string) => { shape: number[]; data: Float32Array } {
  const header = readSafetensorsHeader(join(IF_GOLDEN, 'golden', file));
  return (name) => {
    const e = header.tensors.get(name);
    assert.ok(e, `${file} lacks ${name}`);
    return { shape: e.shape, data: readTensor(e) };
  };
}
const t5g = golden('t5.safetensors');
const unet1g = golden('unet1-calls.safetensors');

function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

const rowsOf = (c: unknown): Float32Array[] => (c as { rows: Float32Array[] }).rows;

test('a prompt is lower-cased and stripped before T5, as diffusers encode_prompt does', async (t) => {
  const m = await if32;
  const cond = await m.encode([
    'A painting of a Squirrel eating a burger',
    '  an oil painting of people around a campfire  ',
  ]);
  const d1 = maxAbsDiff(rowsOf(cond)[0]!, t5g('squirrel.prompt_embeds').data);
  const d2 = maxAbsDiff(rowsOf(cond)[1]!, t5g('campfire_spaces.prompt_embeds').data);
  t.diagnostic(`prompt_embeds max abs diff ${d1.toExponential(2)}, ${d2.toExponential(2)}`);
  assert.ok(d1 < 1e-5 && d2 < 1e-5, `${d1} ${d2}`);
  assert.ok(
    maxAbsDiff(rowsOf(cond)[0]!, t5g('squirrel.raw.last_hidden_state').data) > 1e-2,
    'the raw prompt embeds differently',
  );
});

test('prompt → T5 → stage I UNet equals diffusers at t = 999 and 1 (CFG rows ["", prompt])', async (t) => {
  const m = await DeepFloydIF.load({ dir: layout.stageI, size: 32, ...quiet });
  try {
    const cond = await m.stageI.encode(['', 'A painting of a Squirrel eating a burger']);
    const s = unet1g('sample');
    const x = tensor(s.shape as unknown as Shape, s.data);
    for (const ts of [999, 1]) {
      const p = await m.stageI.predict(x, ts, cond);
      const out = unet1g(`out_t${ts}`);
      const want = { eps: [] as number[], v: [] as number[] };
      const hw = 32 * 32;
      for (let b = 0; b < 2; b++)
        for (let c = 0; c < 6; c++)
          (c < 3 ? want.eps : want.v).push(...out.data.subarray((b * 6 + c) * hw, (b * 6 + c + 1) * hw));
      const de = maxAbsDiff(p.eps.data, Float32Array.from(want.eps));
      const dv = maxAbsDiff(p.varianceValues!.data, Float32Array.from(want.v));
      t.diagnostic(`t=${ts}: ε ${de.toExponential(2)}, v ${dv.toExponential(2)}`);
      assert.ok(de <= 1e-4 && dv <= 1e-4, `t=${ts}: ${de} ${dv}`);
    }
  } finally {
    await m.dispose();
  }
});

test('the schedule comes from scheduler_config.json; what the engine does not compute is refused by name', async () => {
  const m = await if32;
  assert.equal(m.schedule.name, 'squaredcos_cap_v2');
  assert.equal(m.schedule.numTrainTimesteps, 1000);
  assert.deepEqual(
    [m.schedulerConfig.thresholding, m.schedulerConfig.dynamicThresholdingRatio, m.schedulerConfig.sampleMaxValue],
    [true, 0.95, 1.5],
  );
  const ac = golden('scheduler.safetensors')('alphas_cumprod').data;
  assert.ok(Math.abs(m.schedule.alphasCumprod[500]! - ac[500]!) < 1e-6);
  const base = JSON.parse(readFileSync(join(IF_I_TINY, 'scheduler', 'scheduler_config.json'), 'utf8')) as Record<
    string,
    unknown
  >;
  for (const [key, value, message] of [
    ['beta_schedule', 'linear', /beta_schedule is "linear"; this engine computes only "squaredcos_cap_v2"/],
    ['variance_type', 'fixed_small', /variance_type is "fixed_small"; this engine computes only "learned_range"/],
    ['prediction_type', 'v_prediction', /prediction_type is "v_prediction"/],
  ] as const) {
    const bad = tinyDeepFloydModels({ stageII: false, withoutI: ['scheduler'] });
    const dir = join(bad.stageI, 'scheduler');
    mirror(join(IF_I_TINY, 'scheduler'), dir, ['scheduler_config.json']);
    writeFileSync(join(dir, 'scheduler_config.json'), JSON.stringify({ ...base, [key]: value }));
    await assert.rejects(DeepFloydIF.load({ dir: bad.stageI, ...quiet }), message);
    rmSync(bad.models, { recursive: true });
  }
});

test('T5 runs once per distinct preprocessed prompt; the cache key names the encoder and the preprocessing', async () => {
  const store = new Map<string, Float32Array>();
  let sets = 0;
  const cache = {
    get: (k: string) => store.get(k),
    set: (k: string, v: Float32Array) => {
      sets++;
      store.set(k, v);
    },
  };
  // An embedding cached under the raw prompt (as before preprocessing) must not be picked up.
  store.set('a dog', new Float32Array(77 * 32).fill(9));
  const a = await DeepFloydIF.load({ dir: layout.stageI, cache, ...quiet });
  const c = await a.encode(['A Dog', '', 'a dog ']);
  await a.encode(['a dog']);
  assert.equal(sets, 2);
  assert.ok(rowsOf(c)[0]!.every((v) => v !== 9));
  assert.equal(rowsOf(c)[0], rowsOf(c)[2]);
  const key = a.cacheKey('A Dog');
  assert.match(key, /^t5-fp32-[0-9a-f]{12}\|lower\+strip\|a dog$/);
  assert.equal(key, embeddingKey(DeepFloydIF.textEncoderIdOf(layout.stageI)!, 'a dog'));
  assert.equal(store.get(key)!.length, 77 * 32);
  const b = await DeepFloydIF.load({ dir: layout.stageI, cache, ...quiet });
  const again = await b.encode(['', 'a dog']);
  assert.equal(sets, 2, 'a second model reads the cache');
  assert.deepEqual(rowsOf(again)[1], rowsOf(c)[0]);
  // The fp16 text encoder is another encoder: its own keys.
  const fp16 = tinyDeepFloydModels({ stageII: false, fp16Only: true });
  assert.notEqual(DeepFloydIF.textEncoderIdOf(fp16.stageI), a.textEncoderId);
  await a.dispose();
  await b.dispose();
  rmSync(fp16.models, { recursive: true });
});

test('stage I text-to-image with CFG: deterministic per seed, γ = 1 is conditional', async () => {
  const m = await if32;
  const run = async (seed: number) =>
    (await imagine(m.stageI, { prompt: 'a photo of a dog', rng: new Rng(seed), timesteps })).image;
  const a = await run(5),
    b = await run(5),
    c = await run(6);
  assert.deepEqual(a.shape, [1, 3, 64, 64]);
  assert.deepEqual(Buffer.from(a.data.buffer), Buffer.from(b.data.buffer));
  assert.ok(mse(a, c) > 0 && a.data.every(Number.isFinite));
  const x = randn([1, 3, 64, 64], new Rng(1));
  const cond = await encodeGuided(m.stageI, ['a photo of a dog'], 1);
  const g1 = await cfgEstimator(m.stageI, cond, 1)(x, 500);
  const conditional = await m.stageI.predict(x, 500, cond.take([0]));
  assert.ok(maxAbsDiff(g1.eps.data, conditional.eps.data) < 1e-5);
  assert.ok(maxAbsDiff(g1.varianceValues!.data, conditional.varianceValues!.data) < 1e-5);
  const g7 = await cfgEstimator(m.stageI, cond, 7)(x, 500);
  assert.ok(mse(g7.eps, conditional.eps) > 1e-8, 'the prompt must matter');
});

test('stage I SDEdit, inpainting (unmasked pixels exact), anagrams and hybrids', async () => {
  const m = await if32;
  const photo = clamp(randn([1, 3, 64, 64], new Rng(9)), -1, 1);
  const edits = await sdedit(m.stageI, photo, { prompt: 'a rocket ship', rng: new Rng(1), iStarts: [1, 2], timesteps });
  assert.deepEqual(
    edits.map((e) => e.t),
    [660, 330],
  );
  const mask = boxMask(64, 64, { x: 16, y: 16, width: 32, height: 32 });
  const painted = await inpaint(m.stageI, photo, mask, { prompt: 'a cat', rng: new Rng(2), timesteps });
  for (let i = 0; i < painted.image.data.length; i++) {
    if (mask.data[i % 4096] === 0) assert.equal(painted.image.data[i], photo.data[i]);
  }
  const ctx = { height: 64, width: 64 };
  for (const names of [
    ['identity', 'flip'],
    ['identity', 'negate', 'skew'],
  ]) {
    const views = names.map((n) => createView(n, ctx));
    const prompts = ['an old man', 'a campfire', 'a volcano'].slice(0, views.length);
    const r = await anagram(m.stageI, initialNoise(m.stageI, 1, new Rng(3)), {
      prompts,
      views,
      rng: new Rng(3),
      timesteps,
    });
    assert.ok(r.image.data.every(Number.isFinite));
  }
  const h = await hybrid(m.stageI, initialNoise(m.stageI, 1, new Rng(4)), {
    farPrompt: 'a panda',
    nearPrompt: 'a waterfall',
    rng: new Rng(4),
    timesteps,
  });
  assert.deepEqual(h.image.shape, [1, 3, 64, 64]);
});

test('stage II: the input is clamped to [−1, 1], upscaled as diffusers, noised at 250 (50 for illusions), guidance 4', async (t) => {
  const m = await if32;
  assert.ok(m.hasStageII);
  const sr = golden('superres-nl250.safetensors');
  const input = sr('input_image');
  const low = tensor(input.shape as unknown as Shape, input.data);
  const noise = randn([1, 3, 64, 64], new Rng(3));
  const plain = await m.stageII(low, { rng: new Rng(0), size: 64, noise });
  assert.equal(plain.noiseLevel, DEFAULT_NOISE_LEVEL);
  assert.equal(plain.noiseLevel, 250);
  assert.equal(plain.defaultGuidance, SUPER_RESOLUTION_GUIDANCE);
  assert.equal(plain.defaultGuidance, 4);
  assert.equal(
    (await m.stageII(low, { rng: new Rng(0), size: 64, purpose: 'illusion' })).noiseLevel,
    ILLUSION_NOISE_LEVEL,
  );
  assert.equal(ILLUSION_NOISE_LEVEL, 50);
  // cond = √ᾱ·upscaled + √(1 − ᾱ)·noise with diffusers' upscaled image and its noising coefficients.
  const sched = golden('scheduler.safetensors');
  const [a, b] = [
    sched('noise_levels.sqrt_alpha_prod').data[0]!,
    sched('noise_levels.sqrt_one_minus_alpha_prod').data[0]!,
  ];
  const up = sr('upscaled').data;
  const want = up.map((u, i) => a * u + b * noise.data[i]!);
  const d = maxAbsDiff(plain.conditioningImage.data, want);
  t.diagnostic(`conditioning image max abs diff ${d.toExponential(2)}`);
  assert.ok(d < 1e-5, `${d}`);
  // Out of range: clamped first, so 3× the image conditions as the clamped image does.
  const loud = await m.stageII(scale(low, 3), { rng: new Rng(0), size: 64, noise });
  const clamped = await m.stageII(clamp(scale(low, 3), -1, 1), { rng: new Rng(0), size: 64, noise });
  assert.deepEqual(loud.conditioningImage.data, clamped.conditioningImage.data);
  assert.ok(loud.conditioningImage.data.some((v, i) => Math.abs(v - plain.conditioningImage.data[i]!) > 1e-3));
  await assert.rejects(m.stageII(randn([2, 3, 64, 64], new Rng(0)), { rng: new Rng(0) }), /one RGB image/);
  await assert.rejects(
    m.stageII(low, { rng: new Rng(0), noiseLevel: 1000 }),
    /noise level must be a whole number from 0 to 999, got 1000/,
  );
});

test('stage II upscales a stage I image, also as a flip anagram (64 px: the tiny UNet at 256 px needs GBs)', async () => {
  const m = await if32;
  const low = (await imagine(m.stageI, { prompt: 'a dog', rng: new Rng(1), timesteps })).image;
  const sr = await m.stageII(low, { rng: new Rng(1), size: 64 });
  const steps = [990, 500, 0];
  const up = await imagine(sr, {
    prompt: 'a dog',
    rng: new Rng(1),
    timesteps: steps,
    guidanceScale: sr.defaultGuidance,
  });
  assert.deepEqual(up.image.shape, [1, 3, 64, 64]);
  assert.ok(up.image.data.every(Number.isFinite));
  const views = ['identity', 'flip'].map((n) => createView(n, { height: 64, width: 64 }));
  const ana = await anagram(sr, initialNoise(sr, 1, new Rng(2)), {
    prompts: ['a cat', 'a dog'],
    views,
    rng: new Rng(2),
    timesteps: steps,
  });
  assert.ok(ana.image.data.every(Number.isFinite));
});

test('only fp16 files: the fp16 variant is chosen, and it gives the fp32 result to half precision', async () => {
  const fp16 = tinyDeepFloydModels({ fp16Only: true });
  const m16 = await DeepFloydIF.load({ dir: fp16.stageI, stageIIDir: fp16.stageII, ...quiet });
  const m32 = await if32;
  try {
    assert.equal(m16.text.variant, 'fp16');
    assert.match(m16.textEncoderId, /^t5-fp16-/);
    const x = randn([2, 3, 64, 64], new Rng(7));
    const p16 = await m16.stageI.predict(x, 250, await m16.stageI.encode(['a photo', '']));
    const p32 = await m32.stageI.predict(x, 250, await m32.stageI.encode(['a photo', '']));
    const d = maxAbsDiff(p16.eps.data, p32.eps.data);
    assert.ok(d > 0 && d < 0.05, `${d}`);
    const low = randn([1, 3, 64, 64], new Rng(8));
    const s2 = await m16.stageII(low, { rng: new Rng(1), size: 64 });
    assert.ok(
      (await s2.predict(randn([1, 3, 64, 64], new Rng(2)), 500, await s2.encode(['a photo']))).eps.data.every(
        Number.isFinite,
      ),
    );
    // Asked for fp32 where only fp16 is: the missing file and its download are named.
    await assert.rejects(
      DeepFloydIF.load({ dir: fp16.stageI, variant: 'fp32', ...quiet }),
      (e: Error) =>
        e instanceof MissingModelError &&
        /text_encoder\/model\.safetensors\.index\.json/.test(e.message) &&
        /huggingface-cli download DeepFloyd\/IF-I-XL-v1\.0/.test(e.message),
    );
  } finally {
    await m16.dispose();
    rmSync(fp16.models, { recursive: true });
  }
});

test('fp16 outputs are read whether onnxruntime hands back a Float16Array or fp16 bits', () => {
  const values = Float32Array.of(0.5, -2, 1024);
  assert.deepEqual(toFloat32(float32ToFloat16(values)), values);
  assert.equal(toFloat32(values), values);
  const had = Object.getOwnPropertyDescriptor(globalThis, 'Float16Array');
  // Node 20 has no Float16Array; a stand-in with its name and numeric elements shows the branch.
  class Float16Array extends Float64Array {}
  Object.defineProperty(globalThis, 'Float16Array', { value: Float16Array, configurable: true, writable: true });
  try {
    assert.deepEqual(toFloat32(Float16Array.from([0.5, -2, 1024])), values);
    assert.throws(
      () => toFloat32(new Int32Array(2)),
      /expected float output data \(Float32Array, Float16Array or fp16 bits in a Uint16Array\), got Int32Array/,
    );
  } finally {
    if (had) Object.defineProperty(globalThis, 'Float16Array', had);
    else delete (globalThis as { Float16Array?: unknown }).Float16Array;
  }
});

test('a missing piece names its file and the huggingface-cli download; mismatched folders are refused', async () => {
  await assert.rejects(
    DeepFloydIF.load({ dir: '/nonexistent/IF-I-XL-v1.0', ...quiet }),
    (e: Error) =>
      e instanceof MissingModelError &&
      e.message.includes('/nonexistent/IF-I-XL-v1.0/scheduler/scheduler_config.json') &&
      e.message.includes(
        'huggingface-cli download DeepFloyd/IF-I-XL-v1.0 --include "model_index.json" "scheduler/*" "tokenizer/*"',
      ) &&
      e.message.includes('--local-dir /nonexistent/IF-I-XL-v1.0'),
  );
  const noTok = tinyDeepFloydModels({ stageII: false, withoutI: ['tokenizer/spiece.model'] });
  await assert.rejects(DeepFloydIF.load({ dir: noTok.stageI, ...quiet }), /tokenizer\/spiece\.model/);
  // Stage II's UNet where stage I's should be.
  const swapped = tinyDeepFloydModels({ stageII: false, withoutI: ['unet'] });
  symlinkSync(join(IF_II_TINY, 'unet'), join(swapped.stageI, 'unet'));
  await assert.rejects(
    DeepFloydIF.load({ dir: swapped.stageI, ...quiet }),
    /unet is a stage II UNet \(6 input channels, a noise-level class embedding\); stage I takes 3/,
  );
  // No stage II folder given.
  const solo = await DeepFloydIF.load({ dir: noTok.stageI.replace(noTok.models, layout.models), ...quiet });
  assert.equal(solo.hasStageII, false);
  await assert.rejects(
    solo.stageII(randn([1, 3, 64, 64], new Rng(0)), { rng: new Rng(0) }),
    /no stage II folder was given; download one beside stage I:.*huggingface-cli download DeepFloyd\/IF-II-L-v1\.0/s,
  );
  await solo.dispose();
  // A stage II folder without its noising scheduler.
  const noNoise = tinyDeepFloydModels({ withoutII: ['image_noising_scheduler'] });
  const m = await DeepFloydIF.load({ dir: noNoise.stageI, stageIIDir: noNoise.stageII, ...quiet });
  await assert.rejects(
    m.stageII(randn([1, 3, 64, 64], new Rng(0)), { rng: new Rng(0), size: 64 }),
    /image_noising_scheduler\/scheduler_config\.json[\s\S]*IF-II-L-v1\.0 --include/,
  );
  await m.dispose();
  for (const l of [noTok, swapped, noNoise]) rmSync(l.models, { recursive: true });
});

test.after(async () => {
  await (await if32).dispose();
  rmSync(layout.models, { recursive: true });
});
