// `npm start`: the bot in one process: store, queue, the engine worker (engine-handlers), the
// local web console, and Discord/Slack when their tokens are in the environment.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandService } from '../commands/contract.js';
import { createCommandService } from '../commands/service.js';
import { listCommittedModels } from '../engine/flow/checkpoints.js';
import { JobRunner, onShutdownSignal, shutDown, SqliteQueue } from '../jobs/index.js';
import type { RedisQueue } from '../jobs/redis-queue.js';
import { redactedUrl } from '../jobs/redis-shared.js';
import { openStore, type Store } from '../store/index.js';
import { discordFrontEnd, slackFrontEnd } from './chat-front-ends.js';
import { ConfigError, loadConfig, loadEnvFile, type BotConfig } from './config.js';
import { startWebConsole, isLoopback, type WebConsole } from './web/server.js';

/** What a chat front end gets to start with. */
export interface FrontEndContext {
  readonly service: CommandService;
  readonly store: Store;
  readonly config: BotConfig;
  /** Fires when a shutdown interrupts the start; a front end still connecting should give up. */
  readonly signal?: AbortSignal | undefined;
}

/**
 * A chat front end (Discord, Slack). The adapters add themselves to `frontEnds`; each decides
 * from the environment whether it runs (e.g. DISCORD_TOKEN present).
 */
export interface FrontEndStarter {
  readonly name: string;
  enabled(env: BotConfig['env']): boolean;
  start(context: FrontEndContext): Promise<{ stop(): Promise<void> }>;
}

/** Registered chat front ends; src/bot/discord*.ts and src/bot/slack*.ts push theirs here. */
export const frontEnds: FrontEndStarter[] = [discordFrontEnd, slackFrontEnd];

export interface RunningBot {
  readonly store: Store;
  readonly queue: SqliteQueue;
  /** The engine worker thread; none in Redis mode, where `illusionist worker` processes run the jobs. */
  readonly runner: JobRunner | undefined;
  /** Redis mode (REDIS_URL): what the commands enqueue to. */
  readonly redis: RedisQueue | undefined;
  readonly service: CommandService;
  readonly web: WebConsole;
  /** Stops the chat front ends and the web console (the runner and store stay up). */
  closeFrontEnds(): Promise<void>;
  /** Stops front ends and the web console, then the runner, then closes the store. */
  stop(): Promise<void>;
}

const engineHandlers = fileURLToPath(new URL('../jobs/engine-handlers.js', import.meta.url));

export interface StartOptions {
  readonly starters?: readonly FrontEndStarter[];
  readonly log?: (line: string) => void;
  /** A shutdown during the start: what has started is stopped and the start rejects with StartInterrupted. */
  readonly signal?: AbortSignal;
}

/** What has been opened so far, undone in reverse when the start fails or is interrupted. */
type Opened = Array<() => Promise<void> | void>;

export async function startBot(config: BotConfig, options: StartOptions = {}): Promise<RunningBot> {
  const opened: Opened = [];
  try {
    return await openBot(config, options, opened);
  } catch (error) {
    for (const undo of opened.reverse()) {
      try {
        await undo();
      } catch (undoError) {
        (options.log ?? console.error)(`while stopping: ${(undoError as Error).message}`);
      }
    }
    throw error;
  }
}

async function openBot(config: BotConfig, options: StartOptions, opened: Opened): Promise<RunningBot> {
  const log = options.log ?? ((line: string) => console.log(line));
  const { signal } = options;
  const checkpoint = (): void => {
    if (signal?.aborted) throw new StartInterrupted();
  };
  mkdirSync(config.dataDir, { recursive: true });
  // Without accounts the console's one user is the operator at this machine: admin (/train works).
  const localOnly = config.webAccounts.length === 0;
  const admins = localOnly ? [...config.admins, 'web:local'] : config.admins;
  const store = openStore(join(config.dataDir, 'illusionist.db'), {
    users: { admins, defaults: { dailyQuota: config.dailyQuota, maxActiveJobs: config.maxActiveJobs } },
  });
  opened.push(() => store.close());
  const committed = listCommittedModels().map((m) => ({ modelKind: m.name, name: m.name, path: m.path }));
  const registered = store.training.registerCommittedModels(committed);
  if (registered.added.length) log(`registered committed models: ${registered.added.map((c) => c.name).join(', ')}`);
  if (committed.length === 0)
    log('no committed models in models/: /digits and mnist-flow need one (an admin can /train)');

  const queue = new SqliteQueue(store, { maxQueued: config.maxQueued, defaultTimeLimitMs: config.jobTimeLimitMs });
  let runner: JobRunner | undefined;
  let redis: RedisQueue | undefined;
  if (config.redisUrl) {
    // Loaded only in Redis mode: the embedded mode does not load BullMQ at all.
    const { RedisQueue } = await import('../jobs/redis-queue.js');
    redis = new RedisQueue(queue, {
      url: config.redisUrl,
      prefix: config.redisPrefix,
      log: (line) => console.error(line),
    });
    const started = redis;
    opened.push(() => started.stop());
    await redis.start();
    log(`job queue: Redis at ${redactedUrl(config.redisUrl)}; engine jobs run on \`illusionist worker\` processes`);
  } else {
    const local = new JobRunner(queue, { handlerModules: [engineHandlers] });
    runner = local;
    // Interrupted by a signal: the running job gets the usual grace; a failed start stops at once.
    opened.push(() => local.stop({ graceMs: signal?.aborted ? 10_000 : 0 }));
    await local.start();
  }
  checkpoint();
  const service = createCommandService({
    store,
    queue: redis ?? queue,
    dataDir: config.dataDir,
    limits: {
      maxPromptLength: config.maxPromptLength,
      maxUploadBytes: config.maxUploadBytes,
      maxUploadPixels: config.maxUploadPixels,
    },
    blocklist: config.blocklist,
    rateLimit: { max: config.ratePerMinute, windowMs: 60_000 },
  });
  const web = await startWebConsole({
    service,
    store,
    host: config.host,
    port: config.port,
    accounts: config.webAccounts,
    sessionSecret: config.sessionSecret,
    maxBodyBytes: 2 * config.maxUploadBytes + 1024 * 1024,
  });
  opened.push(() => web.close());
  log(
    `web console: ${web.url}${localOnly ? '' : ` (${config.webAccounts.length} account(s); each signs in once at /?token=<their token>)`}`,
  );
  checkpoint();

  const started: Array<{ name: string; stop(): Promise<void> }> = [];
  for (const fe of options.starters ?? frontEnds) {
    if (!fe.enabled(config.env)) continue;
    try {
      const handle = await untilAborted(fe.start({ service, store, config, signal }), signal);
      const entry = { name: fe.name, stop: () => handle.stop() };
      started.push(entry);
      opened.push(() => entry.stop());
    } catch (error) {
      if (error instanceof StartInterrupted) throw error;
      // A misconfigured front end stops the whole bot cleanly (startBot undoes what is open).
      throw new FrontEndStartError(fe.name, error);
    }
    log(`${fe.name}: connected`);
    checkpoint();
  }

  let stopped = false;
  let frontEndsClosed = false;
  const stopFrontEnds = async (): Promise<void> => {
    if (frontEndsClosed) return;
    frontEndsClosed = true;
    for (const s of started.reverse())
      await s.stop().catch((error: unknown) => console.error(`${s.name}: stop failed:`, error));
    await web.close();
  };
  return {
    store,
    queue,
    runner,
    redis,
    service,
    web,
    closeFrontEnds: stopFrontEnds,
    async stop() {
      if (stopped) return;
      stopped = true;
      await stopFrontEnds();
      await runner?.stop({ graceMs: 10_000 });
      await redis?.stop();
      store.close();
    },
  };
}

