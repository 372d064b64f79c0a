// `--upscale` end to end in real CLI processes on the tiny DeepFloyd IF folders (IF-I and IF-II, laid out
// as an operator's download): stage II after imagine, anagram and hybrid. The tiny IF-II at 256 px
// would need ~34 GB of attention, so stage I runs at 16 px (DEEPFLOYD_SAMPLE_SIZE) and stage II at 64.
// Stage II's draws follow stage I's in one stream: the seed's own draws replayed with --noise give the
// seed's bytes, and the stage I image is the same with and without --upscale.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { writeSafetensors, type TensorEntry } from '../../src/engine/flow/safetensors.js';
import { Rng } from '../../src/engine/random.js';
import { noiseName } from '../../src/engine/sampling/noise-file.js';
import { tinyDeepFloydModels } from '../fixtures/tiny-deepfloyd.js';

const run = promisify(execFile);
const BIN = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url));
const root = mkdtempSync(join(tmpdir(), 'illusionist-upscale-'));
const layout = tinyDeepFloydModels();
const SIDE = 16;

async function cli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stderr: string; dir: string }> {
  const dir = mkdtempSync(join(root, 'out-'));
  const full = {
    ...process.env,
    DATA_DIR: join(root, 'data'),
    ILLUSIONIST_MODELS: layout.models,
    DEEPFLOYD_SAMPLE_SIZE: String(SIDE),
    ...env,
  };
  try {
    const r = await run(process.execPath, [BIN, ...args, '--out', dir], { env: full, maxBuffer: 16 << 20 });
    return { code: 0, stderr: r.stderr, dir };
  } catch (err) {
    const e = err as { code: number; stderr: string };
    return { code: e.code, stderr: e.stderr, dir };
  }
}

const job = (dir: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(dir, 'job.json'), 'utf8')) as Record<string, unknown>;
const file = (dir: string, name: string): Buffer => readFileSync(join(dir, name));
/** Width and height from a PNG's IHDR. */
const pngSize = (bytes: Buffer): [number, number] => [bytes.readUInt32BE(16), bytes.readUInt32BE(20)];

// 2 steps each: stage I draws x_T and one per step; stage II x_T, the conditioning noise, one per step.
const IMAGINE = ['imagine', '--model', 'deepfloyd-if', '--prompt', 'a painting of a panda', '--steps', '2'];
const UP = ['--upscale', '--upscale-steps', '2'];

test('imagine --upscale: stage II makes 4× stage I, recorded in job.json; same seed → same bytes; stage I unchanged', async () => {
  const a = await cli([...IMAGINE, ...UP, '--seed', '3']);
  assert.equal(a.code, 0, a.stderr.slice(-2000));
  assert.deepEqual(pngSize(file(a.dir, 'image.png')), [SIDE, SIDE]);
  assert.deepEqual(pngSize(file(a.dir, 'upscaled.png')), [4 * SIDE, 4 * SIDE]);
  const record = job(a.dir);
  assert.deepEqual(record.upscale, { steps: 2, noiseLevel: 250, guidance: 4 }, 'the engine defaults, filled in');
  assert.deepEqual(record.upscaled, { size: 4 * SIDE, source: layout.stageII });
  assert.ok((record.outputs as string[]).includes('upscaled.png'));

  const again = await cli([...IMAGINE, ...UP, '--seed', '3']);
  assert.equal(again.code, 0, again.stderr.slice(-2000));
  for (const name of ['image.png', 'upscaled.png', 'progression.png'])
    assert.deepEqual(file(again.dir, name), file(a.dir, name), `${name}: same seed, same bytes`);

  // Stage II draws after stage I, so stage I's image is the one a run without --upscale makes.
  const plain = await cli([...IMAGINE, '--seed', '3']);
  assert.equal(plain.code, 0, plain.stderr.slice(-2000));
  assert.deepEqual(file(plain.dir, 'image.png'), file(a.dir, 'image.png'));
  assert.equal(job(plain.dir).upscale, undefined);
  assert.equal(job(plain.dir).upscaled, undefined);

  // The noise level changes stage II only.
  const level = await cli([...IMAGINE, ...UP, '--noise-level', '50', '--seed', '3']);
  assert.equal(level.code, 0, level.stderr.slice(-2000));
  assert.deepEqual((job(level.dir).upscale as { noiseLevel: number }).noiseLevel, 50);
  assert.deepEqual(file(level.dir, 'image.png'), file(a.dir, 'image.png'));
  assert.notDeepEqual(file(level.dir, 'upscaled.png'), file(a.dir, 'upscaled.png'));
});

