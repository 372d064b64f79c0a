// Redis mode as operators run it, for the process tests: the bot (dist/src/bot/main.js with
// REDIS_URL) and `illusionist worker` processes as children, a real redis-server, and runs of chat
// commands through the web console whose SSE replies can be watched as they arrive.
import { spawn, type ChildProcess } from 'node:child_process';
import type { TestContext } from 'node:test';
import { childEnv, cliBin, startBotProcess, type BotProcess } from '../helpers/bot-process.js';

export interface WorkerProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  output(): string;
  readonly exited: Promise<number | NodeJS.Signals | null>;
  /** Resolves with the first match of `pattern` in its output (from `from` on); rejects on exit or after `ms`. */
  waitFor(pattern: RegExp, ms?: number, from?: number): Promise<RegExpExecArray>;
}

/** Job ids this worker took, in order, from its log lines. */
export function jobsTaken(worker: WorkerProcess): number[] {
  return [...worker.output().matchAll(/worker: job #(\d+) /g)].map((m) => Number(m[1]));
}

function watchOutput(child: ChildProcess, what: string) {
  let text = '';
  const listeners = new Set<() => void>();
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  let gone = false;
  void exited.then(() => {
    gone = true;
    for (const l of listeners) l();
  });
  const onData = (c: Buffer): void => {
    text += c.toString();
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const waitFor = (pattern: RegExp, ms = 60_000, from = 0): Promise<RegExpExecArray> =>
    new Promise((resolve, reject) => {
      const check = (): void => {
        const m = pattern.exec(text.slice(from));
        if (!m && !gone) return;
        listeners.delete(check);
        clearTimeout(timer);
        if (m) resolve(m);
        else reject(new Error(`${what} exited before printing ${pattern}:\n${text}`));
      };
      const timer = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`${what} printed no ${pattern} within ${ms / 1000} s:\n${text}`));
      }, ms);
      listeners.add(check);
      check();
    });
  return { output: () => text, exited, waitFor };
}

/** `illusionist worker --models <models>` on `redisUrl`, resolved once it serves; killed when the test ends. */
export async function startWorker(
  t: TestContext,
  redisUrl: string,
  options: { models?: string; lockMs?: number; stalledMs?: number; env?: Record<string, string> } = {},
): Promise<WorkerProcess> {
  const args = [
    'worker',
    '--models',
    options.models ?? 'mnist',
    '--lock-ms',
    String(options.lockMs ?? 2000),
    '--stalled-ms',
    String(options.stalledMs ?? 500),
  ];
  const child = spawn(process.execPath, [cliBin, ...args], {
    env: childEnv({ REDIS_URL: redisUrl, ...options.env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const watched = watchOutput(child, `worker ${child.pid}`);
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await watched.exited;
  });
  await watched.waitFor(/worker \d+: serving /, 120_000);
  return { child, pid: child.pid!, ...watched };
}

/** The bot in Redis mode on `dataDir`, resolved once its web console listens. */
export async function startRedisBot(
  t: TestContext,
  dataDir: string,
  redisUrl: string,
  env: Record<string, string> = {},
): Promise<BotProcess> {
  const bot = await startBotProcess(t, dataDir, { REDIS_URL: redisUrl, ...env });
  if (!/job queue: Redis at /.test(bot.output()))
    throw new Error(`the bot did not start in Redis mode:\n${bot.output()}`);
  return bot;
}

export type Reply = Record<string, unknown> & { type: string; jobId?: number };

export interface Run {
  readonly replies: Reply[];
  /** The first reply (so far or to come) that `test` accepts; rejects when the run ends without one or after `ms`. */
  waitFor(test: (reply: Reply) => boolean, ms?: number): Promise<Reply>;
  /** Every reply, once the run's stream has ended. */
  readonly done: Promise<Reply[]>;
}

/** Starts a chat command through the web console (as `token`'s account when given) and follows its replies. */
export async function startRun(
  url: string,
  command: string,
  options: Record<string, string>,
  token?: string,
): Promise<Run> {
  const form = new FormData();
  for (const [key, value] of Object.entries(options)) form.set(key, value);
  const headers: Record<string, string> = {
    'X-Illusionist': '1',
    ...(token ? { Authorization: `Bearer ${token}` } : {}),
  };
  const started = await fetch(`${url}/api/run/${command}`, { method: 'POST', body: form, headers });
  const answer = (await started.json()) as { runId?: string; reply?: Reply };
  const replies: Reply[] = [];
  const listeners = new Set<() => void>();
  let ended = false;
  let done: Promise<Reply[]>;
  if (!answer.runId || !started.ok) {
    // Refused at once (a bad option, a limit): the one reply is the whole run.
    if (answer.reply) replies.push(answer.reply);
    ended = true;
    done = Promise.resolve(replies);
  } else {
    const events = await fetch(`${url}/api/runs/${answer.runId}/events`, { headers });
    done = (async () => {
      const decoder = new TextDecoder();
      let buffer = '';
      for await (const chunk of events.body as unknown as AsyncIterable<Uint8Array>) {
        buffer += decoder.decode(chunk, { stream: true });
        for (let cut = buffer.indexOf('\n\n'); cut >= 0; cut = buffer.indexOf('\n\n')) {
          const block = buffer.slice(0, cut);
          buffer = buffer.slice(cut + 2);
          const data = /^data: (.*)$/m.exec(block)?.[1];
          if (/^event: reply$/m.test(block) && data !== undefined) {
            replies.push(JSON.parse(data) as Reply);
            for (const l of listeners) l();
          }
        }
      }
      return replies;
    })()
      // The bot went away mid-stream (a test that stops it): the run ends with what came.
      .catch(() => replies)
      .finally(() => {
        ended = true;
        for (const l of listeners) l();
      });
  }
  return {
    replies,
    done,
    waitFor: (test, ms = 120_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          const found = replies.find(test);
          if (!found && !ended) return;
          listeners.delete(check);
          clearTimeout(timer);
          if (found) resolve(found);
          else reject(new Error(`/${command} ended without the reply looked for:\n${JSON.stringify(replies, brief)}`));
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`/${command}: no such reply within ${ms / 1000} s:\n${JSON.stringify(replies, brief)}`));
        }, ms);
        listeners.add(check);
        check();
      }),
  };
}

/** JSON.stringify's replacer that shortens data URLs in failure messages. */
export function brief(_key: string, value: unknown): unknown {
  return typeof value === 'string' && value.length > 120 ? `${value.slice(0, 60)}…(${value.length})` : value;
}

/** The bytes of every file a result reply names, fetched from the console that made it. */
export async function resultFiles(
  url: string,
  reply: Reply,
  token?: string,
): Promise<Array<{ name: string; data: Buffer }>> {
  const files = (reply.files ?? []) as Array<{ name: string; url: string }>;
  return Promise.all(
    files.map(async (f) => {
      const res = await fetch(`${url}${f.url}`, { headers: token ? { Authorization: `Bearer ${token}` } : {} });
      if (!res.ok) throw new Error(`GET ${f.url}: ${res.status}`);
      return { name: f.name, data: Buffer.from(await res.arrayBuffer()) };
    }),
  );
}

export const isResult =
  (jobId?: number) =>
  (r: Reply): boolean =>
    r.type === 'result' && (jobId === undefined || r.jobId === jobId);
export const isEnd = (r: Reply): boolean => r.type === 'result' || r.type === 'failed' || r.type === 'error';