/** The start was cut short by `signal` (a SIGTERM while connecting); what it opened is closed. */
export class StartInterrupted extends Error {
  override readonly name = 'StartInterrupted';
  constructor() {
    super('the start was interrupted by a shutdown');
  }
}

/**
 * `start`, or a StartInterrupted as soon as `signal` fires: a front end still connecting (a
 * socket-mode handshake that hangs) must not hold the shutdown up. If it connects later anyway,
 * it is stopped then.
 */
function untilAborted<T extends { stop(): Promise<void> }>(
  start: Promise<T>,
  signal: AbortSignal | undefined,
): Promise<T> {
  if (!signal) return start;
  const stopLate = (): void =>
    void start
      .then(
        (late) => late.stop(),
        () => {},
      )
      .catch(() => {});
  if (signal.aborted) {
    stopLate();
    return Promise.reject(new StartInterrupted());
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => {
      stopLate();
      reject(new StartInterrupted());
    };
    signal.addEventListener('abort', onAbort, { once: true });
    start.then(
      (handle) => {
        signal.removeEventListener('abort', onAbort);
        resolve(handle);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** A chat front end that could not start (bad token, missing secret): said in one line. */
export class FrontEndStartError extends Error {
  override readonly name = 'FrontEndStartError';
  constructor(
    readonly frontEnd: string,
    cause: unknown,
  ) {
    super(`${frontEnd} could not start: ${(cause as Error)?.message ?? String(cause)}`, { cause });
  }
}

async function main(): Promise<void> {
  let config: BotConfig;
  try {
    loadEnvFile();
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`configuration: ${error.message} (see .env.example)`);
      process.exit(2);
    }
    throw error;
  }
  if (!isLoopback(config.host) && config.webAccounts.length === 0) {
    console.error(
      `configuration: HOST=${config.host} exposes the console to other machines; set WEB_USERS (or ACCESS_TOKEN) too (see .env.example)`,
    );
    process.exit(2);
  }
  // Signals are handled from before the first connection: a SIGTERM while a front end is still
  // connecting stops what has started (re-queueing a running job) instead of killing the process.
  const interrupt = new AbortController();
  const starting = startBot(config, { signal: interrupt.signal });
  onShutdownSignal(async (signal) => {
    console.error(`${signal}: finishing the running job, then closing the database`);
    interrupt.abort();
    let bot: RunningBot;
    try {
      bot = await starting;
    } catch {
      // The start was cut short (or failed) and has closed what it opened.
      return 0;
    }
    if (bot.runner) return shutDown(bot.runner, bot.store, { beforeClose: () => bot.closeFrontEnds() });
    // Redis mode: running jobs go on on their workers; their results wait in Redis for the next start.
    return bot.stop().then(
      () => 0,
      (error: unknown) => {
        console.error(`shutdown: ${(error as Error).message}`);
        return 1;
      },
    );
  });
  try {
    await starting;
  } catch (error) {
    // The signal handler exits once the interrupted start has closed everything.
    if (error instanceof StartInterrupted) return;
    throw error;
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  main().catch((error: unknown) => {
    if (error instanceof FrontEndStartError) {
      console.error(`error: ${error.message} (see .env.example and docs/chat-platforms.md)`);
      process.exit(2);
    }
    console.error(process.env.ILLUSIONIST_DEBUG ? error : `error: ${(error as Error).message}`);
    process.exit(1);
  });
}
