// Benchmark of the job system's overhead: jobs/s through the SQLite queue and engine worker with a
// trivial job, p50/p95 latency from enqueue to the first progress event, and memory over many jobs.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { JobRunner } from '../src/jobs/job-runner.js';
import { SqliteQueue } from '../src/jobs/sqlite-queue.js';
import type { JobResult } from '../src/jobs/types.js';
import { waitForJob } from '../src/jobs/wait-for-job.js';
import { openStore } from '../src/store/index.js';
import type { QueueClient } from '../src/jobs/queue.js';
import { RedisQueue } from '../src/jobs/redis-queue.js';
import { FAMILIES } from '../src/jobs/redis-shared.js';
import { RedisWorkerQueue } from '../src/jobs/redis-worker.js';

export interface QueueBenchOptions {
  /** Jobs enqueued at once for the throughput figure. Default 300. */
  readonly jobs?: number;
  /** Jobs run one at a time for the latency figures. Default 100. */
  readonly latencyJobs?: number;
  /** Handler modules and command to time; default the trivial benchmark job. */
  readonly handlerModules?: readonly string[];
  readonly command?: string;
  readonly params?: unknown;
}

export interface QueueBenchFigures {
  readonly jobs: number;
  readonly jobsPerSecond: number;
  /** Wall time per job through enqueue, claim, worker round trip, artifact write and completion. */
  readonly overheadMsPerJob: number;
  /** The same with one small output file per job (durable write: fsync of file and folder). */
  readonly overheadMsPerJobWithFile: number;
  readonly enqueueToFirstProgressP50Ms: number;
  readonly enqueueToFirstProgressP95Ms: number;
  /** Main-thread heap and process RSS before and after all jobs, and the worker's heap at the end (MiB). */
  readonly memory: {
    readonly mainHeapBeforeMiB: number;
    readonly mainHeapAfterMiB: number;
    readonly rssBeforeMiB: number;
    readonly rssAfterMiB: number;
    readonly workerHeapFirstMiB: number;
    readonly workerHeapLastMiB: number;
  };
}

const mib = (bytes: number) => Math.round((bytes / 2 ** 20) * 10) / 10;

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

