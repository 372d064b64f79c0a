// The local web console (the embedded default front end): one page that runs any command, shows
// queue position and progress live over SSE, results with their buttons, your recent jobs, and the
// gallery. Who is asking comes only from the server: the one local user on an unexposed console, or
// a signed session (or a bearer token) of an account from the configuration.
import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createReadStream, existsSync, readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { serve } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { bearerAuth } from 'hono/bearer-auth';
import { bodyLimit } from 'hono/body-limit';
import { deleteCookie, getSignedCookie, setSignedCookie } from 'hono/cookie';
import { secureHeaders } from 'hono/secure-headers';
import { streamSSE } from 'hono/streaming';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type {
  Attachment,
  CommandService,
  ErrorCode,
  OptionValue,
  Reply,
  ReplyFile,
  Requester,
} from '../../commands/contract.js';
import { projectRoot } from '../../engine/paths.js';
import { createWaker } from '../../jobs/wake.js';
import { isSameWho, type Store, type Who } from '../../store/index.js';

/** A person who may use an exposed console: `name` becomes their id (`web:<name>`) and shown name. */
export interface WebAccount {
  readonly name: string;
  readonly token: string;
}

export interface WebConsoleOptions {
  readonly service: CommandService;
  readonly store: Store;
  /** 127.0.0.1 unless the operator exposes the console (then `accounts` are required). */
  readonly host: string;
  readonly port: number;
  /**
   * Who may sign in (WEB_USERS, and ACCESS_TOKEN as `shared`). None: only the one local user,
   * and only on loopback. Some: everyone signs in, wherever the console listens.
   */
  readonly accounts?: readonly WebAccount[] | undefined;
  /** Signs session cookies (SESSION_SECRET); default a random one, so sessions end with the process. */
  readonly sessionSecret?: string | undefined;
  /** Largest request body; default 20 MiB (two uploads at the default 8 MiB limit, and the form). */
  readonly maxBodyBytes?: number | undefined;
}

/** What the routes know of a request: who asks, set by the sign-in middleware. */
type ConsoleEnv = { Variables: { requester: Requester } };

/** A reply as the page receives it: files become URLs (artifacts) or data URLs (previews). */
type WireFile = { name: string; contentType: string; url: string };

const FINAL = new Set<Reply['type']>(['error', 'result', 'failed', 'info', 'gallery']);
const RUN_TTL_MS = 10 * 60_000;
const SESSION_COOKIE = 'illusionist_session';
const SESSION_MAX_AGE_S = 30 * 86_400;
const DEFAULT_MAX_BODY = 20 * 1024 * 1024;
const STATIC = ['index.html', 'app.js', 'app.css'] as const;
const STATIC_TYPES: Record<string, string> = {
  html: 'text/html; charset=utf-8',
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};
/** The one person of an unexposed console: the operator at this machine. */
export const LOCAL_REQUESTER: Requester = { platform: 'web', userId: 'local', displayName: 'operator' };
const SIGN_IN_HELP =
  'sign in: open this console once with your link, /?token=<your token> (the bot\'s WEB_USERS or ACCESS_TOKEN), or send "Authorization: Bearer <your token>"';

export function isLoopback(host: string): boolean {
  return host === '127.0.0.1' || host === 'localhost' || host === '::1';
}

function wireFile(f: ReplyFile): WireFile {
  const url = f.sha256 ? `/api/files/${f.sha256}` : `data:${f.contentType};base64,${f.data.toString('base64')}`;
  return { name: f.name, contentType: f.contentType, url };
}

/** JSON-safe copy of a reply with its files as URLs; gallery authors by name only (ids stay on the server). */
export function toWire(reply: Reply): unknown {
  switch (reply.type) {
    case 'progress':
      return { ...reply, preview: reply.preview ? wireFile(reply.preview) : undefined };
    case 'result':
      return { ...reply, files: reply.files.map(wireFile) };
    case 'info':
      return { ...reply, files: reply.files?.map(wireFile) };
    case 'gallery':
      return {
        ...reply,
        entries: reply.entries.map(({ author: _id, ...e }) => ({ ...e, file: e.file ? wireFile(e.file) : undefined })),
      };
    default:
      return reply;
  }
}

