// The web console over real HTTP on loopback: a /digits run followed over SSE to its result, the
// file served, publish to the gallery and list it; the console's guards (Host, header, sign-in);
// accounts (identities only from the server, nothing of one user shown to another); HTTP errors
// and body limits; the answer holding the job id; history, delete, and uploads that stay small.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import sharp from 'sharp';
import { createWebApp, startWebConsole, type WebAccount } from '../../../src/bot/web/server.js';
import { startBotStack } from '../../helpers/bot-stack.js';

interface Wire {
  type: string;
  [k: string]: unknown;
}
interface RunAnswer {
  runId: string;
  jobId?: number;
  reply: Wire;
  error?: string;
}

const H = { 'X-Illusionist': '1' };
const ALICE: WebAccount = { name: 'alice', token: 'alice-token-0123456789' };
const BOB: WebAccount = { name: 'bob', token: 'bob-token-9876543210ab' };

/** Reads an SSE stream to its `end` event and returns the replies. */
async function readEvents(url: string, headers: Record<string, string> = {}): Promise<Wire[]> {
  const res = await fetch(url, { headers });
  assert.equal(res.headers.get('content-type')?.split(';')[0], 'text/event-stream');
  const decoder = new TextDecoder();
  let text = '';
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    text += decoder.decode(chunk, { stream: true });
    if (text.includes('event: end')) break;
  }
  return text
    .split('\n\n')
    .filter((block) => block.includes('event: reply'))
    .map(
      (block) =>
        JSON.parse(
          block
            .split('\n')
            .find((l) => l.startsWith('data: '))!
            .slice(6),
        ) as Wire,
    );
}

function form(fields: Record<string, string | Blob>): FormData {
  const f = new FormData();
  for (const [k, v] of Object.entries(fields)) f.set(k, v);
  return f;
}

