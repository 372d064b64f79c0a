// The Part A commands end to end through main([...]) on a tiny class model trained here (D = 4, one
// epoch on 128 digits) and on the tiny DeepFloyd IF Hugging Face folders: files, sizes, frames, seeds, errors.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { main } from '../../src/cli/main.js';
import { encodePng } from '../../src/engine/images/encode.js';
import { tinyDeepFloydModels } from '../fixtures/tiny-deepfloyd.js';
import { DeepFloydIF, embeddingKey } from '../../src/engine/denoisers/deepfloyd-if.js';
import { openStore } from '../../src/store/index.js';
import { tinyClassRun } from '../helpers/tiny-mnist.js';

let root: string;
let checkpoint: string;

before(async () => {
  root = mkdtempSync(join(tmpdir(), 'illusionist-parta-cli-'));
  checkpoint = (await tinyClassRun(128)).runDir;
  // CLI generations are jobs in the store at DATA_DIR: a fresh one, not the working directory's.
  process.env.DATA_DIR = join(root, 'data');
});

const savedModels = process.env.ILLUSIONIST_MODELS;
const savedData = process.env.DATA_DIR;
after(() => {
  if (savedData === undefined) delete process.env.DATA_DIR;
  else process.env.DATA_DIR = savedData;
  if (savedModels === undefined) delete process.env.ILLUSIONIST_MODELS;
  else process.env.ILLUSIONIST_MODELS = savedModels;
});

interface Run {
  code: number;
  out: string;
  err: string;
}

/**
 * main() with its output captured. The test runner reports on the same stdout while main runs, so only
 * the command's own summary line is taken from stdout; everything else passes through.
 */
