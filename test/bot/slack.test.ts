// The Slack front end over HTTP on loopback: signed slash commands, buttons and mentions go to the
// Bolt app; its Web API calls go to a fake Slack; the real service and worker make the pictures.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import sharp from 'sharp';
import { startSlack } from '../../src/bot/slack.js';
import { startBotStack } from '../helpers/bot-stack.js';
import { signSlackRequest, startFakeSlack, type FakeSlack, type SlackCall } from '../helpers/fake-slack.js';

const BOT_TOKEN = 'xoxb-fake-not-a-secret';
const SECRET = 'fake-signing-secret';
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47]);

async function setUp(t: TestContext) {
  const stack = await startBotStack(t, { service: { rateLimit: { max: 100, windowMs: 60_000 } } });
  const fake = await startFakeSlack({ botToken: BOT_TOKEN });
  const logs: string[] = [];
  const slack = await startSlack({
    service: stack.service,
    botToken: BOT_TOKEN,
    signingSecret: SECRET,
    port: 0,
    host: '127.0.0.1',
    slackApiUrl: fake.apiUrl,
    progressIntervalMs: 50,
    log: (m) => logs.push(m),
  });
  t.after(async () => {
    await slack.stop();
    await fake.close();
  });
  const endpoint = `http://127.0.0.1:${slack.port}/slack/events`;
  /** POSTs a body as Slack would, signed with `secret`. */
  const post = (body: string, contentType: string, secret = SECRET) =>
    fetch(endpoint, {
      method: 'POST',
      headers: { 'content-type': contentType, ...signSlackRequest(secret, body) },
      body,
    });
  const slash = (command: string, text: string, id: string, secret = SECRET) =>
    post(
      new URLSearchParams({
        token: 'x',
        team_id: 'T1',
        team_domain: 'fake',
        channel_id: 'C1',
        channel_name: 'general',
        user_id: 'U1',
        user_name: 'alice',
        command,
        text,
        api_app_id: 'A1',
        response_url: fake.responseUrl(id),
        trigger_id: 't1',
      }).toString(),
      'application/x-www-form-urlencoded',
      secret,
    );
  return { ...stack, fake, logs, post, slash, port: slack.port! };
}

const buttonIds = (call: SlackCall) =>
  ((call.args.blocks as { type: string; elements?: { action_id: string }[] }[]) ?? []).flatMap((b) =>
    b.type === 'actions' ? b.elements!.map((e) => e.action_id) : [],
  );
const uploads = (fake: FakeSlack) => fake.calls.filter((c) => c.method === 'upload');

