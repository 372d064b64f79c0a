// The command service end to end on real parts: SQLite store and queue in a temp folder, the
// engine worker thread running the bot's handlers on a tiny MNIST checkpoint trained here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import sharp from 'sharp';
import type { Attachment, Reply, Requester } from '../../src/commands/contract.js';
import { loadCheckpoint } from '../../src/engine/flow/trainer.js';
import { startBotStack } from '../helpers/bot-stack.js';
import { recordingSink } from '../helpers/reply-sink.js';

const alice: Requester = { platform: 'web', userId: 'alice', displayName: 'Alice', channelId: 'c1' };
const bob: Requester = { platform: 'discord', userId: 'bob' };
const admin: Requester = { platform: 'discord', userId: 'root' };

function upload(name: string, data: Buffer, contentType?: string): Attachment {
  return { name, contentType, size: data.length, fetch: async () => data };
}

async function sketch(): Promise<Buffer> {
  // A white "1" stroke on black, as the web console's canvas sends it.
  const svg =
    '<svg xmlns="http://www.w3.org/2000/svg" width="112" height="112"><rect width="112" height="112" fill="black"/><rect x="50" y="16" width="12" height="80" fill="white"/></svg>';
  return sharp(Buffer.from(svg)).png().toBuffer();
}

/** A real 8×8 PNG whose header claims 30000×30000 pixels: a decompression bomb in miniature. */
async function bomb(): Promise<Buffer> {
  const png = Buffer.from(
    await sharp({ create: { width: 8, height: 8, channels: 3, background: '#000' } })
      .png()
      .toBuffer(),
  );
  png.writeUInt32BE(30000, 16);
  png.writeUInt32BE(30000, 20);
  let c = 0xffffffff;
  for (const byte of png.subarray(12, 29)) {
    c ^= byte;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0xedb88320 : c >>> 1;
  }
  png.writeUInt32BE((c ^ 0xffffffff) >>> 0, 29);
  return png;
}

function result(r: Reply): Extract<Reply, { type: 'result' }> {
  assert.equal(r.type, 'result', JSON.stringify(r));
  return r as Extract<Reply, { type: 'result' }>;
}

function error(r: Reply): Extract<Reply, { type: 'error' }> {
  assert.equal(r.type, 'error', JSON.stringify(r));
  return r as Extract<Reply, { type: 'error' }>;
}

