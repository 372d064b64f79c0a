// Each command's parse step on its own: the option checks and every command-specific refusal,
// with a fake context (no queue, no worker); the message and the "allowed" text are asserted.
import { test } from 'node:test';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import assert from 'node:assert/strict';
import type { CommandContext, ImageRef, JobCommand } from '../../src/commands/command.js';
import { defaultInputLimits, isJobCommand } from '../../src/commands/command.js';
import type { Attachment } from '../../src/commands/contract.js';
import { InputError } from '../../src/engine/errors.js';
import type { ModelCatalog } from '../../src/commands/models.js';
import { validateOptions } from '../../src/commands/options.js';
import { loadCommands } from '../../src/commands/registry.js';
import type { Checkpoint } from '../../src/store/index.js';

const commands = loadCommands();
const classCkpt = { id: 1, name: 'mnist-class', modelKind: 'mnist-class', path: '/m/class.safetensors' } as Checkpoint;
const timeCkpt = { id: 2, name: 'mnist-time', modelKind: 'mnist-time', path: '/m/time.safetensors' } as Checkpoint;
const models: ModelCatalog = {
  denoisers: () => ['mnist-flow'],
  resolveDenoiser: (name) => {
    if (name === undefined || name === 'mnist-flow') return { model: 'mnist-flow', checkpoint: classCkpt };
    throw new InputError(`there is no model "${name}"`, undefined, 'model-not-installed');
  },
  resolveFlow: (name) =>
    name === 'mnist-time'
      ? { model: 'mnist-time', checkpoint: timeCkpt, kind: 'time' }
      : { model: 'mnist-class', checkpoint: classCkpt, kind: 'class' },
  checkpoints: () => [classCkpt, timeCkpt],
};
const image: Attachment = { name: 'a.png', contentType: 'image/png', size: 10, fetch: async () => Buffer.alloc(0) };
const ctx = {
  requester: { platform: 'web', userId: 'u' },
  who: { platform: 'web', userId: 'u' },
  isAdmin: false,
  limits: defaultInputLimits,
  models,
  commands,
  dataDir: '/data',
  store: { path: '/data/illusionist.db' },
  newSeed: () => 1234,
  saveImage: async (_a: Attachment, _o: string): Promise<ImageRef> => ({
    sha256: 'x',
    path: '/a.png',
    width: 40,
    height: 30,
    sourceWidth: 40,
    sourceHeight: 30,
  }),
} as unknown as CommandContext;

async function parse(name: string, options: Record<string, unknown>, context: CommandContext = ctx) {
  const command = commands.get(name)!;
  assert.ok(isJobCommand(command));
  return command.parse(validateOptions(command.definition, options as never), context);
}

async function refusal(
  name: string,
  options: Record<string, unknown>,
  message: RegExp,
  allowed?: RegExp,
): Promise<void> {
  await assert.rejects(parse(name, options), (e: unknown) => {
    assert.ok(e instanceof InputError, String(e));
    assert.match(e.message, message);
    if (allowed) assert.match(e.allowed ?? '', allowed);
    return true;
  });
}

test("definitions follow the platforms' rules (names, lengths, required first, ≤ 25 options and choices)", () => {
  for (const { definition: d } of commands.values()) {
    assert.match(d.name, /^[a-z0-9_]{1,32}$/);
    assert.ok(d.description.length <= 100, d.name);
    assert.ok(d.options.length <= 25);
    const firstOptional = d.options.findIndex((o) => !o.required);
    assert.ok(
      firstOptional === -1 || d.options.slice(firstOptional).every((o) => !o.required),
      `${d.name}: required options first`,
    );
    for (const o of d.options) {
      assert.match(o.name, /^[a-z0-9_]{1,32}$/);
      assert.ok(o.description.length <= 100, `${d.name}.${o.name}`);
      assert.ok((o.choices?.length ?? 0) <= 25);
    }
  }
  assert.ok(commands.get('train')!.definition.adminOnly);
});

test('generic option checks: unknown option, wrong type, range, choices, length', async () => {
  await refusal('digits', { colour: 'red' }, /\/digits has no option "colour"/, /digit, count/);
  await refusal('digits', { digit: 'seven' }, /digit must be an integer from 0 to 9, got "seven"/);
  await refusal('digits', { digit: 3.5 }, /digit must be an integer/);
  await refusal('digits', { guidance: 31 }, /guidance must be a number from 0 to 30/);
  await refusal('digits', { churn: 21 }, /churn must be a number from 0 to 20/);
  await refusal('imagine', { prompt: '7', count: 9 }, /count must be an integer from 1 to 4/);
  await refusal(
    'anagram',
    { prompt1: '6', prompt2: '9', view: 'spin' },
    /view "spin" is not one of the choices/,
    /flip/,
  );
  await refusal('anagram', { prompt1: '6' }, /needs prompt2/);
  await refusal('edit', { image: 'not-a-file' }, /image must be an uploaded image/);
  await refusal('imagine', { prompt: 'x'.repeat(1001) }, /1001 characters long; the limit is 1000/);
  await refusal('train', { make_default: 'maybe' }, /make_default must be true or false/);
});

