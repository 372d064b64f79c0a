// `npm start` as operators run it: the real dist/src/bot/main.js as a child process, with Discord
// and Slack faked on loopback (their protocols, not the SDKs), a real SQLite file and the real
// engine worker. Covers connecting, signals during start and shutdown, and the .env file.
import { test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { openStore } from '../../src/store/index.js';
import { startFakeDiscord } from '../helpers/fake-discord.js';
import { startFakeSlack } from '../helpers/fake-slack.js';
import { makeTempDir } from '../helpers/temp-dir.js';

const mainJs = fileURLToPath(new URL('../../src/bot/main.js', import.meta.url));

/** Variables main.js reads; the test's own environment must not leak any of them in. */
const BOT_VARIABLES =
  /^(PORT|HOST|ACCESS_TOKEN|DATA_DIR|ADMINS|DAILY_QUOTA|MAX_|RATE_LIMIT|JOB_TIME_LIMIT|PROMPT_BLOCKLIST|DISCORD_|SLACK_)/;

interface BotProcess {
  readonly child: ChildProcess;
  readonly stdout: () => string;
  readonly stderr: () => string;
  /** Resolves with the first stdout/stderr match of `pattern`; rejects if the process exits first. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startMain(t: TestContext, options: { cwd: string; env: Record<string, string> }): BotProcess {
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !BOT_VARIABLES.test(k)));
  const child = spawn(process.execPath, [mainJs], {
    cwd: options.cwd,
    env: { ...base, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  const listeners = new Set<() => void>();
  child.stdout!.on('data', (d: Buffer) => {
    out += d.toString();
    for (const l of listeners) l();
  });
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    for (const l of listeners) l();
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  let done = false;
  void exited.then(() => {
    done = true;
    for (const l of listeners) l();
  });
  t.after(async () => {
    if (!done) {
      child.kill('SIGKILL');
      await exited;
    }
  });
  return {
    child,
    stdout: () => out,
    stderr: () => err,
    exited,
    waitFor(pattern, timeoutMs = 60_000) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          const m = pattern.exec(out) ?? pattern.exec(err);
          if (m || done) {
            listeners.delete(check);
            clearTimeout(timer);
            if (m) resolve(m);
            else reject(new Error(`main.js exited before printing ${pattern}\nstdout: ${out}\nstderr: ${err}`));
          }
        };
        const timer = setTimeout(() => {
          listeners.delete(check);
          reject(new Error(`main.js printed no ${pattern} in ${timeoutMs} ms\nstdout: ${out}\nstderr: ${err}`));
        }, timeoutMs);
        listeners.add(check);
        check();
      });
    },
  };
}

/** Starts a long /train through the web console and resolves once the worker is running it. */
async function startLongJob(consoleUrl: string): Promise<number> {
  const form = new FormData();
  form.set('epochs', '100');
  const started = await fetch(`${consoleUrl}/api/run/train`, {
    method: 'POST',
    headers: { 'X-Illusionist': '1' },
    body: form,
  });
  assert.equal(started.status, 200, await started.clone().text());
  const { runId } = (await started.json()) as { runId: string };
  const events = await fetch(`${consoleUrl}/api/runs/${runId}/events`);
  const reader = events.body!.getReader();
  let text = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) throw new Error(`the run ended before the job started: ${text}`);
    text += Buffer.from(value).toString('utf8');
    const progress = /"type":"progress","jobId":(\d+)/.exec(text);
    if (progress) {
      await reader.cancel();
      return Number(progress[1]);
    }
    const failed = /"type":"(error|failed)"[^\n]*/.exec(text);
    if (failed) throw new Error(`the job did not start: ${failed[0]}`);
  }
}

function jobStatuses(dataDir: string): Record<number, string> {
  const store = openStore(join(dataDir, 'illusionist.db'));
  try {
    return Object.fromEntries(store.jobs.list().map((j) => [j.id, j.status]));
  } finally {
    store.close();
  }
}

test('main.js with DISCORD_TOKEN connects to the (fake) gateway, answers /help, and exits 0 on SIGTERM', {
  timeout: 120_000,
}, async (t) => {
  const dir = makeTempDir(t);
  const fake = await startFakeDiscord();
  t.after(() => fake.close());
  const bot = startMain(t, {
    cwd: dir,
    env: {
      PORT: '0',
      DATA_DIR: join(dir, 'data'),
      DISCORD_TOKEN: 'fake-token.not-a-secret',
      DISCORD_API_URL: fake.restApi,
    },
  });
  await bot.waitFor(/^discord: connected$/m);
  assert.equal(fake.identifiedWith(), 'fake-token.not-a-secret');

  const token = fake.slashCommand('help', []);
  const answer = await fake.waitFor((c) => c.path.includes(`/${token}`) && c.method === 'PATCH');
  assert.match(
    String(answer.body.content ?? JSON.stringify(answer.body.embeds)),
    /digits/,
    'the help lists the commands',
  );

  bot.child.kill('SIGTERM');
  assert.deepEqual(await bot.exited, { code: 0, signal: null }, bot.stderr());
  assert.doesNotMatch(bot.stderr(), /TypeError|Error:/);
});