/** The HTTP status of a refused request, so API clients need not read the body to tell. */
function statusOf(code: ErrorCode): ContentfulStatusCode {
  const map: Partial<Record<ErrorCode, ContentfulStatusCode>> = {
    'not-allowed': 403,
    banned: 403,
    'not-found': 404,
    'too-large': 413,
    'rate-limited': 429,
    quota: 429,
    'queue-full': 503,
    'model-not-installed': 503,
    unavailable: 503,
    internal: 500,
  };
  return map[code] ?? 400;
}

interface Run {
  readonly owner: Who;
  readonly replies: unknown[];
  done: boolean;
  finishedAt: number;
  readonly listeners: Set<() => void>;
}

const digest = (text: string): Buffer => createHash('sha256').update(text).digest();

/** The account whose token this is; compared as digests in constant time, every account each time. */
function accountByToken(accounts: readonly WebAccount[], token: string): WebAccount | undefined {
  const given = digest(token);
  let found: WebAccount | undefined;
  for (const a of accounts) if (timingSafeEqual(digest(a.token), given)) found = a;
  return found;
}

/** Part of the token's digest in the session, so a changed or removed token ends its sessions. */
const fingerprint = (account: WebAccount): string => digest(`session:${account.token}`).toString('hex').slice(0, 16);

/**
 * The console's routes. Mutating requests must carry `X-Illusionist: 1`, which a cross-site form
 * cannot send; on loopback the Host header must be local too (DNS rebinding).
 *
 * @example
 * const app = createWebApp({ service, store, host: '127.0.0.1', port: 8080 });
 */