test('a signed /anagram with quoted prompts is acked, queued, updated and uploaded with files.uploadV2 and buttons', async (t) => {
  const { fake, slash, post, store } = await setUp(t);
  const response = await slash('/anagram', '"6" "9" view:flip steps:4 seed:1', 'r1');
  assert.equal(response.status, 200, 'acked at once');

  const complete = await fake.waitFor((c) => c.method === 'files.completeUploadExternal');
  const queued = fake.calls.find((c) => c.method === 'chat.postMessage')!;
  assert.equal(queued.args.channel, 'C1');
  assert.match(String(queued.args.text), /Queued as job #\d+/);
  assert.ok(
    fake.calls.some((c) => c.method === 'chat.update' && /job #\d+ .* 4\/4/.test(String(c.args.text))),
    'progress via chat.update',
  );
  assert.equal(complete.args.channel_id, 'C1');
  const names = (complete.args.files as { title: string }[]).map((f) => f.title.replace(/^job\d+-/, ''));
  assert.deepEqual(names, ['image.png', 'views.png', 'animation.gif']);
  const bodies = uploads(fake).map((u) => u.raw);
  assert.ok(
    bodies.some((b) => b.indexOf(PNG_MAGIC) >= 0),
    'PNG bytes uploaded',
  );
  assert.ok(
    bodies.some((b) => b.indexOf(Buffer.from('GIF89a')) >= 0),
    'GIF bytes uploaded',
  );
  const jobId = Number(/job #(\d+)/.exec(String(queued.args.text))![1]);
  assert.deepEqual(buttonIds(complete), [`reroll:${jobId}`, `more:${jobId}`, `publish:${jobId}`, `delete:${jobId}`]);
  const statusTs = fake.calls.find((c) => c.method === 'chat.update')!.args.ts;
  const removed = await fake.waitFor((c) => c.method === 'chat.delete');
  assert.equal(removed.args.ts, statusTs, 'the status message gives way to the upload');
  assert.deepEqual(store.jobs.get(jobId)!.params && (store.jobs.get(jobId)!.params as { prompts: string[] }).prompts, [
    '6',
    '9',
  ]);

  // The publish button: Block Kit action → handleAction → an ephemeral answer on the response_url.
  const payload = {
    type: 'block_actions',
    user: { id: 'U1', username: 'alice', name: 'alice', team_id: 'T1' },
    api_app_id: 'A1',
    token: 'x',
    trigger_id: 't2',
    team: { id: 'T1', domain: 'fake' },
    channel: { id: 'C1', name: 'general' },
    container: { type: 'message', message_ts: '1.1', channel_id: 'C1', is_ephemeral: false },
    message: { type: 'message', ts: '1.1', text: 'a result' },
    response_url: fake.responseUrl('b1'),
    actions: [
      {
        type: 'button',
        action_id: `publish:${jobId}`,
        block_id: 'b',
        value: `publish:${jobId}`,
        text: { type: 'plain_text', text: 'Publish' },
        action_ts: '1.2',
      },
    ],
  };
  const pressed = await post(
    new URLSearchParams({ payload: JSON.stringify(payload) }).toString(),
    'application/x-www-form-urlencoded',
  );
  assert.equal(pressed.status, 200);
  const confirm = await fake.waitFor((c) => c.method === 'respond' && /in the gallery/.test(String(c.args.text)));
  assert.equal(confirm.args.response_type, 'ephemeral');
  assert.ok(store.gallery.getByJob(jobId));
});

test('a wrong signature is refused with 401 and runs nothing; mistakes are answered ephemerally', async (t) => {
  const { fake, slash } = await setUp(t);
  const forged = await slash('/digits', '7', 'r0', 'not-the-secret');
  assert.equal(forged.status, 401);

  const bad = await slash('/anagram', '6 9 view:spin', 'r2');
  assert.equal(bad.status, 200);
  const error = await fake.waitFor((c) => c.method === 'respond');
  assert.equal(error.args.response_type, 'ephemeral');
  assert.match(String(error.args.text), /view "spin" is not one of the choices[\s\S]*Allowed: .*flip/);

  const unclosed = await slash('/illusionist', 'anagram "6 9', 'r3');
  assert.equal(unclosed.status, 200);
  const parseError = await fake.waitFor((c) => c.method === 'respond' && /never closed/.test(String(c.args.text)));
  assert.equal(parseError.args.response_type, 'ephemeral');
  assert.ok(!fake.calls.some((c) => c.method === 'chat.postMessage'), 'nothing was queued');
});

test('a mention with a sketch runs the command on the file (downloaded with the bot token), in the thread', async (t) => {
  const { fake, post } = await setUp(t);
  const svg =
    '<svg xmlns="http://www.w3.org/2000/svg" width="56" height="56"><rect width="56" height="56" fill="black"/><rect x="24" y="8" width="8" height="40" fill="white"/></svg>';
  const sketch = await sharp(Buffer.from(svg)).png().toBuffer();
  const url = fake.serveFile('sketch.png', sketch);
  const event = {
    token: 'x',
    team_id: 'T1',
    api_app_id: 'A1',
    type: 'event_callback',
    event_id: 'Ev1',
    event_time: Math.floor(Date.now() / 1000),
    authorizations: [{ team_id: 'T1', user_id: fake.botUserId, is_bot: true }],
    event: {
      type: 'app_mention',
      user: 'U1',
      channel: 'C1',
      ts: '1700000000.000200',
      event_ts: '1700000000.000200',
      text: `<@${fake.botUserId}> edit prompt:1 i_start:2 steps:4`,
      files: [
        {
          id: 'F9',
          name: 'sketch.png',
          mimetype: 'image/png',
          size: sketch.length,
          original_w: 56,
          original_h: 56,
          url_private_download: url,
        },
      ],
    },
  };
  const response = await post(JSON.stringify(event), 'application/json');
  assert.equal(response.status, 200);
  const complete = await fake.waitFor((c) => c.method === 'files.completeUploadExternal');
  assert.equal(complete.args.thread_ts, '1700000000.000200', 'the result is in the thread of the mention');
  const download = fake.calls.find((c) => c.method === 'download')!;
  assert.equal(download.headers.authorization, `Bearer ${BOT_TOKEN}`);
  assert.ok(buttonIds(complete).some((id) => id.startsWith('vary:')));
});

/** POSTs `size` bytes of form data to the bot's endpoint with node:http, declared or chunked, and reads the answer. */
function rawPost(port: number, size: number, chunked: boolean): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string | number> = {
      'content-type': 'application/x-www-form-urlencoded',
      ...signSlackRequest(SECRET, 'x'),
    };
    if (!chunked) headers['content-length'] = size;
    const req = request({ host: '127.0.0.1', port, path: '/slack/events', method: 'POST', headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    // The server may close the connection while the body is still being sent.
    req.on('error', (error: NodeJS.ErrnoException) =>
      error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error),
    );
    const chunk = Buffer.alloc(64 * 1024, 'a');
    let sent = 0;
    const pump = (): void => {
      while (sent < size) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

test('HTTP mode refuses a request body over 1 MiB with 413 before reading it all or checking its signature', async (t) => {
  const { slash, fake, port } = await setUp(t);
  // A declared 20 MB body: refused by its Content-Length.
  const declared = await rawPost(port, 20 * 1024 * 1024, false);
  assert.equal(declared.status, 413);
  assert.match(declared.body, /over 1048576 bytes/);
  // A chunked body without a length: refused once it passes the limit.
  const chunked = await rawPost(port, 3 * 1024 * 1024, true);
  assert.equal(chunked.status, 413);
  // Requests of ordinary size still go through.
  assert.equal((await slash('/help', '', 'r9')).status, 200);
  await fake.waitFor((c) => c.method === 'respond');
});

test('a bot token that auth.test refuses fails startSlack with the reason', async (t) => {
  const stack = await startBotStack(t, { runner: false, model: false });
  const fake = await startFakeSlack({ botToken: BOT_TOKEN });
  t.after(() => fake.close());
  await assert.rejects(
    startSlack({
      service: stack.service,
      botToken: 'xoxb-revoked',
      signingSecret: SECRET,
      port: 0,
      host: '127.0.0.1',
      slackApiUrl: fake.apiUrl,
      log: () => {},
    }),
    /^Error: Slack refused SLACK_BOT_TOKEN \(auth\.test: not_authed\)$/,
  );
});