test('the service runs jobs on the real worker: queued, progress, result with files and buttons; actions', async (t) => {
  const { service, store } = await startBotStack(t, {
    store: { users: { admins: ['discord:root'] } },
    service: { rateLimit: { max: 100, windowMs: 60_000 } },
  });

  const a = recordingSink();
  await service.handle({ command: 'digits', options: { digit: 7, count: 2, steps: 5, seed: 42 }, requester: alice }, a);
  assert.equal(a.replies[0]!.type, 'queued');
  assert.ok(
    a.replies.some((r) => r.type === 'progress' && r.step === 5 && r.total === 5),
    'last step reported',
  );
  const digits = result(a.last());
  assert.match(digits.caption, /seed 42/);
  assert.match(digits.caption, /digit 7/);
  assert.equal(digits.files[0]!.contentType, 'image/png');
  assert.deepEqual(
    digits.actions.map((x) => x.id.split(':')[0]),
    ['reroll', 'more', 'publish', 'delete'],
  );

  const again = recordingSink();
  await service.handle(
    { command: 'digits', options: { digit: '7', count: '2', steps: '5', seed: '42' }, requester: bob },
    again,
  );
  assert.ok(
    result(again.last()).files[0]!.data.equals(digits.files[0]!.data),
    'same seed, same bytes (text options coerced)',
  );

  const ana = recordingSink();
  await service.handle(
    { command: 'anagram', options: { prompt1: '6', prompt2: '9', view: 'flip', steps: 4, seed: 1 }, requester: alice },
    ana,
  );
  const anagram = result(ana.last());
  assert.deepEqual(
    anagram.files.map((f) => f.name.replace(/^job\d+-/, '')),
    ['image.png', 'views.png', 'animation.gif'],
  );
  assert.equal((await sharp(anagram.files[0]!.data).metadata()).width, 28 * 7, 'image-large.png: 28 px shown 7×');
  assert.deepEqual(anagram.params.views, ['flip']);

  const ed = recordingSink();
  await service.handle(
    {
      command: 'edit',
      options: { image: upload('one.png', await sketch(), 'image/png'), prompt: '1', i_start: 2, steps: 4 },
      requester: alice,
    },
    ed,
  );
  const edit = result(ed.last());
  assert.ok(edit.actions.some((x) => x.id.startsWith('vary:')));

  // Buttons: more steps keeps the seed and doubles the steps; reroll changes the seed.
  const more = recordingSink();
  await service.handleAction(`more:${digits.jobId}`, alice, more);
  const moreResult = result(more.last());
  assert.equal(moreResult.seed, 42);
  assert.equal(moreResult.params.steps, 10);
  const reroll = recordingSink();
  await service.handleAction(`reroll:${digits.jobId}`, alice, reroll);
  assert.notEqual(result(reroll.last()).seed, 42);
  const vary = recordingSink();
  await service.handleAction(`vary:${edit.jobId}`, alice, vary);
  assert.equal(result(vary.last()).command, 'edit');

  // Gallery: publish (owner only), list, vote, remove; delete is the owner's.
  const notOwner = recordingSink();
  await service.handleAction(`publish:${anagram.jobId}`, bob, notOwner);
  assert.match(error(notOwner.last()).message, /only the author/);
  const pub = recordingSink();
  await service.handleAction(`publish:${anagram.jobId}`, alice, pub);
  assert.match((pub.last() as { text: string }).text, /in the gallery as post #\d+/);
  const vote = recordingSink();
  await service.handleAction(`vote:${anagram.jobId}`, bob, vote);
  assert.match((vote.last() as { text: string }).text, /1 vote\)/);
  const list = recordingSink();
  await service.handle({ command: 'gallery', options: { filter: 'top' }, requester: bob }, list);
  const page = list.last();
  assert.equal(page.type, 'gallery');
  if (page.type === 'gallery') {
    assert.equal(page.entries.length, 1);
    assert.equal(page.entries[0]!.prompt, '6 / 9');
    assert.equal(page.entries[0]!.votes, 1);
    assert.ok(page.entries[0]!.file?.data.length);
    assert.ok(!page.entries[0]!.actions.some((x) => x.id.startsWith('unpublish')), "bob cannot remove alice's post");
  }
  const del = recordingSink();
  await service.handleAction(`delete:${anagram.jobId}`, bob, del);
  assert.equal(error(del.last()).code, 'not-allowed');
  const del2 = recordingSink();
  await service.handleAction(`delete:${anagram.jobId}`, alice, del2);
  assert.equal((del2.last() as { deleteResultOf?: number }).deleteResultOf, anagram.jobId);
  assert.equal(store.gallery.listRecent().length, 0, 'deleting removes the gallery post');

  // Reply commands.
  const info = recordingSink();
  await service.handle({ command: 'job', options: { id: digits.jobId }, requester: alice }, info);
  assert.equal(info.last().type, 'info');
  const help = recordingSink();
  await service.handle({ command: 'help', options: {}, requester: alice }, help);
  assert.ok(!(help.last() as { text: string }).text.includes('/train'), 'admin commands are not listed for others');
  const ck = recordingSink();
  await service.handle({ command: 'checkpoints', options: {}, requester: alice }, ck);
  assert.match((ck.last() as { text: string }).text, /mnist-class · mnist-class .*default/);
});

