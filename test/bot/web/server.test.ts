// The web console over real HTTP on loopback: a /digits run followed over SSE to its result, the
// file served, publish to the gallery and list it; and the console's guards (Host, header, token).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createWebApp, startWebConsole } from '../../../src/bot/web/server.js';
import { startBotStack } from '../../helpers/bot-stack.js';

interface Wire { type: string; [k: string]: unknown }

/** Reads an SSE stream to its `end` event and returns the replies. */
async function readEvents(url: string): Promise<Wire[]> {
  const res = await fetch(url);
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
    .map((block) => JSON.parse(block.split('\n').find((l) => l.startsWith('data: '))!.slice(6)) as Wire);
}

test('run /digits over HTTP: SSE progress and result, file download, publish and list in the gallery', async (t) => {
  const { service, store } = await startBotStack(t);
  const web = await startWebConsole({ service, store, host: '127.0.0.1', port: 0 });
  t.after(() => web.close());
  const H = { 'X-Illusionist': '1' };

  const page = await fetch(`${web.url}/`);
  assert.equal(page.status, 200);
  assert.match(page.headers.get('content-security-policy') ?? '', /default-src 'self'/);
  const html = await page.text();
  assert.match(html, /<select id="command">/);
  const defs = (await (await fetch(`${web.url}/api/commands`)).json()) as { commands: Array<{ name: string }> };
  assert.ok(defs.commands.some((d) => d.name === 'anagram'));

  const form = new FormData();
  form.set('command', 'digits');
  form.set('digit', '7');
  form.set('count', '2');
  form.set('steps', '6');
  form.set('seed', '5');
  form.set('model', ''); // empty fields are "not given", as a browser form sends them
  const { runId } = (await (await fetch(`${web.url}/api/run`, { method: 'POST', body: form, headers: H })).json()) as { runId: string };
  const replies = await readEvents(`${web.url}/api/runs/${runId}/events`);
  assert.equal(replies[0]!.type, 'queued');
  assert.ok(replies.some((r) => r.type === 'progress'), 'progress over SSE');
  const result = replies.at(-1)!;
  assert.equal(result.type, 'result', JSON.stringify(result));
  const files = result.files as Array<{ url: string; contentType: string }>;
  const image = await fetch(`${web.url}${files[0]!.url}`);
  assert.equal(image.headers.get('content-type'), 'image/png');
  assert.deepEqual([...new Uint8Array(await image.arrayBuffer()).subarray(1, 4)], [0x50, 0x4e, 0x47]);

  const pub = (await (await fetch(`${web.url}/api/action`, { method: 'POST', body: JSON.stringify({ actionId: `publish:${result.jobId}` }), headers: { ...H, 'content-type': 'application/json' } })).json()) as { runId: string };
  const published = await readEvents(`${web.url}/api/runs/${pub.runId}/events`);
  assert.match(String(published.at(-1)!.text), /in the gallery as post/);
  const gallery = (await (await fetch(`${web.url}/api/gallery?filter=recent`)).json()) as { type: string; entries: Array<{ prompt: string; seed: number; file: { url: string } }> };
  assert.equal(gallery.type, 'gallery');
  assert.equal(gallery.entries.length, 1);
  assert.equal(gallery.entries[0]!.prompt, 'digit 7');
  assert.equal(gallery.entries[0]!.seed, 5);
  assert.match(gallery.entries[0]!.file.url, /^\/api\/files\/[0-9a-f]{64}$/);

  // A user mistake comes back as an error reply, not an HTTP failure.
  const bad = new FormData();
  bad.set('command', 'anagram');
  bad.set('prompt1', '6');
  bad.set('prompt2', '9');
  bad.set('view', 'sideways');
  const badRun = (await (await fetch(`${web.url}/api/run`, { method: 'POST', body: bad, headers: H })).json()) as { runId: string };
  const [err] = await readEvents(`${web.url}/api/runs/${badRun.runId}/events`);
  assert.equal(err!.type, 'error');
  assert.match(String(err!.allowed), /flip/);
});

test('guards: Host must be local, POSTs need X-Illusionist, an exposed console needs its token', async (t) => {
  const { service, store } = await startBotStack(t, { runner: false, model: false });
  const local = createWebApp({ service, store, host: '127.0.0.1', port: 8080 });
  assert.equal((await local.request('http://evil.example/', { headers: { host: 'evil.example' } })).status, 403, 'DNS rebinding');
  assert.equal((await local.request('http://127.0.0.1/api/run', { method: 'POST', headers: { host: '127.0.0.1' } })).status, 403, 'cross-site POST');

  assert.throws(() => createWebApp({ service, store, host: '0.0.0.0', port: 8080 }), /needs ACCESS_TOKEN/);
  const exposed = createWebApp({ service, store, host: '0.0.0.0', port: 8080, accessToken: 's3cret-token' });
  assert.equal((await exposed.request('http://bot.example/')).status, 401);
  assert.equal((await exposed.request('http://bot.example/', { headers: { authorization: 'Bearer wrong' } })).status, 401);
  const ok = await exposed.request('http://bot.example/', { headers: { authorization: 'Bearer s3cret-token' } });
  assert.equal(ok.status, 200);
  assert.ok(!(await ok.text()).includes('s3cret-token'), 'no secrets in pages');
  const first = await exposed.request('http://bot.example/?token=s3cret-token');
  assert.equal(first.status, 302);
  assert.match(first.headers.get('set-cookie') ?? '', /illusionist_token=s3cret-token; Path=\/; HttpOnly; SameSite=Strict/);
});