test('command-specific refusals name what is wrong and what is allowed', async () => {
  await refusal(
    'digits',
    { digit: 3, model: 'mnist-time' },
    /time-conditioned model: it cannot draw a chosen digit/,
    /drop digit/,
  );
  await refusal(
    'digits',
    { model: 'mnist-time', guidance: 2 },
    /mnist-time has no guide model, so guidance does not apply to it/,
    /classifier-free scale, or the weight of a time model's committed guide/,
  );
  await refusal(
    'digits',
    { count: 20 },
    /count 20 of each of the 10 digits is 200 images; the limit is 100/,
    /1 to 10 without digit/,
  );
  await refusal('denoise', { image, i_start: 40 }, /i_start 40 leaves no step to take with 33 steps/, /0 to 32/);
  await refusal(
    'imagine',
    { prompt: 'a cat' },
    /"a cat" is not a digit, and mnist-flow draws digits only/,
    /deepfloyd-if/,
  );
  await refusal('imagine', { prompt: '7', model: 'sdxl' }, /there is no model "sdxl"/);
  await refusal(
    'denoise',
    { image, i_start: 40, steps: 20 },
    /i_start 40 leaves no step to take with 20 steps/,
    /0 to 19/,
  );
  await refusal('edit', { image, steps: 10 }, /i_start 20 leaves no step/, /raise steps/);
  await refusal('inpaint', { image }, /needs the region to repaint/, /x,y,width,height/);
  await refusal('inpaint', { image, mask: image, box: '1,1,2,2' }, /either mask or box, not both/);
  await refusal('inpaint', { image, box: 'left half' }, /box "left half" is not four whole numbers/);
  await refusal('inpaint', { image, box: '30,20,20,20' }, /does not fit inside your 40×30 image/);
  await refusal('anagram', { prompt1: '6', prompt2: '9', view3: 'negate' }, /view3 is for prompt3, which is missing/);
  await refusal(
    'anagram',
    { prompt1: '6', prompt2: '9', prompt3: '1', view: 'negate', view3: 'negate' },
    /every prompt needs its own view/,
  );
  await refusal('anagram', { prompt1: '6', prompt2: '9', max_disp: 5 }, /max_disp applies to the skew view only/);
  await refusal('hybrid', { far: '1', near: 'dog' }, /near "dog" is not a digit/);
});

test('valid requests become job parameters with defaults filled in', async () => {
  const a = await parse('anagram', { prompt1: '6', prompt2: '9', prompt3: 'seven' });
  assert.deepEqual(a.params.views, ['rotate_cw', 'rotate_ccw']);
  assert.equal(a.seed, 1234);
  assert.equal(a.params.checkpointPath, '/m/class.safetensors');
  const d = await parse('digits', {});
  assert.deepEqual(
    [
      d.params.count,
      d.params.steps,
      d.params.solver,
      d.params.guidance,
      d.params.guidanceInterval,
      d.params.churn,
      d.params.churnInterval,
      d.params.kind,
    ],
    [4, 15, 'euler', 3, [0.3, 1], 1.5, [0.5, 0.9], 'class'],
    'the class model: 15 Euler steps, γ 3 from t = 0.3, churn 1.5 from 0.5 to 0.9',
  );
  assert.equal((await parse('digits', { churn: 2 })).params.churn, 2);
  const i = await parse('inpaint', { image, box: '0 0 10 10', seed: 5 });
  assert.deepEqual(i.params.box, { x: 0, y: 0, width: 10, height: 10 });
  assert.equal(i.seed, 5);
  const e = await parse('edit', { image });
  assert.deepEqual(e.params.iStarts, [1, 3, 5, 7, 10, 20]);
  const t = await parse('train', { epochs: '2' });
  assert.equal(t.kind, 'training');
  assert.equal(t.params.storePath, '/data/illusionist.db');
});

