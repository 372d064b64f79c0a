// The noise sources: the seeded Rng draws exactly what randn drew before (outputs for a seed unchanged),
// ReplayNoise hands out noise_000, noise_001, … in order and refuses gaps, other shapes and extra draws;
// thresholding follows torch.quantile's linear interpolation; the final step lands on x̂0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../../../src/engine/random.js';
import { denoiseLoop } from '../../../src/engine/sampling/iterative.js';
import { NoiseFileError, ReplayNoise } from '../../../src/engine/sampling/noise-file.js';
import { predictOriginal } from '../../../src/engine/sampling/one-step.js';
import { quantileLinear, threshold } from '../../../src/engine/sampling/thresholding.js';
import { cosineSchedule } from '../../../src/engine/schedules/noise-schedule.js';
import { randn, tensor } from '../../../src/engine/tensor.js';
import { makeTempDir } from '../../helpers/temp-dir.js';

/** A minimal safetensors file of F32 tensors (header, 8-byte aligned, then the data in order). */
function writeSafetensors(path: string, tensors: Record<string, { shape: number[]; data: Float32Array }>): void {
  const header: Record<string, unknown> = {};
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    header[name] = { dtype: 'F32', shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  writeFileSync(
    path,
    Buffer.concat([len, Buffer.from(json), ...Object.values(tensors).map((t) => Buffer.from(t.data.buffer))]),
  );
}

test('Rng.draw is randn: the same numbers in the same order', () => {
  const a = new Rng(3),
    b = new Rng(3);
  assert.deepEqual(a.draw([2, 1, 3, 3], 'x').data, randn([2, 1, 3, 3], b).data);
  assert.deepEqual(a.draw([1, 1, 1, 5], 'y').data, randn([1, 1, 1, 5], b).data);
});

test('ReplayNoise hands out the draws in order and refuses what the file cannot give', (t) => {
  const dir = makeTempDir(t, 'noise-');
  const d = (v: number) => ({ shape: [1, 1, 2, 2], data: new Float32Array(4).fill(v) });
  const ok = join(dir, 'ok.safetensors');
  writeSafetensors(ok, { noise_000: d(0), noise_001: d(1), latent_000: d(9) });
  const r = ReplayNoise.fromFile(ok);
  assert.equal(r.length, 2);
  assert.deepEqual([...r.draw([1, 1, 2, 2], 'first').data], [0, 0, 0, 0]);
  assert.throws(
    () => r.draw([1, 1, 4, 1], 'the second'),
    (e: Error) =>
      e instanceof NoiseFileError &&
      /noise_001 has shape \[1, 1, 2, 2\], but the run asked for the second of shape \[1, 1, 4, 1\]/.test(e.message),
  );
  assert.deepEqual([...r.draw([1, 1, 2, 2], 'second').data], [1, 1, 1, 1]);
  assert.throws(
    () => r.draw([1, 1, 2, 2], 'a third'),
    /holds 2 draws \(noise_000 … noise_001\); the run asked for draw 3 \(noise_002: a third, shape \[1, 1, 2, 2\]\)/,
  );
  assert.equal(r.used, 2);
  const gap = join(dir, 'gap.safetensors');
  writeSafetensors(gap, { noise_000: d(0), noise_002: d(2) });
  assert.throws(() => ReplayNoise.fromFile(gap), /noise_001 is missing, but draws up to noise_002 are there/);
  const flat = join(dir, 'flat.safetensors');
  writeSafetensors(flat, { noise_000: { shape: [4], data: new Float32Array(4) } });
  assert.throws(() => ReplayNoise.fromFile(flat), /noise_000 has shape \[4\]; each draw must be 4-D/);
  const none = join(dir, 'none.safetensors');
  writeSafetensors(none, { image: d(0) });
  assert.throws(
    () => ReplayNoise.fromFile(none),
    /holds no noise_000, noise_001, … tensors \(it has 1 tensors, e.g. image\)/,
  );
});

test("dynamic thresholding: torch.quantile's linear interpolation, s clamped to [1, max], x̂0 clamped and divided", () => {
  // torch.quantile(tensor([1., 2., 3., 4., 10.]), 0.95) = 8.8 (rank 3.8 between 4 and 10).
  assert.ok(Math.abs(quantileLinear(Float32Array.of(10, 1, 3, 2, 4), 0.95) - 8.8) < 1e-6);
  const x = tensor([2, 1, 1, 4], Float32Array.of(0.5, -0.5, 0.2, 0.1, 3, -3, 2, 1));
  const y = threshold(x, { kind: 'dynamic', ratio: 0.95, maxValue: 1.5 });
  // Image 0: s = max(quantile, 1) = 1 → unchanged; image 1: s = 1.5 → clamp to ±1.5 then /1.5.
  assert.deepEqual([...y.data.slice(0, 4)], [...Float32Array.of(0.5, -0.5, 0.2, 0.1)]);
  assert.deepEqual([...y.data.slice(4)], [...Float32Array.of(1, -1, 1, 1 / 1.5)]);
  assert.deepEqual([...threshold(x, { kind: 'clip' }).data.slice(4)], [1, -1, 1, 1]);
  assert.throws(() => threshold(x, { kind: 'dynamic', ratio: 0.95, maxValue: 0.5 }), /maxValue ≥ 1/);
});

test("the final step (t′ = −1) returns that step's x̂0 and draws no noise; without it the loop stops at the last timestep", async () => {
  const s = cosineSchedule(1000);
  const eps = randn([1, 1, 4, 4], new Rng(1));
  const x = randn([1, 1, 4, 4], new Rng(2));
  let draws = 0;
  const rng = {
    draw: (shape: readonly [number, number, number, number]) => {
      draws++;
      return tensor(shape);
    },
  };
  const r = await denoiseLoop(s, async () => ({ eps }), x, {
    rng,
    timesteps: [30, 0],
    finalStep: true,
    progressEvery: 0,
  });
  assert.equal(draws, 1, 'one draw for t = 30, none at t = 0');
  const calls: number[] = [];
  const r2 = await denoiseLoop(
    s,
    async (_x, t) => {
      calls.push(t);
      return { eps };
    },
    x,
    {
      rng,
      timesteps: [30, 0],
      progressEvery: 0,
    },
  );
  assert.deepEqual(calls, [30]);
  const x0 = predictOriginal(s, r2.image, 0, eps);
  let m = 0;
  for (let i = 0; i < x0.data.length; i++) m = Math.max(m, Math.abs(x0.data[i]! - r.image.data[i]!));
  assert.ok(m < 1e-6, `final step = x̂0 at t = 0 (${m})`);
});
