// The bot as operators run it: a child process of dist/src/bot/main.js on a data folder, driven
// through its web console on loopback, stopped (or killed -9) by the test.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';

export const botMain = fileURLToPath(new URL('../../src/bot/main.js', import.meta.url));
export const cliBin = fileURLToPath(new URL('../../src/cli/bin.js', import.meta.url));

export interface BotProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** The web console, e.g. http://127.0.0.1:40123 */
  readonly url: string;
  /** Everything it wrote to stdout and stderr so far. */
  output(): string;
  /** Resolves with the exit code (or signal) once it has exited. */
  readonly exited: Promise<number | NodeJS.Signals | null>;
}

/** The environment without chat tokens (so only the web console starts), plus `extra`. */
export function childEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (/^(DISCORD|SLACK)_/.test(key) || key === 'PORT' || key === 'HOST' || key === 'ACCESS_TOKEN') continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

/** Starts the bot on `dataDir`, resolving once its web console listens; it is killed when the test ends. */
export async function startBotProcess(
  t: TestContext,
  dataDir: string,
  env: Record<string, string> = {},
): Promise<BotProcess> {
  const child = spawn(process.execPath, [botMain], {
    env: childEnv({ DATA_DIR: dataDir, PORT: '0', ...env }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let text = '';
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  const url = await new Promise<string>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      text += chunk.toString();
      const m = /web console: (http:\/\/\S+)/.exec(text);
      if (m) resolve(m[1]!);
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => reject(new Error(`the bot exited (${code}) before its web console started:\n${text}`)));
  });
  return { child, pid: child.pid!, url, output: () => text, exited };
}

/** Runs a chat command through the web console and returns its replies once the final one came. */
export async function runWebCommand(
  url: string,
  command: string,
  options: Record<string, string>,
): Promise<Array<Record<string, unknown>>> {
  const form = new FormData();
  for (const [key, value] of Object.entries(options)) form.set(key, value);
  const started = await fetch(`${url}/api/run/${command}`, {
    method: 'POST',
    body: form,
    headers: { 'X-Illusionist': '1' },
  });
  if (!started.ok) throw new Error(`POST /api/run/${command}: ${started.status} ${await started.text()}`);
  const { runId } = (await started.json()) as { runId: string };
  const events = await fetch(`${url}/api/runs/${runId}/events`);
  const replies: Array<Record<string, unknown>> = [];
  const body = await events.text(); // the stream ends after the final reply
  for (const block of body.split('\n\n')) {
    if (!/^event: reply$/m.test(block)) continue;
    const data = /^data: (.*)$/m.exec(block)?.[1];
    if (data !== undefined) replies.push(JSON.parse(data) as Record<string, unknown>);
  }
  return replies;
}

export interface CliProcess {
  readonly child: ChildProcess;
  stdout(): string;
  stderr(): string;
  /** The exit code (or the signal) once it has exited. */
  readonly exited: Promise<number | NodeJS.Signals | null>;
  /** Resolves once stderr matches `pattern`; rejects if the process exits first or after `ms` (default 120 s). */
  waitForStderr(pattern: RegExp, ms?: number): Promise<void>;
}

/** Starts `illusionist <args>` on `dataDir` without waiting for it; it is killed when the test ends. */
export function spawnCli(t: TestContext, dataDir: string, args: string[]): CliProcess {
  const child = spawn(process.execPath, [cliBin, ...args], {
    env: childEnv({ DATA_DIR: dataDir }),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const waiters = new Set<() => void>();
  child.stdout!.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr!.on('data', (chunk: Buffer) => {
    err += chunk.toString();
    for (const check of waiters) check();
  });
  const exited = new Promise<number | NodeJS.Signals | null>((resolve) =>
    child.once('exit', (code, signal) => resolve(code ?? signal)),
  );
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitForStderr: (pattern, ms = 120_000) =>
      new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`the CLI's stderr did not match ${pattern} within ${ms / 1000} s:\n${err}`));
        }, ms);
        const check = (): void => {
          if (!pattern.test(err)) return;
          waiters.delete(check);
          clearTimeout(timer);
          resolve();
        };
        waiters.add(check);
        check();
        void exited.then((code) => {
          clearTimeout(timer);
          reject(new Error(`the CLI exited (${code}) before its stderr matched ${pattern}:\n${err}`));
        });
      }),
  };
}

/** Resolves with the exit code, or rejects after `ms` (the process is killed when the test ends). */
export async function exitWithin(
  proc: { exited: Promise<number | NodeJS.Signals | null> },
  ms: number,
  what: string,
): Promise<number | NodeJS.Signals | null> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      proc.exited,
      new Promise<never>(
        (_, reject) => (timer = setTimeout(() => reject(new Error(`${what} did not exit within ${ms / 1000} s`)), ms)),
      ),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
