// The Discord front end against a fake Discord on loopback (REST + gateway) and the real service,
// queue and worker on a tiny trained checkpoint: slash commands, errors, buttons, votes, late results.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { startDiscord } from '../../src/bot/discord.js';
import { deployDiscordCommands } from '../../src/bot/deploy-discord.js';
import { startBotStack } from '../helpers/bot-stack.js';
import { startFakeDiscord, type FakeDiscord, type RestCall } from '../helpers/fake-discord.js';

const TOKEN = 'fake-bot-token.not-a-secret';
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47]);

async function setUp(t: TestContext, options: { tokenLifetimeMs?: number } = {}) {
  const stack = await startBotStack(t, { service: { rateLimit: { max: 100, windowMs: 60_000 } } });
  const fake = await startFakeDiscord();
  const logs: string[] = [];
  const discord = await startDiscord({
    service: stack.service,
    token: TOKEN,
    restApi: fake.restApi,
    progressIntervalMs: 50,
    log: (m) => logs.push(m),
    ...options,
  });
  t.after(async () => {
    await discord.stop();
    await fake.close();
  });
  return { ...stack, fake, logs };
}

const byToken = (token: string) => (c: RestCall) => c.path.includes(`/${token}`);
const edits = (fake: FakeDiscord, token: string) => fake.calls.filter((c) => byToken(token)(c) && c.method === 'PATCH');
const content = (c: RestCall) => String(c.body.content ?? '');

test('deploy registers every definition with options, choices and ranges (guild scope)', async (t) => {
  const fake = await startFakeDiscord();
  t.after(() => fake.close());
  const { count, scope } = await deployDiscordCommands({
    token: TOKEN,
    appId: fake.appId,
    guildId: fake.guildId,
    restApi: fake.restApi,
  });
  assert.equal(scope, `guild ${fake.guildId}`);
  const put = await fake.waitFor((c) => c.method === 'PUT');
  assert.equal(put.path, `/applications/${fake.appId}/guilds/${fake.guildId}/commands`);
  const body = put.body as unknown as {
    name: string;
    options: { name: string; type: number; min_value?: number; max_value?: number; choices?: unknown[] }[];
    default_member_permissions?: string;
  }[];
  assert.equal(count, body.length);
  const digits = body.find((c) => c.name === 'digits')!;
  assert.deepEqual(
    digits.options.find((o) => o.name === 'digit'),
    { ...digits.options[0], name: 'digit', required: false, type: 4, min_value: 0, max_value: 9 },
  );
  assert.equal(body.find((c) => c.name === 'edit')!.options[0]!.type, 11, 'image is an attachment option');
  assert.ok(body.find((c) => c.name === 'anagram')!.options.find((o) => o.name === 'view')!.choices!.length > 3);
  assert.equal(
    body.find((c) => c.name === 'train')!.default_member_permissions,
    '8',
    'admin commands hidden from members',
  );
});

