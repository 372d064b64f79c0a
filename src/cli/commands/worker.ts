// `illusionist worker`: an engine host for the bot's Redis mode. It serves the model families it
// is told (--models), runs the same engine handlers in the same JobRunner and worker thread as the
// bot's embedded mode, and runs until SIGTERM/SIGINT (the running job gets --grace to finish,
// then goes back to its queue).
import { fileURLToPath } from 'node:url';
import type { Command } from 'commander';
import { JobRunner } from '../../jobs/job-runner.js';
import { FAMILIES, isFamily, redactedUrl, redisConnection, type Family } from '../../jobs/redis-shared.js';
import { RedisWorkerQueue } from '../../jobs/redis-worker.js';
import { onShutdownSignal } from '../../jobs/shutdown.js';
import { InputError } from '../../engine/errors.js';
import { parseIntOption } from '../errors.js';

interface WorkerCliOptions {
  models: string;
  redis?: string;
  prefix?: string;
  handlers?: string;
  lockMs: string;
  stalledMs: string;
  graceMs: string;
}

const engineHandlers = fileURLToPath(new URL('../../jobs/engine-handlers.js', import.meta.url));

export function registerWorker(program: Command): void {
  program
    .command('worker')
    .description('run engine jobs the bot queues in Redis (REDIS_URL): a GPU host serving some model families')
    .option('--models <families>', `comma-separated families to serve (${FAMILIES.join(', ')})`, FAMILIES.join(','))
    .option('--redis <url>', 'Redis to take jobs from (default: REDIS_URL)')
    .option('--prefix <prefix>', "key prefix, the same as the bot's (default: REDIS_PREFIX, else illusionist)")
    .option('--handlers <modules>', 'comma-separated handler modules (default: the engine handlers)')
    .option(
      '--lock-ms <ms>',
      "job lock duration: a killed worker's job moves to another worker after about this",
      '30000',
    )
    .option('--stalled-ms <ms>', "how often to look for killed workers' jobs", '30000')
    .option(
      '--grace-ms <ms>',
      'on SIGTERM, how long the running job may finish before it goes back to its queue',
      '10000',
    )
    .action(async (o: WorkerCliOptions) => runWorker(o));
}

function parseFamilies(text: string): Family[] {
  const names = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (names.length === 0) throw new InputError(`--models needs at least one family (allowed: ${FAMILIES.join(', ')})`);
  for (const name of names) {
    if (!isFamily(name)) throw new InputError(`--models: unknown family '${name}' (allowed: ${FAMILIES.join(', ')})`);
  }
  return [...new Set(names as Family[])];
}

async function runWorker(o: WorkerCliOptions): Promise<void> {
  const families = parseFamilies(o.models);
  const url = o.redis ?? process.env.REDIS_URL?.trim();
  if (!url) throw new InputError('the worker needs Redis: set REDIS_URL (redis://host:6379) or pass --redis');
  try {
    redisConnection(url);
  } catch (error) {
    throw new InputError((error as Error).message);
  }
  const lockDurationMs = parseIntOption('lock-ms', o.lockMs, 100, 3_600_000);
  const stalledIntervalMs = parseIntOption('stalled-ms', o.stalledMs, 100, 3_600_000);
  const graceMs = parseIntOption('grace-ms', o.graceMs, 0, 3_600_000);
  const handlerModules = o.handlers
    ? o.handlers
        .split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : [engineHandlers];
  const prefix = o.prefix ?? (process.env.REDIS_PREFIX?.trim() || undefined);

  const queue = new RedisWorkerQueue({ url, families, prefix, lockDurationMs, stalledIntervalMs });
  const runner = new JobRunner(queue, { handlerModules, pollIntervalMs: 100 });
  await runner.start();
  process.stderr.write(`worker ${process.pid}: serving ${families.join(', ')} from ${redactedUrl(url)}\n`);
  await new Promise<void>((resolve) => {
    onShutdownSignal(async (signal) => {
      process.stderr.write(`${signal}: finishing the running job (up to ${graceMs} ms), then leaving\n`);
      try {
        await runner.stop({ graceMs });
        await queue.close();
        return 0;
      } finally {
        resolve();
      }
    });
  });
}