test('every user mistake gets a private error saying what was wrong and what is allowed', async (t) => {
  const { service } = await startBotStack(t, {
    runner: false,
    service: {
      limits: { maxPromptLength: 20, maxUploadBytes: 100_000, maxUploadPixels: 1_000_000 },
      blocklist: ['gore', '/n[a4]sty/'],
      rateLimit: { max: 3, windowMs: 60_000 },
    },
    queue: { maxQueued: 1 },
  });
  const ask = async (
    command: string,
    options: Record<string, unknown>,
    who: Requester = alice,
  ): Promise<Extract<Reply, { type: 'error' }>> => {
    const sink = recordingSink();
    await service.handle({ command, options: options as never, requester: who }, sink);
    assert.equal(sink.replies.length, 1, JSON.stringify(sink.replies));
    return error(sink.last());
  };
  const cases: Array<[string, Record<string, unknown>, string, RegExp, RegExp?]> = [
    ['paint', {}, 'unknown-command', /no command \/paint/, /imagine, denoise/],
    [
      'anagram',
      { prompt1: '6', prompt2: '9', view: 'spin' },
      'invalid-option',
      /view "spin" is not one of the choices/,
      /flip, rotate_cw/,
    ],
    ['edit', { prompt: '1' }, 'missing-option', /needs image: an image attachment/],
    [
      'edit',
      { image: upload('notes.txt', Buffer.from('hello'), 'text/plain') },
      'not-an-image',
      /text\/plain, not an image/,
      /PNG, JPEG/,
    ],
    [
      'edit',
      { image: upload('mystery', Buffer.from('definitely not pixels')) },
      'not-an-image',
      /not a readable image/,
    ],
    [
      'edit',
      { image: upload('huge.png', Buffer.alloc(200_000), 'image/png') },
      'too-large',
      /0\.2 MiB; the limit is 0\.1 MiB/,
    ],
    ['imagine', { prompt: '7 '.repeat(15) }, 'prompt-too-long', /29 characters long; the limit here is 20/],
    ['imagine', { prompt: 'some gore' }, 'blocked-prompt', /does not allow/],
    ['hybrid', { far: 'N4STY', near: '1' }, 'blocked-prompt', /far contains/],
    ['imagine', { prompt: 'a cat' }, 'invalid-option', /"a cat" is not a digit/, /0–9/],
    [
      'imagine',
      { prompt: '7', model: 'deepfloyd-if' },
      'model-not-installed',
      /deepfloyd-if is not installed/,
      /huggingface-cli download DeepFloyd\/IF-I-XL-v1\.0 --include .*deepfloyd check/,
    ],
    ['digits', { model: 'nope' }, 'model-not-installed', /no MNIST flow checkpoint "nope"/, /mnist-class/],
    ['train', { epochs: 1 }, 'not-allowed', /admins only/],
    ['digits', { digit: 12 }, 'invalid-option', /digit must be an integer from 0 to 9, got "12"/],
  ];
  for (const [command, options, code, message, allowed] of cases) {
    const e = await ask(command, options);
    assert.equal(e.code, code, `${command} ${JSON.stringify(options)}: ${e.message}`);
    assert.match(e.message, message);
    if (allowed) assert.match(e.allowed ?? '', allowed);
  }
  const bombed = await ask('edit', { image: upload('bomb.png', await bomb(), 'image/png') }, bob);
  assert.equal(bombed.code, 'too-large');
  assert.match(bombed.message, /30000×30000 = 900000000 pixels; the limit is 1000000/);

  // Rate limit (3 per minute) and queue length (1 waiting job; no runner here).
  const first = recordingSink();
  const pending = service.handle({ command: 'digits', options: { digit: 1, steps: 2 }, requester: bob }, first);
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(first.replies[0]?.type, 'queued');
  const full = await ask('digits', { digit: 2 }, { platform: 'slack', userId: 'carol' });
  assert.equal(full.code, 'queue-full');
  const carol: Requester = { platform: 'slack', userId: 'dave' };
  for (let i = 0; i < 3; i++) assert.equal((await ask('digits', { digit: 2 }, carol)).code, 'queue-full');
  const limited = await ask('digits', { digit: 2 }, carol);
  assert.equal(limited.code, 'rate-limited');
  assert.match(limited.allowed ?? '', /try again in \d+ s/);
  // Cancelling ends the waiting request with a `failed` reply.
  const cancel = recordingSink();
  await service.handle({ command: 'cancel', options: {}, requester: bob }, cancel);
  assert.match((cancel.last() as { text: string }).text, /is cancelled/);
  await pending;
  assert.deepEqual(first.last().type === 'failed' && first.last(), {
    type: 'failed',
    jobId: (first.replies[0] as { jobId: number }).jobId,
    outcome: 'cancelled',
    message: `job #${(first.replies[0] as { jobId: number }).jobId} was cancelled`,
  });
});

test('/train passes scheduler and ema to the trainer: the checkpoint keeps the weight average', async (t) => {
  const { service, store } = await startBotStack(t, { store: { users: { admins: ['discord:root'] } } });
  const sink = recordingSink();
  await service.handle(
    {
      command: 'train',
      options: { kind: 'time', epochs: 1, hidden: 4, batch: 16, images: 32, seed: 3, scheduler: 'false', ema: 0.9 },
      requester: admin,
    },
    sink,
  );
  const r = result(sink.last());
  const made = store.training.listCheckpoints('mnist-time').find((c) => c.name === `time-job${r.jobId}-e1`);
  assert.ok(made, 'checkpoint registered');
  const loaded = loadCheckpoint(made.path);
  assert.equal(loaded.settings?.scheduler, false);
  assert.equal(loaded.settings?.ema, 0.9);
  assert.ok(loaded.ema, 'the checkpoint holds the weight average');
  assert.notDeepEqual(loaded.servingWeights, loaded.weights);
  const bad = recordingSink();
  await service.handle({ command: 'train', options: { ema: 1 }, requester: admin }, bad);
  assert.match(error(bad.last()).message, /ema must be a number from 0 to 0\.99999, got "1"/);
});

