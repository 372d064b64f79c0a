// The local web console (the embedded default front end): one page that runs any command, shows
// queue position and progress live over SSE, results with their buttons, and the gallery.
import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { serve } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { streamSSE } from 'hono/streaming';
import type { Attachment, CommandService, OptionValue, Reply, ReplyFile, Requester } from '../../commands/contract.js';
import { projectRoot } from '../../engine/paths.js';
import type { Store } from '../../store/index.js';

export interface WebConsoleOptions {
  readonly service: CommandService;
  readonly store: Store;
  /** 127.0.0.1 unless the operator exposes the console (then `accessToken` is required). */
  readonly host: string;
  readonly port: number;
  readonly accessToken?: string | undefined;
}

/** A reply as the page receives it: files become URLs (artifacts) or data URLs (previews). */
type WireFile = { name: string; contentType: string; url: string };

const FINAL = new Set<Reply['type']>(['error', 'result', 'failed', 'info', 'gallery']);
const RUN_TTL_MS = 10 * 60_000;
const STATIC = ['index.html', 'app.js', 'app.css'] as const;
const STATIC_TYPES: Record<string, string> = { html: 'text/html; charset=utf-8', js: 'text/javascript; charset=utf-8', css: 'text/css; charset=utf-8' };

export function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1';
}

function wireFile(f: ReplyFile): WireFile {
  const url = f.sha256 ? `/api/files/${f.sha256}` : `data:${f.contentType};base64,${f.data.toString('base64')}`;
  return { name: f.name, contentType: f.contentType, url };
}

/** JSON-safe copy of a reply with its files as URLs. */
export function toWire(reply: Reply): unknown {
  switch (reply.type) {
    case 'progress':
      return { ...reply, preview: reply.preview ? wireFile(reply.preview) : undefined };
    case 'result':
      return { ...reply, files: reply.files.map(wireFile) };
    case 'info':
      return { ...reply, files: reply.files?.map(wireFile) };
    case 'gallery':
      return { ...reply, entries: reply.entries.map((e) => ({ ...e, file: e.file ? wireFile(e.file) : undefined })) };
    default:
      return reply;
  }
}

