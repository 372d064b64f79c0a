// `denoise --noise FILE` and `--thresholding` end to end in real CLI processes on the tiny IF-I Hugging
// Face folder: a file holding the seed's own draws (the forward noise, then one per iterative step)
// gives the seed's bytes whatever --seed says; with thresholding the iterative rows run on diffusers'
// timesteps below t and end with its step at t = 0 (fewer draws here); bad values are refused by name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { writeSafetensors, type TensorEntry } from '../../src/engine/flow/safetensors.js';
import { Rng } from '../../src/engine/random.js';
import { noiseName } from '../../src/engine/sampling/noise-file.js';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url));
const GOLDEN = fileURLToPath(new URL('../../../../shared/if-golden/', import.meta.url));
assert.ok(
  existsSync(`${GOLDEN}README.md`),
  `IF golden fixtures missing: expected ${GOLDEN} (../shared/if-golden from the repository root)`,
);
const root = mkdtempSync(join(tmpdir(), 'illusionist-denoise-'));

async function cli(args: string[]): Promise<{ code: number; stderr: string; dir: string }> {
  const dir = mkdtempSync(join(root, 'out-'));
  const env = { ...process.env, DATA_DIR: join(root, 'data'), DEEPFLOYD_STAGE1_DIR: `${GOLDEN}models/IF-I-tiny` };
  try {
    const r = await run(process.execPath, [BIN, ...args, '--out', dir], { env, maxBuffer: 16 << 20 });
    return { code: 0, stderr: r.stderr, dir };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr, dir };
  }
}

/** The first `n` draws Rng(seed) makes for 64 px RGB tensors, as a noise file. */
function seedDraws(seed: number, n: number): string {
  const rng = new Rng(seed);
  const tensors = new Map<string, TensorEntry>();
  for (let k = 0; k < n; k++)
    tensors.set(noiseName(k), { shape: [1, 3, 64, 64], data: rng.draw([1, 3, 64, 64], 'x').data });
  const path = join(root, `seed${seed}-${n}.safetensors`);
  writeSafetensors(path, tensors, { format: 'pt' });
  return path;
}

const DENOISE = [
  'denoise',
  '--model',
  'deepfloyd-if',
  '--image',
  `${GOLDEN}golden/inputs/init_image_32.png`,
  '--t',
  '500',
  '--steps',
  '4',
];
const job = (dir: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(dir, 'job.json'), 'utf8')) as Record<string, unknown>;
const png = (dir: string): Buffer => readFileSync(join(dir, 'image.png'));

test("denoise --noise replays the draws in order: the seed's own draws give the seed's image, whatever --seed says", async () => {
  // 4 steps: iterative from 500 runs 500 → 495 → 248 → 0, so the forward noise and 3 step draws.
  const seeded = await cli([...DENOISE, '--seed', '3']);
  assert.equal(seeded.code, 0, seeded.stderr.slice(-2000));
  const file = seedDraws(3, 4);
  const replayed = await cli([...DENOISE, '--seed', '9', '--noise', file]);
  assert.equal(replayed.code, 0, replayed.stderr.slice(-2000));
  assert.deepEqual(job(replayed.dir).noise, { file, draws: 4, of: 4 });
  assert.equal(job(seeded.dir).noise, undefined);
  assert.deepEqual(png(replayed.dir), png(seeded.dir));
  const other = await cli([...DENOISE, '--seed', '9']);
  assert.notDeepEqual(png(other.dir), png(seeded.dir));
});

test("denoise --thresholding dynamic: x̂0 thresholded on diffusers' timesteps below t, recorded; clip differs again", async () => {
  // set_timesteps(4) is 750, 500, 250, 0: from 500 the loop steps at 500, 250 and t = 0 (no draw), so 3 draws.
  const file = seedDraws(3, 4);
  const dyn = await cli([...DENOISE, '--seed', '3', '--thresholding', 'dynamic', '--noise', file]);
  assert.equal(dyn.code, 0, dyn.stderr.slice(-2000));
  assert.equal(job(dyn.dir).thresholding, 'dynamic');
  assert.deepEqual(job(dyn.dir).noise, { file, draws: 3, of: 4 });
  const none = await cli([...DENOISE, '--seed', '3']);
  const clip = await cli([...DENOISE, '--seed', '3', '--thresholding', 'clip']);
  assert.equal(clip.code, 0, clip.stderr.slice(-2000));
  assert.equal(job(clip.dir).thresholding, 'clip');
  assert.equal(job(none.dir).thresholding, undefined);
  assert.notDeepEqual(png(dyn.dir), png(none.dir));
  assert.notDeepEqual(png(clip.dir), png(none.dir));
  assert.notDeepEqual(png(clip.dir), png(dyn.dir));
  // 'none' is the write-up's loop, as leaving the option out.
  const explicit = await cli([...DENOISE, '--seed', '3', '--thresholding', 'none']);
  assert.deepEqual(png(explicit.dir), png(none.dir));
});

test('denoise: a bad --thresholding, or a --noise file too short for the run, is refused naming what is wrong', async () => {
  const bad = await cli([...DENOISE, '--thresholding', 'soft']);
  assert.equal(bad.code, 2);
  assert.match(
    bad.stderr,
    /thresholding "soft" is not one of the choices — allowed: thresholding: none, dynamic, clip/,
  );
  const short = await cli([...DENOISE, '--t', '500,750', '--noise', seedDraws(3, 4)]);
  assert.notEqual(short.code, 0);
  assert.match(
    short.stderr,
    /holds 4 draws \(noise_000 … noise_003\); the run asked for draw 5 \(noise_004: the forward noise to t = 750, shape \[1, 3, 64, 64\]\)/,
  );
  const notNoise = await cli([...DENOISE, '--noise', `${GOLDEN}golden/scheduler.safetensors`]);
  assert.equal(notNoise.code, 2);
  assert.match(
    notNoise.stderr,
    /--noise: noise file .*scheduler\.safetensors holds no noise_000, noise_001, … tensors/,
  );
});