async function cli(args: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const w1 = process.stdout.write.bind(process.stdout);
  const w2 = process.stderr.write.bind(process.stderr);
  const ours = /^(imagine|denoise|edit|inpaint|anagram|hybrid) \(|^\d+ prompt embeddings cached/;
  process.stdout.write = ((s: string | Uint8Array) => {
    if (!ours.test(String(s))) return w1(s);
    out.push(String(s));
    return true;
  }) as typeof process.stdout.write;
  process.stderr.write = ((s: string | Uint8Array) => {
    err.push(String(s));
    return true;
  }) as typeof process.stderr.write;
  try {
    const code = await main(args);
    return { code, out: out.join(''), err: err.join('') };
  } finally {
    process.stdout.write = w1;
    process.stderr.write = w2;
  }
}

/** A digit-model command with the tiny checkpoint into a fresh folder. */
async function digitCli(args: string[]): Promise<Run & { dir: string }> {
  const dir = mkdtempSync(join(root, `${args[0]}-`));
  const r = await cli([...args, '--checkpoint', checkpoint, '--out', dir]);
  return { ...r, dir };
}

async function info(
  path: string,
): Promise<{ format?: string; width?: number; height?: number; pages?: number; channels?: number }> {
  const m = await sharp(readFileSync(path), { pages: -1 }).metadata();
  return { format: m.format, width: m.width, height: m.pageHeight ?? m.height, pages: m.pages, channels: m.channels };
}

const job = (dir: string): Record<string, unknown> =>
  JSON.parse(readFileSync(join(dir, 'job.json'), 'utf8')) as Record<string, unknown>;

test('anagram (the README example): 28×28 image, captioned views strip, a GIF of the turn; same seed, same bytes', async () => {
  const a = await digitCli([
    'anagram',
    '--prompt1',
    '6',
    '--prompt2',
    '9',
    '--view',
    'flip',
    '--model',
    'mnist-flow',
    '--seed',
    '0',
  ]);
  assert.equal(a.code, 0, a.err);
  assert.match(a.out, /seed 0/);
  const img = await info(join(a.dir, 'image.png'));
  assert.deepEqual([img.format, img.width, img.height, img.channels], ['png', 28, 28, 1]);
  const large = await info(join(a.dir, 'image-large.png'));
  assert.deepEqual([large.width, large.height], [196, 196]);
  const views = await info(join(a.dir, 'views.png'));
  assert.equal(views.format, 'png');
  assert.ok(views.width! > 2 * 196, `views.png is ${views.width} wide`);
  const gif = await info(join(a.dir, 'animation.gif'));
  // hold, 20 eased frames, hold, 20 back; canvas 1.5 × 196.
  assert.deepEqual([gif.format, gif.width, gif.height, gif.pages], ['gif', 294, 294, 42]);
  assert.ok(existsSync(join(a.dir, 'progression.png')));
  const j = job(a.dir);
  assert.deepEqual(
    [j.command, j.model, j.seed, j.prompts, j.views, j.steps],
    ['anagram', 'mnist-flow', 0, ['6', '9'], ['flip'], 33],
  );

  const b = await digitCli(['anagram', '--prompt1', '6', '--prompt2', '9', '--view', 'flip', '--seed', '0']);
  for (const f of ['image.png', 'views.png', 'animation.gif', 'progression.png']) {
    assert.deepEqual(readFileSync(join(b.dir, f)), readFileSync(join(a.dir, f)), `${f} differs for the same seed`);
  }
  const c = await digitCli(['anagram', '--prompt1', '6', '--prompt2', '9', '--seed', '1', '--steps', '5']);
  assert.notDeepEqual(readFileSync(join(c.dir, 'image.png')), readFileSync(join(a.dir, 'image.png')));
});

test('anagram with three prompts uses two views; negate and skew views run', async () => {
  const r = await digitCli([
    'anagram',
    '--prompt1',
    '1',
    '--prompt2',
    '2',
    '--prompt3',
    'three',
    '--steps',
    '4',
    '--seed',
    '3',
  ]);
  assert.equal(r.code, 0, r.err);
  assert.deepEqual(job(r.dir).views, ['rotate_cw', 'rotate_ccw']);
  assert.equal((await info(join(r.dir, 'animation.gif'))).pages, 84);
  const s = await digitCli([
    'anagram',
    '--prompt1',
    '1',
    '--prompt2',
    '7',
    '--view',
    'skew',
    '--max-disp',
    '10',
    '--steps',
    '3',
    '--seed',
    '3',
  ]);
  assert.equal(s.code, 0, s.err);
  assert.equal(job(s.dir).maxDisp, 10);
});

test('imagine: a random seed is printed and recorded; --count lays the batch out in a row', async () => {
  const r = await digitCli(['imagine', '--prompt', 'seven', '--steps', '5', '--count', '2']);
  assert.equal(r.code, 0, r.err);
  const seed = Number(/seed (\d+)/.exec(r.out)?.[1]);
  assert.ok(Number.isInteger(seed), r.out);
  assert.equal(job(r.dir).seed, seed);
  assert.deepEqual(
    [(await info(join(r.dir, 'image.png'))).width, (await info(join(r.dir, 'image.png'))).height],
    [62, 32],
  );
  for (const f of ['image-1.png', 'image-2.png']) assert.equal((await info(join(r.dir, f))).width, 28);
  // 5 steps: x_T, then the result (progression every 5th step).
  assert.ok(existsSync(join(r.dir, 'progression.png')));
});

test('denoise: one row per t with original, noisy and each method; blur alone has no progression', async () => {
  const r = await digitCli([
    'denoise',
    '--digit-index',
    '4200',
    '--t',
    '250,500,750',
    '--method',
    'all',
    '--steps',
    '6',
    '--seed',
    '2',
  ]);
  assert.equal(r.code, 0, r.err);
  const img = await info(join(r.dir, 'image.png'));
  assert.deepEqual([img.width, img.height], [2 + 5 * 30, 2 + 3 * 30]);
  assert.ok(existsSync(join(r.dir, 'figure.png')) && existsSync(join(r.dir, 'progression.png')));
  assert.match(String(job(r.dir).input), /embedded MNIST digit #4200/);
  const b = await digitCli(['denoise', '--digit-index', '4200', '--t', '500', '--method', 'blur', '--seed', '2']);
  assert.equal(b.code, 0, b.err);
  assert.deepEqual([(await info(join(b.dir, 'image.png'))).width], [2 + 3 * 30]);
  assert.equal(existsSync(join(b.dir, 'progression.png')), false);
});

test('edit: one edit per i_start from an uploaded dark-on-light sketch', async () => {
  const sketch = new Float32Array(60 * 40).fill(1);
  for (let y = 8; y < 52; y++) for (let x = 18; x < 23; x++) sketch[y * 40 + x] = 0; // a "1"
  const file = join(root, 'sketch.png');
  writeFileSync(file, await encodePng(sketch, 40, 60, 1));
  const r = await digitCli([
    'edit',
    '--image',
    file,
    '--i-start',
    '1,5',
    '--steps',
    '8',
    '--prompt',
    '1',
    '--seed',
    '4',
  ]);
  assert.equal(r.code, 0, r.err);
  const img = await info(join(r.dir, 'image.png'));
  assert.deepEqual([img.width, img.height], [62, 32]);
  assert.ok(existsSync(join(r.dir, 'strip.png')));
  // The sketch became a white-on-black digit: its centre column is bright, the corners dark.
  const { data } = await sharp(join(r.dir, 'input.png')).extractChannel(0).raw().toBuffer({ resolveWithObject: true });
  assert.ok(data[14 * 28 + 14]! > 200 && data[0]! < 30, `centre ${data[14 * 28 + 14]}, corner ${data[0]}`);
});

test('inpaint: pixels outside the box or mask stay exactly the input', async () => {
  const r = await digitCli([
    'inpaint',
    '--digit-index',
    '100',
    '--box',
    '0,0,14,28',
    '--prompt',
    '3',
    '--steps',
    '5',
    '--seed',
    '5',
  ]);
  assert.equal(r.code, 0, r.err);
  const raw = async (f: string) => await sharp(join(r.dir, f)).extractChannel(0).raw().toBuffer();
  const input = await raw('input.png');
  const out = await raw('image.png');
  for (let y = 0; y < 28; y++)
    for (let x = 14; x < 28; x++) assert.equal(out[y * 28 + x], input[y * 28 + x], `pixel ${x},${y}`);
  assert.ok(existsSync(join(r.dir, 'strip.png')));

  const mask = new Float32Array(28 * 28);
  for (let y = 10; y < 20; y++) mask.fill(1, y * 28 + 5, y * 28 + 25);
  const maskFile = join(root, 'mask.png');
  writeFileSync(maskFile, await encodePng(mask, 28, 28, 1));
  const m = await digitCli(['inpaint', '--digit-index', '100', '--mask', maskFile, '--steps', '4', '--seed', '5']);
  assert.equal(m.code, 0, m.err);
  const mo = await sharp(join(m.dir, 'image.png')).extractChannel(0).raw().toBuffer();
  for (const p of [0, 5 * 28 + 3, 27 * 28 + 27]) assert.equal(mo[p], input[p]);
});

test('hybrid: image, sizes strip and a zoom-out GIF', async () => {
  const r = await digitCli(['hybrid', '--far', '1', '--near', '8', '--sigma', '1.5', '--steps', '4', '--seed', '6']);
  assert.equal(r.code, 0, r.err);
  assert.equal((await info(join(r.dir, 'image.png'))).width, 28);
  const gif = await info(join(r.dir, 'animation.gif'));
  assert.deepEqual([gif.width, gif.height, gif.pages], [196, 196, 42]);
  assert.equal((await info(join(r.dir, 'sizes.png'))).format, 'png');
  assert.deepEqual(job(r.dir).filter, { sigma: 1.5, kernelSize: 25 });
});

test('bad input: one line naming what is allowed, exit code 2', async () => {
  const cases: Array<[string[], RegExp]> = [
    [
      ['anagram', '--prompt1', '6', '--prompt2', '9', '--view', 'spin'],
      /view "spin" is not one of the choices — allowed: view: flip, .*jigsaw/,
    ],
    [
      ['anagram', '--prompt1', '6', '--prompt2', 'dog'],
      /prompt2 "dog" is not a digit, and mnist-flow draws digits only — allowed: a digit 0–9/,
    ],
    [['anagram', '--prompt1', '6', '--prompt2', '9', '--view3', 'negate'], /view3 is for prompt3, which is missing/],
    [['imagine', '--prompt', 'a cat'], /draws digits only/],
    [
      ['imagine', '--prompt', '3', '--model', 'sdxl'],
      /there is no model "sdxl" — allowed: models: deepfloyd-if, mnist-flow/,
    ],
    [['imagine', '--prompt', '3', '--steps', '201'], /steps must be an integer from 1 to 200, got "201"/],
    [
      ['edit', '--digit-index', '3', '--i-start', '1,40'],
      /i_start 40 leaves no step to take with 33 steps: it must be an integer from 0 to 32/,
    ],
    [['edit', '--image', join(checkpoint, 'run.json')], /not a readable image.*send a PNG, JPEG/],
    [['edit', '--image', join(root, 'missing.png')], /cannot read --image .*ENOENT/],
    [['edit'], /give an input: --image FILE or --digit-index N/],
    [
      ['denoise', '--digit-index', '3', '--method', 'median'],
      /method "median" is not one of the choices — allowed: method: all, blur, one-step, iterative/,
    ],
    [['denoise', '--digit-index', '3', '--t', '250,1000'], /t "250,1000": 1000 is not an integer from 1 to 999/],
    [['inpaint', '--digit-index', '3'], /\/inpaint needs the region to repaint — allowed: box: "x,y,width,height"/],
    [['inpaint', '--digit-index', '3', '--box', '20,20,10,10'], /box 20,20,10,10 does not fit inside your 28×28 image/],
    [['hybrid', '--far', '1', '--near', '2', '--sigma', '9'], /sigma must be .* at most 7/],
  ];
  for (const [args, message] of cases) {
    const r = await digitCli(args);
    assert.equal(r.code, 2, `${args.join(' ')} → ${r.code}: ${r.err}`);
    assert.match(r.err, message, args.join(' '));
    assert.equal(r.err.trim().split('\n').length, 1, `one line: ${r.err}`);
  }
  process.env.ILLUSIONIST_MODELS = join(root, 'no-models');
  const d = await cli(['imagine', '--prompt', 'a dog', '--model', 'deepfloyd-if', '--out', join(root, 'x')]);
  assert.equal(d.code, 2);
  assert.match(
    d.err,
    /no DeepFloyd IF stage I folder in .*no-models.deepfloyd-if .*huggingface-cli download DeepFloyd\/IF-I-XL-v1\.0 --include .*--local-dir .*no-models.deepfloyd-if.IF-I-XL-v1\.0/,
  );
  assert.equal(d.err.trim().split('\n').length, 1, d.err);
});

test('deepfloyd-if path: an RGB anagram from the tiny Hugging Face folders found under ILLUSIONIST_MODELS', async () => {
  const { models, stageI } = tinyDeepFloydModels();
  process.env.ILLUSIONIST_MODELS = models;
  const dir = join(root, 'if-anagram');
  const r = await cli([
    'anagram',
    '--prompt1',
    'an old man',
    '--prompt2',
    'a campfire',
    '--view',
    'negate',
    '--model',
    'deepfloyd-if',
    '--steps',
    '3',
    '--seed',
    '7',
    '--out',
    dir,
  ]);
  assert.equal(r.code, 0, r.err);
  const img = await info(join(dir, 'image.png'));
  assert.deepEqual([img.width, img.height, img.channels], [64, 64, 3]);
  const gif = await info(join(dir, 'animation.gif'));
  assert.deepEqual([gif.width, gif.pages], [Math.round(1.5 * 192), 42]);
  assert.equal(job(dir).source, stageI);
  // The prompts' T5 embeddings were kept in the store, so the next job with them skips the encoder.
  const store = openStore(join(process.env.DATA_DIR!, 'illusionist.db'));
  try {
    const encoder = DeepFloydIF.textEncoderIdOf(stageI)!;
    for (const prompt of ['an old man', 'a campfire', '']) {
      assert.ok(
        store.embeddings.get('deepfloyd-if', embeddingKey(encoder, prompt))?.data instanceof Float32Array,
        `embedding of '${prompt}' cached`,
      );
    }
  } finally {
    store.close();
  }
  const pre = await cli(['embed', '--prompt', 'a campfire', 'a volcano']);
  assert.equal(pre.code, 0, pre.err);
  assert.match(pre.out, /3 prompt embeddings cached \(1 computed, 2 already there\)/);
  const e = await cli(['imagine', '--prompt', 'a dog', '--model', 'deepfloyd-if', '--checkpoint', 'x', '--out', dir]);
  assert.equal(e.code, 2);
});