interface Run {
  readonly replies: unknown[];
  done: boolean;
  finishedAt: number;
  readonly listeners: Set<() => void>;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The console's routes. Mutating requests must carry `X-Illusionist: 1`, which a cross-site form
 * cannot send; on loopback the Host header must be local too (DNS rebinding).
 *
 * @example
 * const app = createWebApp({ service, store, host: '127.0.0.1', port: 8080 });
 */
export function createWebApp(options: WebConsoleOptions): Hono {
  const { service, store } = options;
  const exposed = !isLoopback(options.host);
  if (exposed && !options.accessToken) throw new Error(`the web console on ${options.host} needs ACCESS_TOKEN (it is reachable from other machines)`);
  const staticDir = join(projectRoot(), 'src', 'bot', 'web', 'public');
  const runs = new Map<string, Run>();
  const app = new Hono();

  app.use('*', async (c, next) => {
    if (!exposed) {
      const host = (c.req.header('host') ?? '').replace(/:\d+$/, '');
      if (!['127.0.0.1', 'localhost', '[::1]'].includes(host)) return c.text('this console only answers on localhost', 403);
    } else {
      const given = c.req.header('authorization')?.replace(/^Bearer\s+/i, '') ?? getCookie(c, 'illusionist_token') ?? c.req.query('token');
      if (!given || !sameSecret(given, options.accessToken!)) return c.text('access token required: open /?token=<ACCESS_TOKEN> once', 401);
      if (c.req.query('token')) {
        setCookie(c, 'illusionist_token', given, { httpOnly: true, sameSite: 'Strict', path: '/' });
        return c.redirect('/');
      }
    }
    if (c.req.method !== 'GET' && c.req.header('x-illusionist') !== '1') return c.text('missing X-Illusionist header', 403);
    await next();
    c.header('X-Content-Type-Options', 'nosniff');
    c.header('Referrer-Policy', 'no-referrer');
    c.header('Content-Security-Policy', "default-src 'self'; img-src 'self' data: blob:; script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors 'none'");
  });

  /** Each browser is a person; on loopback the operator's browser is `web:local`. */
  function requesterOf(c: Context): Requester {
    if (!exposed) return { platform: 'web', userId: 'local', displayName: 'you' };
    let uid = getCookie(c, 'illusionist_uid');
    if (!uid || !/^[0-9a-f-]{36}$/.test(uid)) {
      uid = randomUUID();
      setCookie(c, 'illusionist_uid', uid, { httpOnly: true, sameSite: 'Strict', path: '/', maxAge: 365 * 86_400 });
    }
    return { platform: 'web', userId: uid };
  }

  function startRun(work: (sink: { send(reply: Reply): Promise<void>; progressIntervalMs: number; previews: boolean }) => Promise<void>): string {
    const now = Date.now();
    for (const [id, r] of runs) if (r.done && now - r.finishedAt > RUN_TTL_MS) runs.delete(id);
    const id = randomUUID();
    const run: Run = { replies: [], done: false, finishedAt: 0, listeners: new Set() };
    runs.set(id, run);
    const notify = (): void => run.listeners.forEach((l) => l());
    void work({
      progressIntervalMs: 150,
      previews: true,
      async send(reply) {
        run.replies.push(toWire(reply));
        if (FINAL.has(reply.type)) {
          run.done = true;
          run.finishedAt = Date.now();
        }
        notify();
      },
    }).finally(() => {
      if (!run.done) {
        run.done = true;
        run.finishedAt = Date.now();
      }
      notify();
    });
    return id;
  }

  for (const file of STATIC) {
    const route = file === 'index.html' ? '/' : `/static/${file}`;
    app.get(route, (c) => {
      const body = readFileSync(join(staticDir, file), 'utf8');
      return c.body(body, 200, { 'content-type': STATIC_TYPES[file.split('.').pop()!]! });
    });
  }

  app.get('/api/commands', (c) => c.json({ commands: service.definitions(), requester: requesterOf(c) }));

  app.post('/api/run', async (c) => {
    const requester = requesterOf(c);
    const form = await c.req.formData();
    const command = String(form.get('command') ?? '');
    const opts: Record<string, OptionValue> = {};
    for (const [key, value] of form.entries()) {
      if (key === 'command') continue;
      if (typeof value === 'string') {
        if (value !== '') opts[key] = value;
      } else if (value.size > 0) {
        const blob = value;
        const attachment: Attachment = { name: blob.name || key, contentType: blob.type || undefined, size: blob.size, fetch: async () => Buffer.from(await blob.arrayBuffer()) };
        opts[key] = attachment;
      }
    }
    const runId = startRun((sink) => service.handle({ command, options: opts, requester }, sink));
    return c.json({ runId });
  });

  app.post('/api/action', async (c) => {
    const requester = requesterOf(c);
    const body = (await c.req.json().catch(() => ({}))) as { actionId?: unknown };
    if (typeof body.actionId !== 'string' || body.actionId.length > 100) return c.json({ error: 'actionId (a string) is required' }, 400);
    const actionId = body.actionId;
    const runId = startRun((sink) => service.handleAction(actionId, requester, sink));
    return c.json({ runId });
  });

  app.get('/api/runs/:id/events', (c) => {
    const run = runs.get(c.req.param('id'));
    if (!run) return c.json({ error: 'no such run (they are kept 10 minutes)' }, 404);
    return streamSSE(c, async (stream) => {
      let sent = 0;
      let wake: (() => void) | undefined;
      const listener = (): void => wake?.();
      run.listeners.add(listener);
      stream.onAbort(() => {
        run.listeners.delete(listener);
        wake?.();
      });
      try {
        while (!stream.aborted) {
          while (sent < run.replies.length) {
            const reply = run.replies[sent++] as { type: string };
            await stream.writeSSE({ event: 'reply', data: JSON.stringify(reply), id: String(sent) });
          }
          if (run.done) {
            await stream.writeSSE({ event: 'end', data: '{}' });
            break;
          }
          await new Promise<void>((resolve) => {
            // A comment line now and then keeps proxies from closing an idle stream.
            const timer = setTimeout(resolve, 15_000);
            wake = () => {
              clearTimeout(timer);
              resolve();
            };
          });
          if (!stream.aborted && sent === run.replies.length && !run.done) await stream.write(': keep-alive\n\n');
        }
      } finally {
        run.listeners.delete(listener);
      }
    });
  });

  app.get('/api/gallery', async (c) => {
    const requester = requesterOf(c);
    const opts: Record<string, OptionValue> = { filter: c.req.query('filter') ?? 'recent', limit: 30 };
    const only = c.req.query('command');
    if (only) opts.command = only;
    let answer: unknown;
    await service.handle({ command: 'gallery', options: opts, requester }, { send: async (r) => void (answer = toWire(r)) });
    return c.json(answer);
  });

  app.get('/api/files/:sha', (c) => {
    const sha = c.req.param('sha');
    if (!/^[0-9a-f]{64}$/.test(sha)) return c.text('bad file id', 400);
    const artifact = store.artifacts.get(sha);
    if (!artifact || !existsSync(artifact.path)) return c.text('no such file', 404);
    const body = Readable.toWeb(createReadStream(artifact.path)) as ReadableStream;
    return c.body(body, 200, { 'content-type': artifact.mime, 'content-length': String(artifact.bytes), 'cache-control': 'private, max-age=31536000, immutable' });
  });

  return app;
}

export interface WebConsole {
  readonly url: string;
  close(): Promise<void>;
}

/** Serves the console; `port` 0 picks a free one (tests). */
export async function startWebConsole(options: WebConsoleOptions): Promise<WebConsole> {
  const app = createWebApp(options);
  return new Promise((resolve, reject) => {
    const server = serve({ fetch: app.fetch, port: options.port, hostname: options.host }, (info: AddressInfo) => {
      const host = info.family === 'IPv6' ? `[${info.address}]` : info.address;
      resolve({
        url: `http://${host}:${info.port}`,
        close: () =>
          new Promise<void>((done) => {
            (server as { closeAllConnections?: () => void }).closeAllConnections?.();
            server.close(() => done());
          }),
      });
    });
    server.once('error', reject);
  });
}