export function createWebApp(options: WebConsoleOptions): Hono {
  const { service, store } = options;
  const accounts = options.accounts ?? [];
  const signIn = accounts.length > 0;
  const loopback = isLoopback(options.host);
  if (!loopback && !signIn)
    throw new Error(
      `the web console on ${options.host} needs accounts (WEB_USERS or ACCESS_TOKEN): it is reachable from other machines`,
    );
  const names = new Set<string>();
  for (const a of accounts) {
    if (names.has(a.name)) throw new Error(`web account "${a.name}" is listed twice`);
    names.add(a.name);
  }
  const secret = options.sessionSecret ?? randomBytes(32).toString('hex');
  const maxBody = options.maxBodyBytes ?? DEFAULT_MAX_BODY;
  const staticDir = join(projectRoot(), 'src', 'bot', 'web', 'public');
  const runs = new Map<string, Run>();
  const app = new Hono<ConsoleEnv>();

  app.use(
    '*',
    secureHeaders({
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        imgSrc: ["'self'", 'data:', 'blob:'],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'"],
        connectSrc: ["'self'"],
        frameAncestors: ["'none'"],
      },
      referrerPolicy: 'no-referrer',
      xFrameOptions: 'DENY',
      // Plain HTTP on a LAN is the usual case; HSTS would only matter behind TLS, which the proxy sets.
      strictTransportSecurity: false,
    }),
  );

  // DNS rebinding: a page of another site whose name now resolves to 127.0.0.1 reaches this console
  // with its own Host. Hono's ipRestriction checks the peer address, which is local then too, so
  // this check on the Host header stays by hand.
  if (loopback) {
    app.use('*', async (c, next) => {
      const host = (c.req.header('host') ?? '').replace(/:\d+$/, '');
      if (!['127.0.0.1', 'localhost', '[::1]'].includes(host))
        return c.text('this console only answers on localhost', 403);
      await next();
    });
  }

  if (!signIn) {
    app.use('*', async (c, next) => {
      c.set('requester', LOCAL_REQUESTER);
      await next();
    });
  } else {
    const asAccount = (account: WebAccount): Requester => ({
      platform: 'web',
      userId: account.name,
      displayName: account.name,
    });
    // API clients: Hono's bearerAuth, checking the token against every account in constant time.
    const bearer = bearerAuth<ConsoleEnv>({
      verifyToken: (token, c) => {
        const account = accountByToken(accounts, token);
        if (account) c.set('requester', asAccount(account));
        return account !== undefined;
      },
      invalidToken: { message: `that bearer token is not one this console knows; ${SIGN_IN_HELP}` },
      invalidAuthenticationHeader: {
        message: `the Authorization header is not "Bearer <token>" (letters, digits and -._~+/ only); ${SIGN_IN_HELP}`,
      },
    });
    app.use('*', async (c, next) => {
      // The sign-in link turns into a session cookie (Hono's signed cookies) and leaves the address bar.
      const link = c.req.query('token');
      if (link !== undefined) {
        const account = accountByToken(accounts, link);
        if (!account) return c.text(`that sign-in link's token is not one this console knows; ${SIGN_IN_HELP}`, 401);
        await setSignedCookie(
          c,
          SESSION_COOKIE,
          `${account.name}:${fingerprint(account)}:${Math.floor(Date.now() / 1000)}`,
          secret,
          {
            httpOnly: true,
            sameSite: 'Strict',
            path: '/',
            maxAge: SESSION_MAX_AGE_S,
          },
        );
        return c.redirect(c.req.path);
      }
      if (c.req.header('authorization') !== undefined) return bearer(c, next);
      // The cookie's signature proves this server issued it; the token's fingerprint and the issue
      // time in it end a session when the token changes or it is too old, which a signature alone cannot.
      const session = await getSignedCookie(c, secret, SESSION_COOKIE);
      const [name, print, issued] = typeof session === 'string' ? session.split(':') : [];
      const account = accounts.find((a) => a.name === name);
      const fresh = Number(issued) > Date.now() / 1000 - SESSION_MAX_AGE_S;
      if (!account || print !== fingerprint(account) || !fresh) {
        if (session !== undefined) deleteCookie(c, SESSION_COOKIE, { path: '/' });
        const why =
          session === undefined
            ? 'you are not signed in'
            : 'your session is not valid any more (expired, signed by another server secret, or its token changed)';
        return c.text(`${why}; ${SIGN_IN_HELP}`, 401);
      }
      c.set('requester', asAccount(account));
      await next();
    });
  }

  // Cross-site requests: every mutating request carries a header that a page of another site cannot
  // send without a CORS preflight, which this console never answers. Hono's csrf() does not fit: it
  // judges by Origin and Sec-Fetch-Site, which API clients (curl, scripts) do not send, and it lets
  // every non-form body through; this one rule covers every client and content type.
  app.use('*', async (c, next) => {
    if (c.req.method !== 'GET' && c.req.header('x-illusionist') !== '1')
      return c.text("missing X-Illusionist header: the console's own page sends it; API clients must too", 403);
    await next();
  });

  const limitBody = bodyLimit({
    maxSize: maxBody,
    onError: (c) =>
      c.json(
        { error: `the request is larger than this console accepts (${(maxBody / 1024 / 1024).toFixed(1)} MiB)` },
        413,
      ),
  });

  const requesterOf = (c: Context<ConsoleEnv>): Requester => c.get('requester');
  const whoOf = (r: Requester): Who => ({ platform: r.platform, userId: r.userId });

  /**
   * Starts a command or button run and waits for its first reply (the queued one, once the job row
   * is committed, or the refusal), so a client that gets an answer has a job id or a reason.
   */
  async function startRun(
    owner: Who,
    work: (sink: { send(reply: Reply): Promise<void>; progressIntervalMs: number; previews: boolean }) => Promise<void>,
  ): Promise<{ runId: string; first: Reply | undefined }> {
    const now = Date.now();
    for (const [id, r] of runs) if (r.done && now - r.finishedAt > RUN_TTL_MS) runs.delete(id);
    const id = randomUUID();
    const run: Run = { owner, replies: [], done: false, finishedAt: 0, listeners: new Set() };
    runs.set(id, run);
    const notify = (): void => {
      for (const l of run.listeners) l();
    };
    let first: (reply: Reply | undefined) => void = () => {};
    const firstReply = new Promise<Reply | undefined>((resolve) => (first = resolve));
    void work({
      progressIntervalMs: 150,
      previews: true,
      async send(reply) {
        first(reply);
        run.replies.push(toWire(reply));
        if (FINAL.has(reply.type)) {
          run.done = true;
          run.finishedAt = Date.now();
        }
        notify();
      },
    }).finally(() => {
      first(undefined);
      if (!run.done) {
        run.done = true;
        run.finishedAt = Date.now();
      }
      notify();
    });
    return { runId: id, first: await firstReply };
  }

  function answerRun(c: Context, started: { runId: string; first: Reply | undefined }): Response {
    const { runId, first } = started;
    if (!first) return c.json({ error: 'the request ended without an answer (it was logged)', runId }, 500);
    const jobId = 'jobId' in first ? first.jobId : undefined;
    return c.json({ runId, jobId, reply: toWire(first) }, first.type === 'error' ? statusOf(first.code) : 200);
  }

  for (const file of STATIC) {
    const route = file === 'index.html' ? '/' : `/static/${file}`;
    app.get(route, (c) => {
      const body = readFileSync(join(staticDir, file), 'utf8');
      return c.body(body, 200, { 'content-type': STATIC_TYPES[file.split('.').pop()!]! });
    });
  }

  app.get('/api/commands', (c) => {
    const r = requesterOf(c);
    return c.json({
      commands: service.definitions(),
      me: { name: r.displayName ?? r.userId, admin: store.users.isAdmin(whoOf(r)) },
    });
  });

  /** Options from a form (multipart or urlencoded) or a JSON object; the command is in the path. */
  async function readOptions(c: Context): Promise<Record<string, OptionValue> | Response> {
    const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim().toLowerCase();
    const opts: Record<string, OptionValue> = {};
    if (type === 'application/json') {
      let body: unknown;
      try {
        body = await c.req.json();
      } catch (error) {
        return c.json(
          {
            error: `the JSON body could not be read (${(error as Error).message}); send an object of option values, e.g. {"digit": 7}`,
          },
          400,
        );
      }
      if (typeof body !== 'object' || body === null || Array.isArray(body))
        return c.json({ error: 'the JSON body must be an object of option values, e.g. {"digit": 7}' }, 400);
      for (const [key, value] of Object.entries(body)) {
        if (typeof value !== 'string' && typeof value !== 'number' && typeof value !== 'boolean') {
          return c.json(
            {
              error: `option ${key.slice(0, 40)} must be a string, number or boolean in JSON; send images as multipart/form-data`,
            },
            400,
          );
        }
        opts[key] = value;
      }
      return opts;
    }
    if (type !== 'multipart/form-data' && type !== 'application/x-www-form-urlencoded') {
      return c.json(
        {
          error: `send the options as multipart/form-data (needed for images), application/x-www-form-urlencoded or application/json, not ${type || 'no body'}`,
        },
        415,
      );
    }
    let form: FormData;
    try {
      form = await c.req.formData();
    } catch (error) {
      return c.json({ error: `the form could not be read as ${type} (${(error as Error).message})` }, 400);
    }
    for (const [key, value] of form.entries()) {
      if (typeof value === 'string') {
        if (value !== '') opts[key] = value;
      } else if (value.size > 0) {
        const blob = value;
        const attachment: Attachment = {
          name: blob.name || key,
          contentType: blob.type || undefined,
          size: blob.size,
          fetch: async () => Buffer.from(await blob.arrayBuffer()),
        };
        opts[key] = attachment;
      }
    }
    return opts;
  }

  app.post('/api/run', (c) =>
    c.json(
      { error: 'name the command in the path: POST /api/run/<command>, with its options as form fields or JSON' },
      404,
    ),
  );

  app.post('/api/run/:command', limitBody, async (c) => {
    const requester = requesterOf(c);
    const command = c.req.param('command');
    const opts = await readOptions(c);
    if (opts instanceof Response) return opts;
    return answerRun(
      c,
      await startRun(whoOf(requester), (sink) => service.handle({ command, options: opts, requester }, sink)),
    );
  });

  app.post('/api/action', limitBody, async (c) => {
    const requester = requesterOf(c);
    const body = (await c.req.json().catch(() => ({}))) as { actionId?: unknown };
    if (typeof body?.actionId !== 'string' || body.actionId.length > 100)
      return c.json({ error: 'send JSON {"actionId": "<a button id, at most 100 characters>"}' }, 400);
    const actionId = body.actionId;
    return answerRun(c, await startRun(whoOf(requester), (sink) => service.handleAction(actionId, requester, sink)));
  });

  app.get('/api/runs/:id/events', (c) => {
    const run = runs.get(c.req.param('id'));
    // Another person's run is "not found" too: run ids are not meant to be shared.
    if (!run || !isSameWho(run.owner, whoOf(requesterOf(c))))
      return c.json({ error: 'no such run of yours (they are kept 10 minutes)' }, 404);
    return streamSSE(c, async (stream) => {
      let sent = 0;
      const waker = createWaker();
      const listener = (): void => waker.wake();
      run.listeners.add(listener);
      stream.onAbort(() => {
        run.listeners.delete(listener);
        waker.wake();
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
          // A comment line now and then keeps proxies from closing an idle stream.
          await waker.sleep(15_000);
          if (!stream.aborted && sent === run.replies.length && !run.done) await stream.write(': keep-alive\n\n');
        }
      } finally {
        run.listeners.delete(listener);
      }
    });
  });

  app.get('/api/jobs', async (c) => {
    const limit = Number(c.req.query('limit') ?? 20);
    const before = c.req.query('before');
    if (!Number.isInteger(limit) || limit < 1 || limit > 50)
      return c.json({ error: 'limit must be an integer from 1 to 50' }, 400);
    if (before !== undefined && !/^\d{1,15}$/.test(before))
      return c.json({ error: 'before must be a job number' }, 400);
    const replies = await service.recentJobs(requesterOf(c), {
      limit,
      beforeId: before === undefined ? undefined : Number(before),
    });
    return c.json({ jobs: replies.map(toWire) });
  });

  app.get('/api/gallery', async (c) => {
    const requester = requesterOf(c);
    const opts: Record<string, OptionValue> = { filter: c.req.query('filter') ?? 'recent', limit: 30 };
    const only = c.req.query('command');
    if (only) opts.command = only;
    let answer: Reply | undefined;
    await service.handle(
      { command: 'gallery', options: opts, requester },
      {
        send: async (r) => {
          answer = r;
        },
      },
    );
    if (!answer) return c.json({ error: 'the gallery gave no answer (it was logged)' }, 500);
    return c.json(toWire(answer), answer.type === 'error' ? statusOf(answer.code) : 200);
  });

  /** A file is yours (an output of your job), public (an output of a visible gallery post), or an admin's to see. */
  function maySee(sha: string, who: Who): boolean {
    if (store.users.isAdmin(who)) return true;
    return store.artifacts.jobsWithOutput(sha).some((jobId) => {
      const job = store.jobs.get(jobId);
      if (job && job.platform === who.platform && job.userId === who.userId) return true;
      const post = store.gallery.getByJob(jobId);
      return post !== undefined && post.removedAt === null;
    });
  }

  app.get('/api/files/:sha', (c) => {
    const sha = c.req.param('sha');
    if (!/^[0-9a-f]{64}$/.test(sha)) return c.text('bad file id: 64 hexadecimal digits', 400);
    const artifact = store.artifacts.get(sha);
    // Not 403: whether someone else's file exists is not for others to learn.
    if (!artifact || !existsSync(artifact.path) || !maySee(sha, whoOf(requesterOf(c))))
      return c.text('no such file of yours or in the gallery', 404);
    const body = Readable.toWeb(createReadStream(artifact.path)) as ReadableStream;
    return c.body(body, 200, {
      'content-type': artifact.mime,
      'content-length': String(artifact.bytes),
      'cache-control': 'private, no-cache',
    });
  });

  return app as unknown as Hono;
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