test('SIGTERM while Slack socket mode is still connecting stops the bot cleanly and leaves no job running', {
  timeout: 120_000,
}, async (t) => {
  const dir = makeTempDir(t);
  const dataDir = join(dir, 'data');
  const fake = await startFakeSlack({ botToken: 'xoxb-fake', hang: ['apps.connections.open'] });
  t.after(() => fake.close());
  const bot = startMain(t, {
    cwd: dir,
    env: {
      PORT: '0',
      DATA_DIR: dataDir,
      SLACK_BOT_TOKEN: 'xoxb-fake',
      SLACK_APP_TOKEN: 'xapp-fake',
      SLACK_API_URL: fake.apiUrl,
    },
  });
  const [, consoleUrl] = await bot.waitFor(/^web console: (\S+)/m);
  await fake.waitFor((c) => c.method === 'apps.connections.open');
  const jobId = await startLongJob(consoleUrl!);

  bot.child.kill('SIGTERM');
  assert.deepEqual(await bot.exited, { code: 0, signal: null }, `stdout: ${bot.stdout()}\nstderr: ${bot.stderr()}`);
  assert.doesNotMatch(bot.stdout(), /slack: connected/);
  assert.match(bot.stderr(), /SIGTERM: finishing the running job/);
  const statuses = jobStatuses(dataDir);
  assert.ok(statuses[jobId] && statuses[jobId] !== 'running', `job #${jobId} is ${statuses[jobId]}`);
});

test('a second SIGTERM or a SIGINT during shutdown is logged and ignored: exit 0, the job re-queued, no abort', {
  timeout: 120_000,
}, async (t) => {
  const dir = makeTempDir(t);
  const dataDir = join(dir, 'data');
  const bot = startMain(t, { cwd: dir, env: { PORT: '0', DATA_DIR: dataDir } });
  const [, consoleUrl] = await bot.waitFor(/^web console: (\S+)/m);
  const jobId = await startLongJob(consoleUrl!);

  bot.child.kill('SIGTERM');
  // The long job keeps the shutdown in its grace time, so these land while it is under way.
  await bot.waitFor(/SIGTERM: finishing the running job/);
  bot.child.kill('SIGTERM');
  await bot.waitFor(/SIGTERM again: already shutting down/);
  bot.child.kill('SIGINT');
  await bot.waitFor(/SIGINT again: already shutting down/);
  assert.deepEqual(await bot.exited, { code: 0, signal: null }, bot.stderr());
  assert.doesNotMatch(bot.stderr(), /Napi|abort/i);
  assert.equal(jobStatuses(dataDir)[jobId], 'queued', 'interrupted at a step and re-queued for the next start');
});

test('a Slack bot token that auth.test refuses fails the start with one line and exit code 2', {
  timeout: 120_000,
}, async (t) => {
  const dir = makeTempDir(t);
  const fake = await startFakeSlack({ botToken: 'xoxb-the-real-one' });
  t.after(() => fake.close());
  const bot = startMain(t, {
    cwd: dir,
    env: {
      PORT: '0',
      DATA_DIR: join(dir, 'data'),
      SLACK_BOT_TOKEN: 'xoxb-revoked',
      SLACK_SIGNING_SECRET: 'secret',
      SLACK_PORT: '0',
      SLACK_HOST: '127.0.0.1',
      SLACK_API_URL: fake.apiUrl,
    },
  });
  assert.deepEqual(await bot.exited, { code: 2, signal: null }, bot.stderr());
  assert.doesNotMatch(bot.stdout(), /slack: connected/);
  assert.equal(bot.stderr().trim().split('\n').length, 1, bot.stderr());
  assert.match(bot.stderr(), /^error: slack could not start: Slack refused SLACK_BOT_TOKEN \(auth\.test: not_authed\)/);
  assert.ok(fake.calls.some((c) => c.method === 'auth.test'));
});

test('.env in the working folder is read, and the real environment wins over it', { timeout: 120_000 }, async (t) => {
  const dir = makeTempDir(t);
  writeFileSync(join(dir, '.env'), '# as copied from .env.example\nPORT=0\nDATA_DIR=from-dotenv\nMAX_QUEUED=0\n');

  // MAX_QUEUED=0 is refused: the file is read.
  const refused = startMain(t, { cwd: dir, env: {} });
  assert.equal((await refused.exited).code, 2);
  assert.match(refused.stderr(), /configuration: MAX_QUEUED must be an integer from 1 to 100000, got "0"/);

  // The environment's MAX_QUEUED wins; PORT and DATA_DIR still come from the file.
  const bot = startMain(t, { cwd: dir, env: { MAX_QUEUED: '5' } });
  await bot.waitFor(/^web console: http:\/\/127\.0\.0\.1:\d+/m);
  assert.ok(
    existsSync(join(dir, 'from-dotenv', 'illusionist.db')),
    'DATA_DIR from .env, relative to the working folder',
  );
  bot.child.kill('SIGTERM');
  assert.equal((await bot.exited).code, 0);
});