test('a slash command is deferred, edited with queue and progress, and ends with a PNG and buttons; buttons and reactions work', async (t) => {
  const { fake, store } = await setUp(t);
  assert.equal(fake.identifiedWith(), TOKEN);

  const token = fake.slashCommand('digits', [
    { name: 'digit', type: 4, value: 7 },
    { name: 'count', type: 4, value: 2 },
    { name: 'steps', type: 4, value: 10 },
    { name: 'seed', type: 4, value: 42 },
  ]);
  const final = await fake.waitFor(
    (c) =>
      byToken(token)(c) &&
      c.method === 'PATCH' &&
      c.files.some((f) => f.name.endsWith('.png') && !f.name.includes('preview')),
  );
  const callback = fake.calls.find((c) => byToken(token)(c) && c.path.endsWith('/callback'))!;
  assert.equal(callback.body.type, 5, 'deferred channel message');
  assert.equal(((callback.body.data as { flags?: number } | undefined)?.flags ?? 0) & 64, 0, 'public: not ephemeral');
  assert.ok(
    callback.at <= fake.calls.find((c) => byToken(token)(c) && c.method === 'PATCH')!.at,
    'deferred before the first edit',
  );
  const all = edits(fake, token);
  assert.match(content(all[0]!), /Queued as job #\d+/);
  assert.ok(
    all.some((c) => /🎨 job #\d+ .* 10\/10/.test(content(c))),
    `progress edits reach the last step: ${all.map(content).join(' | ')}`,
  );
  assert.ok(
    all.some((c) => c.files.some((f) => f.name.includes('preview'))),
    'progress carries a preview',
  );
  assert.match(content(final), /seed 42/);
  const png = final.files.find((f) => f.name.endsWith('.png'))!;
  assert.ok(png.data.subarray(0, 4).equals(PNG_MAGIC));
  assert.ok((await sharp(png.data).metadata()).width! > 0);
  const buttons = ((final.body.components as { components: { custom_id: string }[] }[]) ?? []).flatMap((r) =>
    r.components.map((b) => b.custom_id),
  );
  const jobId = Number(/job #(\d+)/.exec(content(final))![1]);
  assert.deepEqual(buttons, [`reroll:${jobId}`, `more:${jobId}`, `publish:${jobId}`, `delete:${jobId}`]);

  // The publish button: an ephemeral defer and a private confirmation.
  const press = fake.buttonPress(`publish:${jobId}`, (final.response as { id: string }).id);
  const confirm = await fake.waitFor((c) => byToken(press)(c) && c.method === 'PATCH');
  const pressCallback = fake.calls.find((c) => byToken(press)(c) && c.path.endsWith('/callback'))!;
  assert.equal((pressCallback.body.data as { flags: number }).flags & 64, 64, 'ephemeral defer');
  assert.match(content(confirm), /in the gallery as post #\d+/);

  // A ⭐ on the result message is a gallery vote; taking it back takes the vote back.
  const reaction = {
    user_id: fake.userId,
    channel_id: fake.channelId,
    message_id: (final.response as { id: string }).id,
    guild_id: fake.guildId,
    emoji: { id: null, name: '⭐' },
  };
  fake.dispatch('MESSAGE_REACTION_ADD', reaction);
  await until(() => store.gallery.getByJob(jobId)?.votes === 1);
  fake.dispatch('MESSAGE_REACTION_REMOVE', reaction);
  await until(() => store.gallery.getByJob(jobId)?.votes === 0);

  // Reroll: a public defer and a new job with a new seed.
  const reroll = fake.buttonPress(`reroll:${jobId}`, (final.response as { id: string }).id);
  const rerolled = await fake.waitFor(
    (c) =>
      byToken(reroll)(c) &&
      c.method === 'PATCH' &&
      c.files.some((f) => /job\d+-.*\.png$/.test(f.name) && !f.name.includes('preview')),
  );
  assert.doesNotMatch(content(rerolled), /seed 42 /);
});

test('mistakes are private: the public "thinking…" is removed and an ephemeral follow-up explains', async (t) => {
  const { fake } = await setUp(t);
  const token = fake.slashCommand('anagram', [
    { name: 'prompt1', type: 3, value: '6' },
    { name: 'prompt2', type: 3, value: '9' },
    { name: 'view', type: 3, value: 'spin' },
  ]);
  const followUp = await fake.waitFor((c) => byToken(token)(c) && c.method === 'POST' && !c.path.endsWith('/callback'));
  assert.ok(
    fake.calls.some((c) => byToken(token)(c) && c.method === 'DELETE' && c.path.endsWith('/messages/@original')),
    'deferred reply deleted',
  );
  assert.equal(Number(followUp.body.flags) & 64, 64, 'ephemeral');
  assert.match(content(followUp), /view "spin" is not one of the choices/);
  assert.match(content(followUp), /Allowed: .*flip/);

  // An upload that is not an image, fetched from its URL like a real attachment.
  const url = fake.serveFile('notes.png', Buffer.from('not really a picture'));
  const attachmentId = '123456789';
  const edit = fake.slashCommand('edit', [{ name: 'image', type: 11, value: attachmentId }], {
    attachments: {
      [attachmentId]: {
        id: attachmentId,
        filename: 'notes.png',
        size: 20,
        url,
        proxy_url: url,
        content_type: 'image/png',
      },
    },
  });
  const refusal = await fake.waitFor((c) => byToken(edit)(c) && c.method === 'POST' && !c.path.endsWith('/callback'));
  assert.match(content(refusal), /notes\.png.*not a readable image/);
});

test('a job that outlives its interaction token posts its result to the channel, mentioning the requester', async (t) => {
  const { fake, logs } = await setUp(t);
  // Discord refuses the token from the first edit on, as after 15 minutes.
  const token = fake.slashCommand('digits', [
    { name: 'digit', type: 4, value: 3 },
    { name: 'count', type: 4, value: 1 },
    { name: 'steps', type: 4, value: 3 },
  ]);
  fake.expireToken(token);
  const sent = await fake.waitFor((c) => c.method === 'POST' && c.path === `/channels/${fake.channelId}/messages`);
  assert.match(content(sent), new RegExp(`^<@${fake.userId}> /digits`));
  assert.deepEqual((sent.body.allowed_mentions as { users: string[] }).users, [fake.userId]);
  assert.ok(sent.files.some((f) => f.data.subarray(0, 4).equals(PNG_MAGIC)));
  assert.ok(!logs.some((l) => l.includes(token) || l.includes(TOKEN)), 'no token in the logs');
});

async function until(check: () => boolean, timeoutMs = 10_000): Promise<void> {
  const start = Date.now();
  while (!check()) {
    if (Date.now() - start > timeoutMs) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