test('run /digits over HTTP: the answer holds the committed job, SSE progress and result, file, publish, gallery', async (t) => {
  const { service, store } = await startBotStack(t);
  const web = await startWebConsole({ service, store, host: '127.0.0.1', port: 0 });
  t.after(() => web.close());

  const page = await fetch(`${web.url}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  assert.equal(page.headers.get('x-content-type-options'), 'nosniff');
  const html = await page.text();
  assert.match(html, /<select id="command">/);
  const defs = (await (await fetch(`${web.url}/api/commands`)).json()) as {
    commands: Array<{ name: string; options: Array<{ name: string; maxLength?: number }> }>;
    me: { name: string; admin: boolean };
  };
  assert.ok(defs.commands.some((d) => d.name === 'anagram'));
  assert.deepEqual(defs.me, { name: 'operator', admin: false }, 'the local user (admin only through startBot)');
  // The form is built from these: its limits are the service's, not the definitions' ceiling.
  assert.equal(
    defs.commands.find((d) => d.name === 'imagine')!.options.find((o) => o.name === 'prompt')!.maxLength,
    200,
  );

  const run = await fetch(`${web.url}/api/run/digits`, {
    method: 'POST',
    body: form({ digit: '7', count: '2', steps: '6', seed: '5', model: '' }),
    headers: H,
  });
  assert.equal(run.status, 200);
  const answer = (await run.json()) as RunAnswer;
  assert.equal(answer.reply.type, 'queued');
  assert.ok(answer.jobId && store.jobs.get(answer.jobId), 'the job row exists when the client gets its id');
  const replies = await readEvents(`${web.url}/api/runs/${answer.runId}/events`);
  assert.equal(replies[0]!.type, 'queued');
  assert.ok(
    replies.some((r) => r.type === 'progress'),
    'progress over SSE',
  );
  const result = replies.at(-1)!;
  assert.equal(result.type, 'result', JSON.stringify(result));
  assert.equal(result.jobId, answer.jobId);
  const files = result.files as Array<{ url: string; contentType: string }>;
  const image = await fetch(`${web.url}${files[0]!.url}`);
  assert.equal(image.headers.get('content-type'), 'image/png');
  assert.deepEqual([...new Uint8Array(await image.arrayBuffer()).subarray(1, 4)], [0x50, 0x4e, 0x47]);

  const pub = await fetch(`${web.url}/api/action`, {
    method: 'POST',
    body: JSON.stringify({ actionId: `publish:${result.jobId}` }),
    headers: { ...H, 'content-type': 'application/json' },
  });
  assert.match(String(((await pub.json()) as RunAnswer).reply.text), /in the gallery as post/);
  const gallery = (await (await fetch(`${web.url}/api/gallery?filter=recent`)).json()) as {
    type: string;
    entries: Array<Record<string, unknown> & { prompt: string; seed: number; file: { url: string } }>;
  };
  assert.equal(gallery.type, 'gallery');
  assert.equal(gallery.entries.length, 1);
  assert.equal(gallery.entries[0]!.prompt, 'digit 7');
  assert.equal(gallery.entries[0]!.seed, 5);
  assert.equal(gallery.entries[0]!.authorName, 'operator');
  assert.equal(gallery.entries[0]!.author, undefined, 'no platform ids on the wire');
  assert.match(gallery.entries[0]!.file.url, /^\/api\/files\/[0-9a-f]{64}$/);

  // A user mistake is the answer itself: a 4xx with the error reply.
  const bad = await fetch(`${web.url}/api/run/anagram`, {
    method: 'POST',
    body: form({ prompt1: '6', prompt2: '9', view: 'sideways' }),
    headers: H,
  });
  assert.equal(bad.status, 400);
  const err = ((await bad.json()) as RunAnswer).reply;
  assert.equal(err.type, 'error');
  assert.match(String(err.allowed), /flip/);
});

test('guards: Host must be local, POSTs need X-Illusionist, an exposed console needs accounts and a session', async (t) => {
  const { service, store } = await startBotStack(t, { runner: false, model: false });
  const local = createWebApp({ service, store, host: '127.0.0.1', port: 8080 });
  assert.equal(
    (await local.request('http://evil.example/', { headers: { host: 'evil.example' } })).status,
    403,
    'DNS rebinding',
  );
  assert.equal(
    (await local.request('http://127.0.0.1/api/run/help', { method: 'POST', headers: { host: '127.0.0.1' } })).status,
    403,
    'cross-site POST',
  );

  assert.throws(
    () => createWebApp({ service, store, host: '0.0.0.0', port: 8080 }),
    /needs accounts \(WEB_USERS or ACCESS_TOKEN\)/,
  );
  const exposed = createWebApp({
    service,
    store,
    host: '0.0.0.0',
    port: 8080,
    accounts: [ALICE, BOB],
    sessionSecret: 'test-secret',
  });
  const none = await exposed.request('http://bot.example/');
  assert.equal(none.status, 401);
  assert.match(await none.text(), /you are not signed in; sign in: open this console once with your link, \/\?token=/);
  assert.equal(
    (await exposed.request('http://bot.example/', { headers: { authorization: 'Bearer wrong' } })).status,
    401,
  );
  const ok = await exposed.request('http://bot.example/', { headers: { authorization: `Bearer ${ALICE.token}` } });
  assert.equal(ok.status, 200);
  assert.ok(!(await ok.text()).includes(ALICE.token), 'no secrets in pages');
  assert.match(
    await (await exposed.request('http://bot.example/?token=nope')).text(),
    /token is not one this console knows/,
  );
  const first = await exposed.request(`http://bot.example/?token=${ALICE.token}`);
  assert.equal(first.status, 302);
  assert.equal(first.headers.get('location'), '/');
  const cookie = first.headers.get('set-cookie') ?? '';
  assert.match(cookie, /^illusionist_session=[^;]+; Max-Age=2592000; Path=\/; HttpOnly; SameSite=Strict/);
  assert.ok(!cookie.includes(ALICE.token), 'the session holds no token');
  const session = cookie.split(';')[0]!;
  const me = await exposed.request('http://bot.example/api/commands', { headers: { cookie: session } });
  assert.deepEqual(((await me.json()) as { me: unknown }).me, { name: 'alice', admin: false });
  // The identity cannot be chosen by the client: an edited session (alice → bob) or an unsigned one is refused.
  const value = decodeURIComponent(session.slice('illusionist_session='.length));
  const forged = `illusionist_session=${encodeURIComponent(value.replace(/^alice:/, 'bob:'))}`;
  assert.equal((await exposed.request('http://bot.example/api/commands', { headers: { cookie: forged } })).status, 401);
  assert.equal(
    (await exposed.request('http://bot.example/api/commands', { headers: { cookie: 'illusionist_session=bob' } }))
      .status,
    401,
  );
  assert.equal(
    (
      await exposed.request('http://bot.example/api/commands', {
        headers: { cookie: 'illusionist_uid=00000000-0000-0000-0000-000000000000' },
      })
    ).status,
    401,
  );
  // Another server secret, or a changed token, ends the session.
  const otherSecret = createWebApp({
    service,
    store,
    host: '0.0.0.0',
    port: 8080,
    accounts: [ALICE],
    sessionSecret: 'other',
  });
  assert.match(
    await (await otherSecret.request('http://bot.example/api/commands', { headers: { cookie: session } })).text(),
    /session is not valid any more/,
  );
  const rotated = createWebApp({
    service,
    store,
    host: '0.0.0.0',
    port: 8080,
    accounts: [{ name: 'alice', token: 'alice-new-token-000000' }],
    sessionSecret: 'test-secret',
  });
  assert.equal(
    (await rotated.request('http://bot.example/api/commands', { headers: { cookie: session } })).status,
    401,
  );
});

test('bearer tokens go through Hono\'s bearerAuth: a challenge on refusal, the sign-in help, 400 for a header that is not "Bearer <token>"', async (t) => {
  const { service, store } = await startBotStack(t, { runner: false, model: false });
  const exposed = createWebApp({ service, store, host: '0.0.0.0', port: 8080, accounts: [ALICE], sessionSecret: 's' });
  const wrong = await exposed.request('http://bot.example/api/commands', {
    headers: { authorization: 'Bearer wrong-token' },
  });
  assert.equal(wrong.status, 401);
  assert.equal(wrong.headers.get('www-authenticate'), 'Bearer error="invalid_token"');
  assert.match(await wrong.text(), /^that bearer token is not one this console knows; sign in: /);
  const basic = await exposed.request('http://bot.example/api/commands', {
    headers: { authorization: 'Basic YWxpY2U6eA==' },
  });
  assert.equal(basic.status, 400);
  assert.match(await basic.text(), /the Authorization header is not "Bearer <token>"/);
  const me = await exposed.request('http://bot.example/api/commands', {
    headers: { authorization: `bearer ${ALICE.token}` },
  });
  assert.deepEqual(
    ((await me.json()) as { me: unknown }).me,
    { name: 'alice', admin: false },
    'the scheme in any case',
  );
});

test("accounts: each person is their own; jobs, runs, uploads and limits of one are not another's", async (t) => {
  const { service, store, dir } = await startBotStack(t, {
    store: { users: { admins: ['web:root'] } },
    service: { rateLimit: { max: 3, windowMs: 60_000 } },
  });
  const ROOT: WebAccount = { name: 'root', token: 'root-token-00000000000' };
  const web = await startWebConsole({
    service,
    store,
    host: '127.0.0.1',
    port: 0,
    accounts: [ALICE, BOB, ROOT],
    sessionSecret: 's',
  });
  t.after(() => web.close());
  const as = (a: WebAccount): Record<string, string> => ({ ...H, authorization: `Bearer ${a.token}` });
  const post = async (
    who: WebAccount,
    path: string,
    body: FormData | object,
  ): Promise<{ status: number; body: RunAnswer }> => {
    const res = await fetch(
      `${web.url}${path}`,
      body instanceof FormData
        ? { method: 'POST', body, headers: as(who) }
        : { method: 'POST', body: JSON.stringify(body), headers: { ...as(who), 'content-type': 'application/json' } },
    );
    return { status: res.status, body: (await res.json()) as RunAnswer };
  };

  const png = await sharp({ create: { width: 40, height: 40, channels: 3, background: '#000' } })
    .composite([
      {
        input: Buffer.from(
          '<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><rect x="17" y="5" width="6" height="30" fill="white"/></svg>',
        ),
      },
    ])
    .png()
    .toBuffer();
  const edit = await post(
    ALICE,
    '/api/run/edit',
    form({ image: new Blob([png], { type: 'image/png' }), prompt: '1', i_start: '2', steps: '4', seed: '3' }),
  );
  assert.equal(edit.body.reply.type, 'queued', JSON.stringify(edit.body));
  const aliceJob = edit.body.jobId!;
  assert.equal(store.jobs.get(aliceJob)!.userId, 'alice');

  // Bob cannot follow alice's run, see her upload, her unpublished result, or act on her job.
  const sse = await fetch(`${web.url}/api/runs/${edit.body.runId}/events`, { headers: as(BOB) });
  assert.equal(sse.status, 404);
  const replies = await readEvents(`${web.url}/api/runs/${edit.body.runId}/events`, as(ALICE));
  const result = replies.at(-1)!;
  assert.equal(result.type, 'result', JSON.stringify(result));
  const output = (result.files as Array<{ url: string }>)[0]!.url;
  const upload = (store.jobs.get(aliceJob)!.params as { image: { sha256: string } }).image.sha256;
  assert.equal((await fetch(`${web.url}${output}`, { headers: as(ALICE) })).status, 200);
  assert.equal(
    (await fetch(`${web.url}${output}`, { headers: as(BOB) })).status,
    404,
    "an unpublished result is its author's",
  );
  assert.equal(
    (await fetch(`${web.url}/api/files/${upload}`, { headers: as(BOB) })).status,
    404,
    'uploads are not served to others',
  );
  assert.equal(
    (await fetch(`${web.url}/api/files/${upload}`, { headers: as(ROOT) })).status,
    200,
    'admins may see anything',
  );
  const del = await post(BOB, '/api/action', { actionId: `delete:${aliceJob}` });
  assert.equal(del.status, 403);
  assert.match(String(del.body.reply.message), /only the author/);
  assert.equal((await post(BOB, '/api/action', { actionId: `publish:${aliceJob}` })).status, 403);
  const cancel = await post(BOB, '/api/run/cancel', { id: aliceJob });
  assert.notEqual(cancel.body.reply.type, 'info', JSON.stringify(cancel.body));

  // /job shows the author's name, never an id, an upload's hash or a server path.
  const job = await post(BOB, '/api/run/job', { id: aliceJob });
  const info = job.body.reply as Wire & { text: string; fields: Array<{ name: string; value: string }> };
  assert.equal(info.fields.find((f) => f.name === 'by')!.value, 'alice');
  const shown = JSON.stringify(info);
  assert.ok(!shown.includes(upload) && !shown.includes(dir) && !shown.includes('web:alice'), shown);
  assert.match(info.text, /image: an upload \(40×40\)/);
  assert.ok(!info.text.startsWith('{'), 'fields, not raw JSON');

  // Published, it is everyone's to see; the gallery names alice by name only.
  assert.equal((await post(ALICE, '/api/action', { actionId: `publish:${aliceJob}` })).status, 200);
  assert.equal((await fetch(`${web.url}${output}`, { headers: as(BOB) })).status, 200);
  const gallery = (await (await fetch(`${web.url}/api/gallery?filter=recent`, { headers: as(BOB) })).json()) as {
    entries: Array<Record<string, unknown>>;
  };
  assert.equal(gallery.entries[0]!.authorName, 'alice');
  assert.ok(!JSON.stringify(gallery).includes('web:alice'));

  // Votes and rate limits key on the account: bob's second vote is not counted, whatever he sends.
  assert.match(
    String((await post(BOB, '/api/action', { actionId: `vote:${aliceJob}` })).body.reply.text),
    /\(1 vote\)/,
  );
  assert.match(
    String((await post(BOB, '/api/action', { actionId: `vote:${aliceJob}` })).body.reply.text),
    /already voted.*\(1 vote\)/,
  );
  const anonymous = await fetch(`${web.url}/api/action`, {
    method: 'POST',
    body: JSON.stringify({ actionId: `vote:${aliceJob}` }),
    headers: {
      ...H,
      'content-type': 'application/json',
      cookie: 'illusionist_uid=11111111-1111-1111-1111-111111111111',
    },
  });
  assert.equal(anonymous.status, 401, 'no fresh identity for a missing session');
  assert.equal(store.gallery.getByJob(aliceJob)!.votes, 1);
  const codes: string[] = [];
  for (let i = 0; i < 3; i++)
    codes.push((await post(BOB, '/api/run/digits', { digit: 1, count: 1, steps: 2 })).body.reply.type);
  const limited = await post(BOB, '/api/run/digits', { digit: 1, count: 1, steps: 2 });
  assert.deepEqual(codes, ['queued', 'queued', 'queued']);
  assert.equal(limited.status, 429);
  assert.equal(limited.body.reply.code, 'rate-limited');
  assert.equal(
    (await post(ALICE, '/api/run/digits', { digit: 1, count: 1, steps: 2 })).body.reply.type,
    'queued',
    'alice has her own turns',
  );

  // History: each sees only their own jobs, newest first, as the replies that show them.
  const history = async (who: WebAccount): Promise<Wire[]> =>
    ((await (await fetch(`${web.url}/api/jobs`, { headers: as(who) })).json()) as { jobs: Wire[] }).jobs;
  const bobs = await history(BOB);
  assert.equal(bobs.length, 3);
  assert.ok(bobs.every((r) => r.jobId !== aliceJob));
  const alices = await history(ALICE);
  assert.equal(alices.at(-1)!.jobId, aliceJob);
  assert.equal(alices.at(-1)!.type, 'result');
});

test('HTTP: wrong bodies are 4xx with a message, big bodies are refused unread, the command option is kept', async (t) => {
  const { service, store } = await startBotStack(t, { runner: false, model: false });
  const web = await startWebConsole({ service, store, host: '127.0.0.1', port: 0, maxBodyBytes: 1024 * 1024 });
  t.after(() => web.close());
  const url = `${web.url}/api/run/help`;

  const noBody = await fetch(url, { method: 'POST', headers: H });
  assert.equal(noBody.status, 415);
  assert.match(
    ((await noBody.json()) as { error: string }).error,
    /send the options as multipart\/form-data .* not no body/,
  );
  const badJson = await fetch(url, {
    method: 'POST',
    headers: { ...H, 'content-type': 'application/json' },
    body: '{"command": ',
  });
  assert.equal(badJson.status, 400);
  assert.match(((await badJson.json()) as { error: string }).error, /JSON body could not be read/);
  const arrayJson = await fetch(url, {
    method: 'POST',
    headers: { ...H, 'content-type': 'application/json' },
    body: '[1]',
  });
  assert.equal(arrayJson.status, 400);
  const broken = await fetch(url, {
    method: 'POST',
    headers: { ...H, 'content-type': 'multipart/form-data; boundary=xyz' },
    body: '--xyz\r\nnot a part',
  });
  assert.equal(broken.status, 400);
  assert.match(((await broken.json()) as { error: string }).error, /form could not be read as multipart\/form-data/);
  const nameless = await fetch(`${web.url}/api/run`, { method: 'POST', headers: H, body: form({ command: 'help' }) });
  assert.equal(nameless.status, 404);
  assert.match(((await nameless.json()) as { error: string }).error, /POST \/api\/run\/<command>/);

  // 200 MB announced, 64 KiB sent: the answer comes from the header, before the body is read.
  const big = await new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request(
      url,
      {
        method: 'POST',
        headers: {
          ...H,
          'content-type': 'multipart/form-data; boundary=b',
          'content-length': String(200 * 1024 * 1024),
        },
      },
      (res) => {
        let body = '';
        res.on('data', (chunk: Buffer) => (body += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode!, body }));
      },
    );
    req.on('error', reject);
    req.write(Buffer.alloc(64 * 1024));
  });
  assert.equal(big.status, 413);
  assert.match(big.body, /larger than this console accepts \(1\.0 MiB\)/);

  // An option named `command` reaches the command (/help command:anagram, /gallery command:digits).
  const help = (await (
    await fetch(url, { method: 'POST', headers: H, body: form({ command: 'anagram' }) })
  ).json()) as RunAnswer;
  assert.equal(help.reply.title, '/anagram', JSON.stringify(help));
  const json = (await (
    await fetch(url, {
      method: 'POST',
      headers: { ...H, 'content-type': 'application/json' },
      body: JSON.stringify({ command: 'hybrid' }),
    })
  ).json()) as RunAnswer;
  assert.equal(json.reply.title, '/hybrid');
  const gallery = (await (
    await fetch(`${web.url}/api/run/gallery`, { method: 'POST', headers: H, body: form({ command: 'digits' }) })
  ).json()) as RunAnswer;
  assert.equal(gallery.reply.type, 'gallery');
  assert.equal(gallery.reply.command, 'digits');
});