test("imagine --upscale --noise FILE: stage II's draws are read after stage I's, in diffusers' order", async () => {
  const seeded = await cli([...IMAGINE, ...UP, '--seed', '5']);
  assert.equal(seeded.code, 0, seeded.stderr.slice(-2000));
  // The seed's stream cut as the run draws it: 3 at stage I's size, then 4 at stage II's.
  const rng = new Rng(5);
  const tensors = new Map<string, TensorEntry>();
  const shapes = [...Array(3).fill(SIDE), ...Array(4).fill(4 * SIDE)] as number[];
  shapes.forEach((s, k) => {
    tensors.set(noiseName(k), { shape: [1, 3, s, s], data: rng.draw([1, 3, s, s], 'x').data });
  });
  const path = join(root, 'seed5.safetensors');
  writeSafetensors(path, tensors, { format: 'pt' });
  const replayed = await cli([...IMAGINE, ...UP, '--seed', '9', '--noise', path]);
  assert.equal(replayed.code, 0, replayed.stderr.slice(-2000));
  assert.deepEqual(job(replayed.dir).noise, { file: path, draws: 7, of: 7 });
  assert.deepEqual(file(replayed.dir, 'image.png'), file(seeded.dir, 'image.png'));
  assert.deepEqual(file(replayed.dir, 'upscaled.png'), file(seeded.dir, 'upscaled.png'));
});

test('anagram and hybrid --upscale: their loops again at 4× (views, low-pass scaled), noise level 50 by default', async () => {
  const anagram = [
    'anagram',
    '--model',
    'deepfloyd-if',
    '--prompt1',
    'a painting of a panda',
    '--prompt2',
    'a painting of a rabbit',
    '--view',
    'flip',
    '--steps',
    '2',
    ...UP,
  ];
  const a = await cli([...anagram, '--seed', '4']);
  assert.equal(a.code, 0, a.stderr.slice(-2000));
  assert.deepEqual(pngSize(file(a.dir, 'upscaled.png')), [4 * SIDE, 4 * SIDE]);
  assert.deepEqual((job(a.dir).upscale as { noiseLevel: number }).noiseLevel, 50);
  // Both views of the upscaled image, captioned, as views.png is for stage I.
  const [vw] = pngSize(file(a.dir, 'upscaled-views.png'));
  assert.ok(vw > 2 * 4 * SIDE, `upscaled-views.png is ${vw} px wide`);
  const a2 = await cli([...anagram, '--seed', '4']);
  assert.deepEqual(file(a2.dir, 'upscaled.png'), file(a.dir, 'upscaled.png'));
  // The views take part at stage II: another view, same stage I seed, another upscale.
  const negate = await cli([...anagram.map((x) => (x === 'flip' ? 'negate' : x)), '--seed', '4']);
  assert.equal(negate.code, 0, negate.stderr.slice(-2000));
  assert.notDeepEqual(file(negate.dir, 'upscaled.png'), file(a.dir, 'upscaled.png'));

  const hybrid = ['hybrid', '--model', 'deepfloyd-if', '--far', 'a panda', '--near', 'a rabbit', '--steps', '2'];
  const h = await cli([...hybrid, ...UP, '--sigma', '1', '--seed', '4']);
  assert.equal(h.code, 0, h.stderr.slice(-2000));
  assert.deepEqual(pngSize(file(h.dir, 'upscaled.png')), [4 * SIDE, 4 * SIDE]);
  const rec = job(h.dir);
  assert.deepEqual(rec.filter, { sigma: 1, kernelSize: 17 });
  assert.deepEqual((rec.upscaled as { filter: unknown }).filter, { sigma: 4, kernelSize: 65 });
  assert.ok(file(h.dir, 'upscaled-sizes.png').length > 0);
});

test('upscale refused: on mnist-flow, without a stage II folder, stage II options without --upscale, a bad DEEPFLOYD_SAMPLE_SIZE', async () => {
  // mnist-flow from the repository's committed model (the tiny layout has none).
  const mnist = await cli(['imagine', '--model', 'mnist-flow', '--prompt', '7', '--upscale'], {
    ILLUSIONIST_MODELS: '',
  });
  assert.equal(mnist.code, 2, mnist.stderr);
  assert.match(
    mnist.stderr,
    /upscale: mnist-flow has no stage II to upscale with \(it makes 28×28 grey images and stops there\) — allowed: upscale is for deepfloyd-if; drop upscale with mnist-flow/,
  );

  const noStageII = tinyDeepFloydModels({ stageII: false });
  const missing = await cli([...IMAGINE, ...UP], { ILLUSIONIST_MODELS: noStageII.models });
  assert.equal(missing.code, 2, missing.stderr);
  assert.match(missing.stderr, /upscale needs DeepFloyd IF stage II, and there is no IF-II-\* folder beside /);
  assert.match(missing.stderr, /huggingface-cli download DeepFloyd\/IF-II-L-v1\.0/);
  assert.doesNotMatch(missing.stderr, /job #/, 'refused before a job was queued');

  const alone = await cli([...IMAGINE, '--upscale-steps', '5', '--noise-level', '20']);
  assert.equal(alone.code, 2);
  assert.match(
    alone.stderr,
    /upscale_steps and noise_level are for stage II, which runs only with upscale — allowed: give upscale:true \(CLI --upscale\) with upscale_steps and noise_level, or drop them/,
  );

  const size = await cli([...IMAGINE], { DEEPFLOYD_SAMPLE_SIZE: '20' });
  assert.equal(size.code, 2);
  assert.match(size.stderr, /DEEPFLOYD_SAMPLE_SIZE "20" is not a multiple of 8 from 8 to 256 — allowed: /);
});
