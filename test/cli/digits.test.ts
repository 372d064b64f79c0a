// The `digits` and `train` commands as a user runs them: a real process, real files, one-line
// errors with exit code 2 for mistakes, and the same seed giving the same bytes.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { tinyClassRun, tinyRun } from '../helpers/tiny-mnist.js';
import { openStore } from '../../src/store/index.js';

const bin = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url));
let runDir = '';
// CLI generations are jobs in the store at DATA_DIR; each test file gets its own.
const dataDir = mkdtempSync(join(tmpdir(), 'illusionist-cli-data-'));

function cli(args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    env: { ...process.env, DATA_DIR: dataDir, ...env },
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

before(async () => {
  runDir = (await tinyClassRun()).runDir;
});

test('digits writes grid.png, one 28×28 PNG per digit and job.json; the same seed gives the same bytes', async () => {
  const a = mkdtempSync(join(tmpdir(), 'illusionist-digits-'));
  const b = mkdtempSync(join(tmpdir(), 'illusionist-digits-'));
  const r1 = cli(['digits', '--checkpoint', runDir, '--steps', '5', '--seed', '42', '--out', a]);
  assert.equal(r1.code, 0, r1.stderr);
  assert.match(r1.stdout, /40 digits .*seed 42/);
  const files = readdirSync(a);
  assert.ok(files.includes('grid.png') && files.includes('job.json'));
  assert.equal(files.filter((f) => /^\d+_\d\.png$/.test(f)).length, 40);
  const one = await sharp(join(a, '13_3.png')).metadata();
  assert.deepEqual([one.width, one.height, one.channels], [28, 28, 1]);
  const job = JSON.parse(readFileSync(join(a, 'job.json'), 'utf8'));
  assert.equal(job.seed, 42);
  assert.equal(job.labels[13], 3);
  const r2 = cli(['digits', '--checkpoint', runDir, '--steps', '5', '--seed', '42', '--out', b]);
  assert.equal(r2.code, 0, r2.stderr);
  assert.ok(readFileSync(join(a, 'grid.png')).equals(readFileSync(join(b, 'grid.png'))), 'same seed, same grid');
  assert.equal(
    readdirSync(join(dataDir, 'cache', 'onnx')).filter((f) => f.endsWith('.onnx')).length,
    1,
    "the second run read the first one's export",
  );
  const c = mkdtempSync(join(tmpdir(), 'illusionist-digits-'));
  cli(['digits', '--checkpoint', runDir, '--steps', '5', '--seed', '43', '--out', c]);
  assert.ok(!readFileSync(join(a, 'grid.png')).equals(readFileSync(join(c, 'grid.png'))), 'another seed, another grid');
});

test('digits --digit 7 --count 3 draws three sevens', () => {
  const out = mkdtempSync(join(tmpdir(), 'illusionist-digits-'));
  const r = cli([
    'digits',
    '--checkpoint',
    runDir,
    '--digit',
    '7',
    '--count',
    '3',
    '--steps',
    '3',
    '--seed',
    '1',
    '--out',
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual(
    readdirSync(out)
      .filter((f) => f.endsWith('_7.png'))
      .sort(),
    ['0_7.png', '1_7.png', '2_7.png'],
  );
});

test('ILLUSIONIST_TIMING=1 says once, on stderr, when the first sampler step starts; unset, it says nothing', () => {
  const args = (out: string) => [
    'digits',
    '--checkpoint',
    runDir,
    '--digit',
    '2',
    '--count',
    '1',
    '--steps',
    '3',
    '--seed',
    '1',
    '--out',
    out,
  ];
  const timed = cli(args(mkdtempSync(join(tmpdir(), 'illusionist-digits-'))), { ILLUSIONIST_TIMING: '1' });
  assert.equal(timed.code, 0, timed.stderr);
  assert.equal(
    timed.stderr.match(/illusionist timing: first sampler step at \d+ ms after process start\n/g)?.length,
    1,
    timed.stderr,
  );
  assert.doesNotMatch(timed.stdout, /timing/);
  const plain = cli(args(mkdtempSync(join(tmpdir(), 'illusionist-digits-'))));
  assert.equal(plain.code, 0, plain.stderr);
  assert.doesNotMatch(plain.stderr, /timing/);
});

/** `illusionist digits --checkpoint runDir ARGS --out DIR` into a fresh DIR: the run, its job.json and grid. */
function digitsRun(args: string[]) {
  const out = mkdtempSync(join(tmpdir(), 'illusionist-digits-'));
  const r = cli(['digits', '--checkpoint', runDir, ...args, '--out', out]);
  assert.equal(r.code, 0, r.stderr);
  return {
    r,
    stdout: r.stdout,
    job: JSON.parse(readFileSync(join(out, 'job.json'), 'utf8')),
    grid: readFileSync(join(out, 'grid.png')),
  };
}

test('digits --guidance-interval guides only part of the way, and job.json records the interval', () => {
  const run = (extra: string[]) => digitsRun(['--digit', '4', '--count', '2', '--steps', '4', '--seed', '3', ...extra]);
  const guided = run([]);
  assert.deepEqual(guided.job.guidanceInterval, [0.3, 1], "the class model's default: from t = 0.3");
  assert.match(guided.stdout, /guidance for t in \[0\.3, 1\]/);
  // (The tiny test model's null class barely differs from its digits, so the grids cannot show the
  // interval; test/engine/flow/euler.test.ts checks what the sampler does with it.)
  const late = run(['--guidance-interval', '0.5,1']);
  assert.match(late.stdout, /guidance for t in \[0\.5, 1\]/);
  assert.deepEqual(late.job.guidanceInterval, [0.5, 1]);
  const every = run(['--guidance-interval', '0,1']);
  assert.deepEqual(every.job.guidanceInterval, [0, 1]);
  assert.doesNotMatch(every.stdout, /guidance for t in/);
});

test('digits --churn-interval churns only from t in [lo, hi], and job.json records it', () => {
  const run = (extra: string[]) => digitsRun(['--count', '1', '--steps', '10', '--seed', '3', ...extra]);
  const byDefault = run([]);
  assert.deepEqual([byDefault.job.churn, byDefault.job.churnInterval], [1.5, [0.5, 0.9]], "the class model's default");
  assert.match(byDefault.stdout, /churn 1\.5 for t in \[0\.5, 0\.9\]/);
  const early = run(['--churn-interval', '0.1,0.4']);
  assert.deepEqual(early.job.churnInterval, [0.1, 0.4]);
  assert.ok(!early.grid.equals(byDefault.grid), 'churn on other steps, another picture');
  assert.ok(run(['--churn-interval', '0.5,0.9']).grid.equals(byDefault.grid), 'the default, spelt out');
});

test('digits --solver heun steps with Heun (two model evaluations a step), and job.json records the solver', () => {
  // The plain ODE (--churn 0): with churn, Heun's corrector is not what is measured here.
  const run = (extra: string[]) =>
    digitsRun(['--digit', '2', '--count', '2', '--steps', '4', '--seed', '5', '--churn', '0', ...extra]);
  const euler = run([]);
  const heun = run(['--solver', 'heun']);
  assert.equal(euler.job.solver, 'euler');
  assert.equal(heun.job.solver, 'heun');
  assert.match(heun.r.stdout, /4 heun steps/);
  assert.match(heun.r.stderr, /step 7\/7/, 'progress counts 2·4 − 1 evaluations');
  assert.ok(!heun.grid.equals(euler.grid), 'another solver, another picture');
  assert.ok(run(['--solver', 'euler']).grid.equals(euler.grid), '--solver euler is the default sampler');
});

const mistakes: Array<[string[], RegExp]> = [
  [['digits', '--churn-interval', '0.9,0.5', '--out', 'x'], /--churn interval '0\.9,0\.5' needs 0 ≤ LO ≤ HI ≤ 1/],
  [['digits', '--solver', 'rk4', '--out', 'x'], /--solver must be one of euler, heun, dpm2m, got 'rk4'/],
  [['digits', '--guidance-interval', '0.8,0.2', '--out', 'x'], /--guidance interval '0\.8,0\.2' needs 0 ≤ LO ≤ HI ≤ 1/],
  [['digits', '--guidance-interval', 'late', '--out', 'x'], /--guidance interval 'late' is not two flow times LO,HI/],
  [['digits', '--digit', '12', '--out', 'x'], /--digit must be an integer from 0 to 9, got '12'/],
  [['digits', '--guidance', 'lots', '--out', 'x'], /--guidance must be a number from 0 to 30/],
  [['digits', '--churn', '-1', '--out', 'x'], /--churn must be a number from 0 to 20, got '-1'/],
  [['digits', '--kind', 'time', '--digit', '3', '--out', 'x'], /--digit needs the class model/],
  [['digits', '--checkpoint', 'no-such-model', '--out', 'x'], /no checkpoint 'no-such-model'/],
  [['digits', '--checkpoint', '999', '--out', 'x'], /there is no checkpoint #999 in the store/],
  [['train', '--kind', 'gan'], /--kind must be one of denoiser, time, class, got 'gan'/],
  [['train', '--epochs', '0'], /--epochs must be an integer from 1 to 1000/],
  [['train', '--kind', 'time', '--pure-noise'], /--pure-noise applies to --kind denoiser only/],
  [['train', '--kind', 'time', '--ema', '1'], /--ema must be a number from 0 to 0\.99999, got '1'/],
  [['train', '--kind', 'denoiser', '--ema', '0.99'], /--ema applies to the flow models/],
  [['train', '--kind', 'time', '--init', 'no-such-model'], /--init: no checkpoint 'no-such-model'/],
  [['train', '--resume', 'runs/x', '--init', 'mnist-class'], /--init starts a new run/],
];

for (const [args, message] of mistakes) {
  test(`a mistake is one line and exit code 2: illusionist ${args.join(' ')}`, () => {
    const r = cli(args, { ILLUSIONIST_MODELS: join(tmpdir(), 'no-models-here') });
    assert.equal(r.code, 2, r.stderr);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line, got: ${r.stderr}`);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  });
}

test('train --init refuses a checkpoint of another kind or hidden size, naming both', () => {
  const time = cli(['train', '--kind', 'time', '--init', runDir]);
  assert.equal(time.code, 2);
  assert.match(time.stderr, /--init .* holds a class model; --kind is time/);
  const wide = cli(['train', '--kind', 'class', '--hidden', '8', '--init', runDir]);
  assert.equal(wide.code, 2);
  assert.match(wide.stderr, /--init .* has hidden size 4; --hidden is 8/);
});

test('train --backend webgpu without a usable Vulkan driver stops with one line saying what it needs', () => {
  const runDir = join(mkdtempSync(join(tmpdir(), 'illusionist-webgpu-run-')), 'run');
  const none = '/nonexistent/vulkan-icd.json'; // the loader finds no driver, as on a machine without one
  const r = cli(
    ['train', '--kind', 'time', '--hidden', '4', '--epochs', '1', '--backend', 'webgpu', '--run-dir', runDir],
    { VK_DRIVER_FILES: none, VK_ICD_FILENAMES: none },
  );
  assert.equal(r.code, 1, r.stderr);
  const ours = r.stderr.split('\n').filter((l) => l.startsWith('error: '));
  assert.equal(ours.length, 1, r.stderr);
  assert.match(
    ours[0]!,
    /cannot load train-step-time-d4 on WebGPU: .*adapter.*; it needs a Vulkan driver that Dawn accepts: NVIDIA's, or Mesa 25 or newer/,
  );
  assert.doesNotMatch(
    r.stderr,
    /at (async )?file:|at .*\.js:\d+/,
    'no JavaScript stack trace (Dawn prints its own warnings)',
  );
  assert.equal(existsSync(runDir), false, 'a run that could not start leaves no empty folder');
});

test('a new run pointed at a folder that holds a run is refused, and the run there is untouched', () => {
  const before = readdirSync(runDir).map((f) => [f, readFileSync(join(runDir, f)).toString('base64')]);
  const r = cli(['train', '--kind', 'class', '--hidden', '4', '--epochs', '1', '--run-dir', runDir]);
  assert.equal(r.code, 2, r.stderr);
  assert.equal(
    r.stderr,
    `error: ${runDir} already holds a training run; continue it with --resume ${runDir}, or choose another --run-dir\n`,
  );
  assert.deepEqual(
    readdirSync(runDir).map((f) => [f, readFileSync(join(runDir, f)).toString('base64')]),
    before,
  );
});

test('digits without a committed model says how to train one', () => {
  const r = cli(['digits', '--out', 'x'], { ILLUSIONIST_MODELS: join(tmpdir(), 'no-models-here') });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /train one with: illusionist train --kind class/);
});

test('an unknown command or option is refused by the parser with exit code 2', () => {
  assert.equal(cli(['paint']).code, 2);
  assert.equal(cli(['digits', '--colour', 'red', '--out', 'x']).code, 2);
});

test('export-model turns a finished run into the committed model that digits uses by default', () => {
  const models = mkdtempSync(join(tmpdir(), 'illusionist-models-'));
  const r = cli(['export-model', '--run', runDir], { ILLUSIONIST_MODELS: models });
  assert.equal(r.code, 0, r.stderr);
  const dir = join(models, 'mnist-class');
  assert.deepEqual(
    readdirSync(dir)
      .filter((f) => !f.startsWith('samples-epoch'))
      .sort(),
    ['card.md', 'loss.png', 'model.safetensors', 'samples.png'],
  );
  const card = readFileSync(join(dir, 'card.md'), 'utf8');
  assert.match(card, /illusionist train --kind class --hidden 4 --epochs 1 --batch 16/);
  assert.match(card, /final loss \| \d\.\d{5}/);
  const out = mkdtempSync(join(tmpdir(), 'illusionist-digits-'));
  const d = cli(['digits', '--digit', '2', '--count', '2', '--steps', '2', '--seed', '0', '--out', out], {
    ILLUSIONIST_MODELS: models,
  });
  assert.equal(d.code, 0, d.stderr);
  assert.match(readFileSync(join(out, 'job.json'), 'utf8'), /mnist-class\/model\.safetensors/);
});

test('export-model --epoch refuses an epoch the run has not completed', () => {
  const r = cli(['export-model', '--run', runDir, '--epoch', '4'], {
    ILLUSIONIST_MODELS: mkdtempSync(join(tmpdir(), 'illusionist-models-')),
  });
  assert.equal(r.code, 2);
  assert.match(r.stderr, /--epoch must be a completed epoch of .*, from 1 to 1, got 4/);
});

test('digits --checkpoint N uses checkpoint #N of the store', () => {
  const store = openStore(join(dataDir, 'illusionist.db'));
  let id: number;
  try {
    id = store.training.registerCommittedModels([
      { modelKind: 'mnist-class', name: 'tiny-for-ids', path: join(runDir, 'checkpoint-epoch-001.safetensors') },
    ]).added[0]!.id;
  } finally {
    store.close();
  }
  const out = mkdtempSync(join(tmpdir(), 'illusionist-digits-'));
  const r = cli([
    'digits',
    '--checkpoint',
    String(id),
    '--digit',
    '1',
    '--count',
    '1',
    '--steps',
    '2',
    '--seed',
    '0',
    '--out',
    out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(readFileSync(join(out, 'job.json'), 'utf8'), /tiny-class|checkpoint-epoch-001\.safetensors/);
});

test('export-model --guide commits a time model with its guide, and digits --kind time is autoguided by default', async () => {
  const time = await tinyRun('time', 4);
  const guide = await tinyRun('time', 2);
  const models = mkdtempSync(join(tmpdir(), 'illusionist-models-'));
  const env = { ILLUSIONIST_MODELS: models };
  const r = cli(['export-model', '--run', time.runDir, '--guide', guide.checkpoint], env);
  assert.equal(r.code, 0, r.stderr);
  const dir = join(models, 'mnist-time');
  assert.ok(readdirSync(dir).includes('guide.safetensors'));
  const card = readFileSync(join(dir, 'card.md'), 'utf8');
  assert.match(card, /## Guide \(autoguidance\)/);
  assert.match(card, /illusionist train --kind time --hidden 2 --epochs 1 --batch 16/, "the guide's own train command");

  const sample = (extra: string[]) => {
    const out = mkdtempSync(join(tmpdir(), 'illusionist-digits-'));
    const d = cli(
      ['digits', '--kind', 'time', '--count', '4', '--steps', '3', '--seed', '9', '--out', out, ...extra],
      env,
    );
    assert.equal(d.code, 0, d.stderr);
    return { job: JSON.parse(readFileSync(join(out, 'job.json'), 'utf8')), grid: readFileSync(join(out, 'grid.png')) };
  };
  const guided = sample([]);
  assert.equal(guided.job.guide, join(dir, 'guide.safetensors'));
  assert.equal(guided.job.guidance, 2);
  assert.equal(guided.job.churn, 3, 'the time model samples with churn by default');
  assert.ok(sample([]).grid.equals(guided.grid), 'same seed, same guided digits');
  assert.ok(readFileSync(join(dir, 'card.md'), 'utf8').includes("the sampler's default churn 3 re-noises each step"));
  const plain = sample(['--churn', '0']);
  assert.equal(plain.job.churn, 0);
  assert.ok(!plain.grid.equals(guided.grid), 'churn changes the digits');
  assert.ok(sample(['--churn', '0']).grid.equals(plain.grid), 'same seed, same plain digits');
  const alone = sample(['--guide', 'none']);
  assert.equal(alone.job.guide, null);
  assert.equal(alone.job.guidance, 1);
  assert.ok(!alone.grid.equals(guided.grid), 'the guide changes the digits');
  const weightOne = sample(['--guidance', '1']);
  assert.equal(weightOne.job.guide, null, 'weight 1 leaves the guide unused');
  assert.ok(weightOne.grid.equals(alone.grid));
  const other = sample(['--guide', guide.runDir, '--guidance', '3']);
  assert.equal(other.job.guidance, 3);
  assert.match(other.job.guide, /checkpoint-epoch-001\.safetensors$/);

  // Exported again without a guide, the old guide goes: it was chosen for another model.
  assert.equal(cli(['export-model', '--run', time.runDir], env).code, 0);
  assert.ok(!readdirSync(dir).includes('guide.safetensors'));
});

test('guide mistakes are one line and exit 2, naming what is allowed', async () => {
  const time = await tinyRun('time', 4);
  const cases: Array<[string[], RegExp]> = [
    [
      ['digits', '--guide', time.runDir, '--out', 'x'],
      /--guide applies to --kind time; the class model is guided by its own null-class pass/,
    ],
    [
      ['digits', '--kind', 'time', '--checkpoint', time.runDir, '--guidance', '2', '--out', 'x'],
      /--guidance for the time model weighs its guide, and .* has none beside it; pass --guide CHECKPOINT/,
    ],
    [
      ['digits', '--kind', 'time', '--checkpoint', time.runDir, '--guide', runDir, '--out', 'x'],
      /--guide .* holds a class model; a time model is guided by another time model/,
    ],
    [
      ['digits', '--kind', 'time', '--checkpoint', time.runDir, '--guide', 'no-such-guide', '--out', 'x'],
      /no checkpoint 'no-such-guide'/,
    ],
    [
      ['export-model', '--run', runDir, '--guide', time.runDir],
      /--guide is for a time model; .* trained a class model/,
    ],
  ];
  for (const [args, message] of cases) {
    const r = cli(args, { ILLUSIONIST_MODELS: mkdtempSync(join(tmpdir(), 'illusionist-models-')) });
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line, got: ${r.stderr}`);
  }
});