test('/digits on a time model committed with a guide is autoguided (weight 2 by default, 1 = off)', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'illusionist-guided-'));
  writeFileSync(join(dir, 'model.safetensors'), '');
  writeFileSync(join(dir, 'guide.safetensors'), '');
  const guidedCkpt = {
    id: 3,
    name: 'guided-time',
    modelKind: 'mnist-time',
    path: join(dir, 'model.safetensors'),
  } as Checkpoint;
  const guidedCtx = {
    ...ctx,
    models: { ...models, resolveFlow: () => ({ model: 'guided-time', checkpoint: guidedCkpt, kind: 'time' }) },
  } as CommandContext;
  const parseGuided = (options: Record<string, unknown>) => parse('digits', options, guidedCtx);
  const d = await parseGuided({});
  assert.deepEqual([d.params.kind, d.params.guidance, d.params.guidePath], ['time', 2, join(dir, 'guide.safetensors')]);
  const w = await parseGuided({ guidance: 3 });
  assert.deepEqual([w.params.guidance, w.params.guidePath], [3, join(dir, 'guide.safetensors')]);
  const off = await parseGuided({ guidance: 1 });
  assert.deepEqual([off.params.guidance, off.params.guidePath], [1, undefined]);
  const plain = await parse('digits', { model: 'mnist-time' });
  assert.deepEqual(
    [plain.params.guidance, plain.params.guidePath],
    [1, undefined],
    'no guide beside it: the model alone',
  );
  assert.deepEqual(
    [d.params.churn, plain.params.churn, (await parseGuided({ churn: 0 })).params.churn],
    [3, 3, 0],
    'a time model samples with churn 3 unless asked otherwise',
  );
});

test('the Part A job shapes: defaults from the definitions, lists, one t for denoise', async () => {
  const d = await parse('denoise', { image });
  assert.deepEqual(
    [d.params.ts, d.params.methods, d.params.prompt, d.params.guidance],
    [[250, 500, 750], ['blur', 'one-step', 'iterative'], '', undefined],
  );
  const one = await parse('denoise', { image, i_start: 10, method: 'iterative' });
  assert.deepEqual([one.params.ts, one.params.methods], [[690], ['iterative']], 'i_start 10 of 33 steps is t = 690');
  await refusal('denoise', { image, t: '250', i_start: 3 }, /give t or i_start, not both/);
  await refusal(
    'denoise',
    { image, t: '250,1000' },
    /t "250,1000": 1000 is not an integer from 1 to 999/,
    /comma-separated/,
  );
  const e = await parse('edit', { image, i_start: '5, 10' });
  assert.deepEqual([e.params.iStarts, e.params.guidance, e.params.model], [[5, 10], 5, 'mnist-flow']);
  assert.deepEqual((await parse('edit', { image, i_start: 7 })).params.iStarts, [7], 'a number where a list may go');
  await refusal('edit', { image, i_start: '1,x' }, /i_start "1,x": x is not an integer from 0 to 199/);
  const h = await parse('hybrid', { far: '1', near: '8', guidance: 2 });
  assert.deepEqual([h.params.guidance, h.params.steps, 'sigma' in h.params], [2, 33, false]);
  await refusal('imagine', { prompt: '7', steps: 201 }, /steps must be an integer from 1 to 200/);
});

test('/digits interval: guidance only for flow time in LO,HI, recorded in the job; from t = 0.3 by default', async () => {
  assert.deepEqual((await parse('digits', {})).params.guidanceInterval, [0.3, 1]);
  const d = await parse('digits', { interval: '0.2, 1' });
  assert.deepEqual(d.params.guidanceInterval, [0.2, 1]);
  const describe = (commands.get('digits') as JobCommand).describe;
  assert.match(describe(d.params), /interval "0\.2,1"/);
  assert.doesNotMatch(describe((await parse('digits', { interval: '0,1' })).params), / interval/);
  await refusal(
    'digits',
    { interval: '0.9,0.1' },
    /guidance interval '0\.9,0\.1' needs 0 ≤ LO ≤ HI ≤ 1/,
    /e\.g\. 0\.2,1/,
  );
  await refusal('digits', { interval: 'late' }, /guidance interval 'late' is not two flow times LO,HI/);
});

test('/digits churn_interval and solver: recorded in the job and named in the caption; bad values refused', async () => {
  const d = await parse('digits', { churn_interval: '0.6,0.9', solver: 'dpm2m' });
  assert.deepEqual([d.params.churnInterval, d.params.solver], [[0.6, 0.9], 'dpm2m']);
  const describe = (commands.get('digits') as JobCommand).describe;
  assert.match(describe(d.params), /solver "dpm2m"/);
  assert.match(describe(d.params), /churn 1\.5 · churn_interval "0\.6,0\.9"/);
  assert.doesNotMatch(
    describe((await parse('digits', { churn: 0 })).params),
    /churn_interval/,
    'no churn, no interval',
  );
  await refusal(
    'digits',
    { churn_interval: '0.9,0.5' },
    /churn interval '0\.9,0\.5' needs 0 ≤ LO ≤ HI ≤ 1/,
    /churn_interval: two flow times LO,HI/,
  );
  await refusal('digits', { solver: 'rk4' }, /solver "rk4" is not one of the choices/, /euler, heun, dpm2m/);
});