test('a model that is not installed is refused before anything is queued', async (t) => {
  const { service } = await startBotStack(t, { runner: false, model: false });
  const sink = recordingSink();
  await service.handle({ command: 'digits', options: { digit: 3 }, requester: alice }, sink);
  const e = error(sink.last());
  assert.equal(e.code, 'model-not-installed');
  assert.match(e.message, /no MNIST flow model is installed/);
});

test("/train (admin) trains in the worker and registers each epoch's checkpoint for /digits", async (t) => {
  const { service, store } = await startBotStack(t, { store: { users: { admins: ['discord:root'] } } });
  const sink = recordingSink();
  await service.handle(
    {
      command: 'train',
      options: { kind: 'class', epochs: 1, hidden: 4, batch: 16, images: 32, seed: 3, make_default: true },
      requester: admin,
    },
    sink,
  );
  const r = result(sink.last());
  assert.deepEqual(
    r.files.map((f) => f.name.replace(/^job\d+-/, '')),
    ['samples.png', 'loss.png', 'run.json'],
  );
  const made = store.training.listCheckpoints('mnist-class').find((c) => c.name === `class-job${r.jobId}-e1`);
  assert.ok(made, 'checkpoint registered');
  assert.equal(store.training.getDefaultCheckpoint('mnist-class')?.id, made.id);
  const d = recordingSink();
  await service.handle(
    { command: 'digits', options: { digit: 4, count: 1, steps: 2, model: made.name }, requester: alice },
    d,
  );
  assert.equal(result(d.last()).model, made.name);
});

test('a refused request (rate limit, full queue, ban) decodes and stores nothing; a kept upload is shrunk, its box scaled', async (t) => {
  const { service, store, queue } = await startBotStack(t, {
    runner: false,
    service: { rateLimit: { max: 1, windowMs: 60_000 } },
    queue: { maxQueued: 1 },
  });
  const files = (): string[] => (existsSync(store.artifacts.dir) ? readdirSync(store.artifacts.dir) : []);
  const photo = upload(
    'photo.png',
    await sharp({ create: { width: 1024, height: 512, channels: 3, background: '#808080' } })
      .png()
      .toBuffer(),
    'image/png',
  );
  const ask = async (options: Record<string, unknown>, who: Requester): Promise<Reply> => {
    const sink = recordingSink();
    void service.handle({ command: 'inpaint', options: options as never, requester: who }, sink);
    for (let i = 0; i < 200 && sink.replies.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    return sink.replies[0]!;
  };

  // Carol's inpaint is queued: its upload is stored at the working size, the box in its pixels.
  const carol: Requester = { platform: 'slack', userId: 'carol' };
  const queued = await ask({ image: photo, box: '512,0,512,512', prompt: '1' }, carol);
  assert.equal(queued.type, 'queued', JSON.stringify(queued));
  const jobId = (queued as { jobId: number }).jobId;
  const params = store.jobs.get(jobId)!.params as {
    image: { width: number; height: number; sourceWidth: number };
    box: unknown;
  };
  assert.deepEqual([params.image.width, params.image.height, params.image.sourceWidth], [256, 128, 1024]);
  assert.deepEqual(params.box, { x: 128, y: 0, width: 128, height: 128 });
  const stored = files();
  assert.equal(stored.length, 1);

  const other = upload(
    'other.png',
    await sharp({ create: { width: 64, height: 64, channels: 3, background: '#ff0000' } })
      .png()
      .toBuffer(),
    'image/png',
  );
  const full = await ask({ image: other, box: '0,0,8,8' }, { platform: 'web', userId: 'dave' });
  assert.equal(error(full).code, 'queue-full');
  const limited = await ask({ image: other, box: '0,0,8,8' }, carol);
  assert.equal(error(limited).code, 'rate-limited');
  const mallory: Requester = { platform: 'discord', userId: 'mallory' };
  store.users.ensure(mallory);
  store.users.ban(mallory, { platform: 'discord', userId: 'root' }, 'spam');
  assert.equal(error(await ask({ image: other, box: '0,0,8,8' }, mallory)).code, 'banned');
  assert.deepEqual(files(), stored, 'refused requests left no file');

  await queue.cancel(jobId, carol);
});