/** Runs the benchmark on a temporary database and returns the figures (nothing is printed). */
export async function benchQueue(options: QueueBenchOptions = {}): Promise<QueueBenchFigures> {
  const jobs = options.jobs ?? 300;
  const latencyJobs = options.latencyJobs ?? 100;
  const handlerModules = options.handlerModules ?? [fileURLToPath(new URL('./queue-handlers.js', import.meta.url))];
  const command = options.command ?? 'trivial';
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'illusionist-bench-'));
  const store = openStore(path.join(dir, 'bench.db'), { users: { defaults: { maxActiveJobs: 1e9, dailyQuota: 1e9 } } });
  const queue = new SqliteQueue(store, { maxQueued: 1e9 });
  const runner = new JobRunner(queue, { handlerModules });
  const who = { platform: 'cli', userId: 'bench' };
  try {
    await runner.start();
    const heapUsed = (result: JobResult | undefined) => result?.metrics.workerHeapUsed ?? NaN;
    // Warm-up: worker JIT and prepared statements.
    const warm = await queue.enqueue({ who, command, params: options.params ?? {}, seed: 0 });
    const workerHeapFirst = heapUsed((await waitForJob(queue, warm.jobId)).result as JobResult | undefined);
    global.gc?.();
    const before = process.memoryUsage();

    // Throughput: everything enqueued at once, timed until the last job is done.
    const started = performance.now();
    const ids: number[] = [];
    for (let i = 0; i < jobs; i++)
      ids.push((await queue.enqueue({ who, command, params: options.params ?? {}, seed: i + 1 })).jobId);
    const last = await waitForJob(queue, ids[ids.length - 1]!);
    const elapsedMs = performance.now() - started;

    // Throughput again with an output file per job, the cost of durable artifacts.
    const withFileStarted = performance.now();
    const withFileJobs = Math.max(1, Math.floor(jobs / 3));
    let lastWithFile = 0;
    for (let i = 0; i < withFileJobs; i++) {
      lastWithFile = (
        await queue.enqueue({ who, command, params: { ...(options.params as object), file: true }, seed: 1e6 + i })
      ).jobId;
    }
    await waitForJob(queue, lastWithFile);
    const withFileMs = performance.now() - withFileStarted;

    // Latency: one job at a time, enqueue to its first progress event.
    const latencies: number[] = [];
    for (let i = 0; i < latencyJobs; i++) {
      const t0 = performance.now();
      let first = NaN;
      const { jobId } = await queue.enqueue({ who, command, params: options.params ?? {}, seed: jobs + i + 1 });
      const done = waitForJob(queue, jobId, {
        onEvent: (e) => {
          if (e.type === 'progress' && Number.isNaN(first)) first = performance.now() - t0;
        },
      });
      await done;
      latencies.push(first);
    }
    latencies.sort((a, b) => a - b);
    global.gc?.();
    const after = process.memoryUsage();
    const lastResult = (await queue.get(ids[ids.length - 1]!))?.result as JobResult | undefined;
    void last;
    return {
      jobs,
      jobsPerSecond: Math.round((jobs / elapsedMs) * 1000 * 10) / 10,
      overheadMsPerJob: Math.round((elapsedMs / jobs) * 100) / 100,
      overheadMsPerJobWithFile: Math.round((withFileMs / withFileJobs) * 100) / 100,
      enqueueToFirstProgressP50Ms: Math.round(percentile(latencies, 50) * 100) / 100,
      enqueueToFirstProgressP95Ms: Math.round(percentile(latencies, 95) * 100) / 100,
      memory: {
        mainHeapBeforeMiB: mib(before.heapUsed),
        mainHeapAfterMiB: mib(after.heapUsed),
        rssBeforeMiB: mib(before.rss),
        rssAfterMiB: mib(after.rss),
        workerHeapFirstMiB: mib(workerHeapFirst),
        workerHeapLastMiB: mib(heapUsed(lastResult)),
      },
    };
  } finally {
    await runner.stop({ graceMs: 0 });
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

export function formatQueueBench(f: QueueBenchFigures): string {
  const m = f.memory;
  return [
    `queue: ${f.jobs} trivial jobs, ${f.jobsPerSecond} jobs/s (${f.overheadMsPerJob} ms per job; ` +
      `${f.overheadMsPerJobWithFile} ms with a durable output file)`,
    `queue: enqueue → first progress p50 ${f.enqueueToFirstProgressP50Ms} ms, p95 ${f.enqueueToFirstProgressP95Ms} ms`,
    `queue: main heap ${m.mainHeapBeforeMiB} → ${m.mainHeapAfterMiB} MiB, rss ${m.rssBeforeMiB} → ${m.rssAfterMiB} MiB, ` +
      `worker heap ${m.workerHeapFirstMiB} → ${m.workerHeapLastMiB} MiB`,
  ].join('\n');
}

export interface ModeFigures {
  readonly mode: 'embedded' | 'redis';
  readonly workers: number;
  readonly jobs: number;
  readonly jobsPerSecond: number;
  readonly enqueueToFirstProgressP50Ms: number;
  readonly enqueueToFirstProgressP95Ms: number;
}

/**
 * The same trivial jobs through the embedded queue (SQLite, worker threads in this process) and
 * through Redis (RedisQueue as the bot has it, RedisWorkerQueue runners as `illusionist worker`
 * has them, here in one process), with one and with two workers.
 */
export async function benchMode(
  mode: 'embedded' | 'redis',
  workers: number,
  options: { jobs?: number; latencyJobs?: number; redisUrl?: string } = {},
): Promise<ModeFigures> {
  const jobs = options.jobs ?? 200;
  const latencyJobs = options.latencyJobs ?? 50;
  const handlerModules = [fileURLToPath(new URL('./queue-handlers.js', import.meta.url))];
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'illusionist-bench-'));
  const store = openStore(path.join(dir, 'bench.db'), { users: { defaults: { maxActiveJobs: 1e9, dailyQuota: 1e9 } } });
  const local = new SqliteQueue(store, { maxQueued: 1e9, maxRunningPerUser: 1e9 });
  const stops: Array<() => Promise<void>> = [];
  const who = { platform: 'cli', userId: 'bench' };
  try {
    let client: QueueClient = local;
    if (mode === 'embedded') {
      for (let i = 0; i < workers; i++) {
        const runner = new JobRunner(local, { handlerModules });
        stops.push(() => runner.stop({ graceMs: 0 }));
        await runner.start();
      }
    } else {
      if (!options.redisUrl) throw new Error('the Redis mode needs REDIS_URL');
      const prefix = `bench-${process.pid}-${Date.now()}`;
      const redis = new RedisQueue(local, { url: options.redisUrl, prefix, log: () => {} });
      await redis.start();
      stops.push(() => redis.stop());
      client = redis;
      for (let i = 0; i < workers; i++) {
        const queue = new RedisWorkerQueue({ url: options.redisUrl, families: FAMILIES, prefix, log: () => {} });
        const runner = new JobRunner(queue, { handlerModules, pollIntervalMs: 100 });
        stops.push(async () => {
          await runner.stop({ graceMs: 0 });
          await queue.close();
        });
        await runner.start();
      }
    }
    await waitForJob(client, (await client.enqueue({ who, command: 'trivial', params: {}, seed: 0 })).jobId);
    const started = performance.now();
    const ids: number[] = [];
    for (let i = 0; i < jobs; i++)
      ids.push((await client.enqueue({ who, command: 'trivial', params: {}, seed: i + 1 })).jobId);
    for (const id of ids) await waitForJob(client, id);
    const elapsedMs = performance.now() - started;
    const latencies: number[] = [];
    for (let i = 0; i < latencyJobs; i++) {
      const t0 = performance.now();
      // Progress may come before enqueue returns (the job id is not known yet), so keep every job's first.
      const firsts = new Map<number, number>();
      const off = client.subscribe((e) => {
        if (e.type === 'progress' && !firsts.has(e.jobId)) firsts.set(e.jobId, performance.now() - t0);
      });
      const { jobId } = await client.enqueue({ who, command: 'trivial', params: {}, seed: jobs + i + 1 });
      await waitForJob(client, jobId);
      off();
      const first = firsts.get(jobId) ?? NaN;
      latencies.push(first);
    }
    latencies.sort((a, b) => a - b);
    return {
      mode,
      workers,
      jobs,
      jobsPerSecond: Math.round((jobs / elapsedMs) * 1000 * 10) / 10,
      enqueueToFirstProgressP50Ms: Math.round(percentile(latencies, 50) * 100) / 100,
      enqueueToFirstProgressP95Ms: Math.round(percentile(latencies, 95) * 100) / 100,
    };
  } finally {
    for (const stop of stops.reverse()) await stop().catch(() => {});
    store.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Debian's redis-server on a free loopback port without persistence, for a run without REDIS_URL. */
async function startLocalRedis(): Promise<{ url: string; stop(): void }> {
  const probe = net.createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as net.AddressInfo;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  const child = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
    { stdio: 'ignore' },
  );
  const failed = new Promise<never>((_, reject) => {
    child.once('error', (error) =>
      reject(
        new Error(
          `redis-server could not be started (${error.message}); install it (apt-get install redis-server) or set REDIS_URL`,
        ),
      ),
    );
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}) at once`)));
  });
  failed.catch(() => {});
  const ready = (async () => {
    for (let i = 0; i < 200; i++) {
      const answered = await new Promise<boolean>((resolve) => {
        const socket = net.connect({ host: '127.0.0.1', port }, () => {
          socket.destroy();
          resolve(true);
        });
        socket.once('error', () => resolve(false));
      });
      if (answered) return;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`redis-server on port ${port} did not listen within 10 s`);
  })();
  await Promise.race([ready, failed]);
  return { url: `redis://127.0.0.1:${port}`, stop: () => void child.kill('SIGTERM') };
}