test('Delete removes the job from your history and stops serving its files', async (t) => {
  const { service, store } = await startBotStack(t);
  const web = await startWebConsole({ service, store, host: '127.0.0.1', port: 0 });
  t.after(() => web.close());
  const started = (await (
    await fetch(`${web.url}/api/run/digits`, {
      method: 'POST',
      headers: H,
      body: form({ digit: '3', count: '1', steps: '3', seed: '11' }),
    })
  ).json()) as RunAnswer;
  const result = (await readEvents(`${web.url}/api/runs/${started.runId}/events`)).at(-1)!;
  const url = (result.files as Array<{ url: string }>)[0]!.url;
  await fetch(`${web.url}/api/action`, {
    method: 'POST',
    headers: { ...H, 'content-type': 'application/json' },
    body: JSON.stringify({ actionId: `publish:${started.jobId}` }),
  });
  const jobsBefore = ((await (await fetch(`${web.url}/api/jobs`)).json()) as { jobs: Wire[] }).jobs;
  assert.deepEqual(
    jobsBefore.map((j) => j.jobId),
    [started.jobId],
  );

  const del = (await (
    await fetch(`${web.url}/api/action`, {
      method: 'POST',
      headers: { ...H, 'content-type': 'application/json' },
      body: JSON.stringify({ actionId: `delete:${started.jobId}` }),
    })
  ).json()) as RunAnswer;
  assert.equal(del.reply.text, `Job #${started.jobId} deleted.`);
  assert.deepEqual(((await (await fetch(`${web.url}/api/jobs`)).json()) as { jobs: Wire[] }).jobs, []);
  assert.equal((await fetch(`${web.url}${url}`)).status, 404);
  assert.equal(store.artifacts.get(url.split('/').pop()!), undefined, 'the file is gone, not only hidden');
  assert.equal(
    ((await (await fetch(`${web.url}/api/gallery?filter=recent`)).json()) as { entries: unknown[] }).entries.length,
    0,
  );
  const job = (await (
    await fetch(`${web.url}/api/run/job`, {
      method: 'POST',
      headers: { ...H, 'content-type': 'application/json' },
      body: JSON.stringify({ id: started.jobId }),
    })
  ).json()) as RunAnswer;
  assert.match(String(job.reply.message), /there is no job/);
});

