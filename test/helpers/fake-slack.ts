// A fake of Slack on loopback: the Web API methods the bot calls (auth.test, chat.*, the three
// steps of files.uploadV2), response_url endpoints, private file downloads; and a client that
// signs requests to the bot's HTTP endpoint the way Slack does (v0 HMAC-SHA256).
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface SlackCall {
  /** A Web API method ('chat.postMessage'), 'upload', 'respond' or 'download'. */
  readonly method: string;
  readonly args: Record<string, unknown>;
  readonly raw: Buffer;
  readonly headers: Record<string, string | string[] | undefined>;
}

export interface FakeSlack {
  /** For WebClient's `slackApiUrl`. */
  readonly apiUrl: string;
  readonly calls: SlackCall[];
  readonly botUserId: string;
  /** A response_url for one request. */
  responseUrl(id: string): string;
  /** Serves `data` as a private file (only with the bot token). */
  serveFile(name: string, data: Buffer): string;
  waitFor(predicate: (call: SlackCall) => boolean, timeoutMs?: number): Promise<SlackCall>;
  close(): Promise<void>;
}

/** The headers Slack sends with a request body: its timestamp and v0 signature. */
export function signSlackRequest(
  secret: string,
  body: string,
  timestamp = Math.floor(Date.now() / 1000),
): Record<string, string> {
  const signature = `v0=${createHmac('sha256', secret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return { 'x-slack-request-timestamp': String(timestamp), 'x-slack-signature': signature };
}

function parseArgs(raw: Buffer, type: string): Record<string, unknown> {
  const text = raw.toString('utf8');
  if (type.includes('application/json')) return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  const args: Record<string, unknown> = {};
  for (const [k, v] of new URLSearchParams(text)) {
    // WebClient sends arrays and objects (blocks, files) as JSON strings in form fields.
    try {
      args[k] = /^[[{]/.test(v) ? JSON.parse(v) : v;
    } catch {
      args[k] = v;
    }
  }
  return args;
}

export interface FakeSlackOptions {
  readonly botToken: string;
  /**
   * Web API methods that are recorded but never answered, as a Slack that stops responding
   * (e.g. ['apps.connections.open']: a socket-mode connection that never comes up).
   */
  readonly hang?: readonly string[];
}

export async function startFakeSlack(options: FakeSlackOptions): Promise<FakeSlack> {
  const calls: SlackCall[] = [];
  const waiters: { predicate: (c: SlackCall) => boolean; resolve: (c: SlackCall) => void }[] = [];
  const files = new Map<string, Buffer>();
  const botUserId = 'UBOT1';
  let ts = 1_700_000_000;
  let fileCounter = 0;
  let base = '';
  const nextTs = (): string => `${++ts}.000100`;

  function answer(method: string, args: Record<string, unknown>): unknown {
    switch (method) {
      case 'auth.test':
        return {
          ok: true,
          url: 'https://fake.slack.com/',
          team: 'Fake',
          user: 'illusionist',
          team_id: 'T1',
          user_id: botUserId,
          bot_id: 'BBOT1',
        };
      case 'chat.postMessage':
        return { ok: true, channel: args.channel, ts: nextTs(), message: { text: args.text, blocks: args.blocks } };
      case 'chat.update':
        return { ok: true, channel: args.channel, ts: args.ts, text: args.text };
      case 'chat.delete':
        return { ok: true, channel: args.channel, ts: args.ts };
      case 'chat.postEphemeral':
        return { ok: true, message_ts: nextTs() };
      case 'files.getUploadURLExternal': {
        const id = `F${++fileCounter}`;
        return { ok: true, upload_url: `${base}/upload/${id}`, file_id: id };
      }
      case 'files.completeUploadExternal':
        return {
          ok: true,
          files: (args.files as { id: string; title?: string }[]).map((f) => ({ id: f.id, title: f.title ?? '' })),
        };
      default:
        return { ok: false, error: 'unknown_method' };
    }
  }

  const server: Server = createServer((req, res) => {
    void (async () => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const raw = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://fake');
      const type = req.headers['content-type'] ?? '';
      let method: string;
      let body: unknown;
      if (url.pathname.startsWith('/api/')) {
        method = url.pathname.slice('/api/'.length);
        if (options.hang?.includes(method)) {
          const call: SlackCall = { method, args: parseArgs(raw, type), raw, headers: req.headers };
          calls.push(call);
          notify(call);
          return; // no answer: the client waits until it gives up or the fake closes
        }
        const authorized = req.headers.authorization === `Bearer ${options.botToken}`;
        body = authorized ? answer(method, parseArgs(raw, type)) : { ok: false, error: 'not_authed' };
      } else if (url.pathname.startsWith('/upload/')) {
        method = 'upload';
        body = `OK - ${raw.length}`;
      } else if (url.pathname.startsWith('/respond/')) {
        method = 'respond';
        body = { ok: true };
      } else if (url.pathname.startsWith('/files/')) {
        method = 'download';
        const data = files.get(decodeURIComponent(url.pathname.slice('/files/'.length)));
        const record: SlackCall = { method, args: {}, raw, headers: req.headers };
        calls.push(record);
        if (!data || req.headers.authorization !== `Bearer ${options.botToken}`) {
          res.writeHead(404).end();
          return;
        }
        res.writeHead(200, { 'content-type': 'image/png', 'content-length': data.length }).end(data);
        return;
      } else {
        res.writeHead(404).end();
        return;
      }
      const call: SlackCall = {
        method,
        args: method === 'upload' ? {} : parseArgs(raw, type),
        raw,
        headers: req.headers,
      };
      calls.push(call);
      if (typeof body === 'string') res.writeHead(200, { 'content-type': 'text/plain' }).end(body);
      else res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      notify(call);
    })().catch(() => res.writeHead(500).end());
  });
  function notify(call: SlackCall): void {
    for (const w of [...waiters]) {
      if (w.predicate(call)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(call);
      }
    }
  }
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    apiUrl: `${base}/api/`,
    calls,
    botUserId,
    responseUrl: (id) => `${base}/respond/${id}`,
    serveFile(name, data) {
      files.set(name, data);
      return `${base}/files/${encodeURIComponent(name)}`;
    },
    waitFor(predicate, timeoutMs = 20_000) {
      const found = calls.find(predicate);
      if (found) return Promise.resolve(found);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(
          () =>
            reject(
              new Error(
                `fake Slack: no matching call in ${timeoutMs} ms; calls: ${calls.map((c) => c.method).join(', ')}`,
              ),
            ),
          timeoutMs,
        );
        waiters.push({
          predicate,
          resolve: (c) => {
            clearTimeout(timer);
            resolve(c);
          },
        });
      });
    },
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