/** `npm run bench -- queue`: both modes, one and two workers; Redis from REDIS_URL, else a redis-server started here. */
export async function queueModesReport(redisUrl = process.env.REDIS_URL?.trim()): Promise<string> {
  const lines: string[] = [];
  let local: { url: string; stop(): void } | undefined;
  if (!redisUrl) {
    try {
      local = await startLocalRedis();
      redisUrl = local.url;
    } catch (error) {
      lines.push(`queue redis: not measured: ${(error as Error).message}`);
    }
  }
  try {
    await modes(lines, redisUrl);
  } finally {
    local?.stop();
  }
  return lines.join('\n');
}

async function modes(lines: string[], redisUrl: string | undefined): Promise<void> {
  const say = (line: string): void => {
    lines.push(line);
    if (process.env.BENCH_VERBOSE) console.error(line);
  };
  for (const mode of ['embedded', 'redis'] as const) {
    for (const workers of [1, 2]) {
      try {
        const f = await benchMode(mode, workers, { redisUrl });
        say(
          `queue ${mode}, ${workers} worker${workers === 1 ? '' : 's'}: ${f.jobsPerSecond} jobs/s over ${f.jobs} trivial jobs; ` +
            `enqueue → first progress p50 ${f.enqueueToFirstProgressP50Ms} ms, p95 ${f.enqueueToFirstProgressP95Ms} ms`,
        );
      } catch (error) {
        say(`queue ${mode}, ${workers} worker${workers === 1 ? '' : 's'}: not measured: ${(error as Error).message}`);
      }
    }
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(formatQueueBench(await benchQueue()));
  console.log(await queueModesReport());
}