test('a 4096×4096 upload is shrunk inside sharp: the page answers meanwhile and memory stays bounded', async (t) => {
  const { service, store, queue } = await startBotStack(t, {
    runner: false,
    store: { users: { admins: ['web:local'] } },
  });
  const web = await startWebConsole({ service, store, host: '127.0.0.1', port: 0 });
  t.after(() => web.close());
  // Stripes compress well, so the file is under the 8 MiB upload limit while the raster is 48 MiB.
  const side = 4096;
  const raw = Buffer.alloc(side * side * 3);
  for (let y = 0; y < side; y++) raw.fill((y >> 5) & 1 ? 255 : 0, y * side * 3, (y + 1) * side * 3);
  const png = await sharp(raw, { raw: { width: side, height: side, channels: 3 } })
    .png()
    .toBuffer();
  assert.ok(png.length < 8 * 1024 * 1024);

  const before = process.memoryUsage().rss;
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 10);
  const delay = monitorEventLoopDelay({ resolution: 10 });
  delay.enable();
  const uploads = [0, 1, 2, 3].map(() =>
    fetch(`${web.url}/api/run/edit`, {
      method: 'POST',
      headers: H,
      body: form({ image: new Blob([png], { type: 'image/png' }), prompt: '1', i_start: '2', steps: '3' }),
    }),
  );
  let order: string[] = [];
  const page = fetch(`${web.url}/`).then((r) => {
    order.push('page');
    return r.status;
  });
  const answers = await Promise.all(
    uploads.map((p) =>
      p.then(async (r) => {
        order.push('upload');
        return (await r.json()) as RunAnswer;
      }),
    ),
  );
  delay.disable();
  clearInterval(sampler);
  assert.equal(await page, 200);
  assert.equal(order[0], 'page', `GET / answered while uploads decoded: ${order.join(', ')}`);
  order = [];
  t.diagnostic(
    `4 × 4096² uploads: RSS ${Math.round(before / 2 ** 20)} → peak ${Math.round(peak / 2 ** 20)} MiB; event-loop delay max ${Math.round(delay.max / 1e6)} ms, p99 ${Math.round(delay.percentile(99) / 1e6)} ms`,
  );
  for (const a of answers) assert.equal(a.reply.type, 'queued', JSON.stringify(a));
  const stored = (
    store.jobs.get(answers[0]!.jobId!)!.params as {
      image: { width: number; height: number; sourceWidth: number; path: string };
    }
  ).image;
  assert.deepEqual(
    [stored.width, stored.height, stored.sourceWidth],
    [256, 256, 4096],
    'kept at the working size, the source size remembered',
  );
  assert.deepEqual((await sharp(stored.path).metadata()).width, 256);
  // Loose: four full-size decodes held floats of 192 MiB each; the shrunk ones need a fraction.
  assert.ok(peak - before < 400 * 2 ** 20, `RSS grew by ${Math.round((peak - before) / 2 ** 20)} MiB`);
  for (const a of answers) await queue.cancel(a.jobId!, { platform: 'web', userId: 'local' }); // no runner here: end the waiting requests
});
