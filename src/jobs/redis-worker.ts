// The WorkerQueue of `illusionist worker`: the same JobRunner and engine worker thread as the bot's,
// fed from BullMQ instead of SQLite. Jobs are fetched by hand (getNextJob), interactive families
// first, so a training run on a worker that also serves an interactive family pauses for them at its
// next step, as in the embedded mode. Locks are extended on a timer of this process's own; a
// process killed with -9 stops extending them and BullMQ's stalled check hands the job to another worker.
import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { extname, join } from 'node:path';
import { Queue as BullQueue, QueueEvents, Worker as BullWorker, type Job } from 'bullmq';
import type { RecoveryReport } from '../store/index.js';
import type { HandlerOutput } from './handler.js';
import { RedisClients, redisClient } from './redis-client.js';
import type { CancelOutcome, ClaimedJob, Queue } from './queue.js';
import {
  cancelKey,
  DEFAULT_PREFIX,
  rewriteUploadPaths,
  storeJobId,
  type Family,
  type RedisJobData,
  type RedisJobResult,
  type WireProgress,
} from './redis-shared.js';
import type { EnqueueReceipt, JobEvent, JobResult, JobView, Progress } from './types.js';

export interface RedisWorkerOptions {
  readonly url: string;
  /** The families this host serves, e.g. ['mnist', 'deepfloyd']. */
  readonly families: readonly Family[];
  readonly prefix?: string | undefined;
  /** How long a job's lock lasts without renewal; a killed worker's job is taken over after about this. Default 30 s. */
  readonly lockDurationMs?: number | undefined;
  /** How often this process looks for other workers' stalled jobs. Default 30 s. */
  readonly stalledIntervalMs?: number | undefined;
  /** Non-preview progress goes to Redis at most this often (previews and the last step always). Default 100 ms. */
  readonly progressIntervalMs?: number | undefined;
  readonly log?: ((line: string) => void) | undefined;
}

interface Held {
  readonly job: Job<RedisJobData, RedisJobResult>;
  readonly token: string;
  readonly lockTimer: NodeJS.Timeout;
  readonly uploadDir: string | undefined;
  lastProgress: number;
}

/** BullMQ's words for "this job is no longer yours" (lock lost to the stalled check, or Redis lost the job). */
function isLostJob(error: unknown): boolean {
  return /Missing key|Missing lock|Lock mismatch|not in the active state|could not renew lock/i.test(
    (error as Error)?.message ?? '',
  );
}

export class RedisWorkerQueue implements Queue {
  private readonly workers = new Map<Family, BullWorker<RedisJobData, RedisJobResult>>();
  private readonly counters = new Map<Family, BullQueue<RedisJobData, RedisJobResult>>();
  private readonly queueEvents: QueueEvents[] = [];
  private readonly clients = new RedisClients();
  private readonly held = new Map<number, Held>();
  private readonly events = new EventEmitter();
  private readonly prefix: string;
  private readonly lockDurationMs: number;
  private readonly order: readonly Family[];
  private readonly log: (line: string) => void;
  private complained = new Set<string>();

  constructor(private readonly options: RedisWorkerOptions) {
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    this.lockDurationMs = options.lockDurationMs ?? 30_000;
    // Interactive families first: a waiting image goes before the next training run.
    this.order = [...options.families].sort((a, b) => Number(a === 'train') - Number(b === 'train'));
    this.log = options.log ?? ((line) => console.error(line));
    this.events.setMaxListeners(0);
    const { url } = options;
    for (const family of this.order) {
      const worker = new BullWorker<RedisJobData, RedisJobResult>(family, undefined, {
        connection: redisClient(url, { owned: this.clients }),
        prefix: this.prefix,
        autorun: false,
        lockDuration: this.lockDurationMs,
        stalledInterval: options.stalledIntervalMs ?? 30_000,
        // Attempts are counted against each job's own max_attempts at claim time (see claim).
        maxStalledCount: 1000,
      });
      worker.on('error', (error) => this.complain('worker', `redis: ${error.message}`));
      void worker
        .startStalledCheckTimer()
        .catch((error: unknown) => this.complain('stalled', `stalled-job check failed: ${(error as Error).message}`));
      this.workers.set(family, worker);
      const counter = new BullQueue<RedisJobData, RedisJobResult>(family, {
        connection: redisClient(url, { owned: this.clients }),
        prefix: this.prefix,
      });
      counter.on('error', (error) => this.complain('queue', `redis: ${error.message}`));
      this.counters.set(family, counter);
      const events = new QueueEvents(family, {
        connection: redisClient(url, { owned: this.clients }),
        prefix: this.prefix,
      });
      events.on('error', (error) => this.complain('events', `redis: ${error.message}`));
      // A new job wakes the runner at once instead of at its next poll.
      events.on('waiting', ({ jobId }) => this.emit({ type: 'queued', jobId: storeJobId(jobId), position: 0 }));
      this.queueEvents.push(events);
    }
  }

  private complain(kind: string, text: string): void {
    if (this.complained.has(kind)) return;
    this.complained.add(kind);
    this.log(`worker: ${text}`);
    // Said once per minute at most, not once per retry.
    setTimeout(() => this.complained.delete(kind), 60_000).unref();
  }

  async close(): Promise<void> {
    for (const held of this.held.values()) clearInterval(held.lockTimer);
    await Promise.allSettled([
      ...[...this.workers.values()].map((w) => w.close(true)),
      ...[...this.counters.values()].map((q) => q.close()),
      ...this.queueEvents.map((e) => e.close()),
    ]);
    this.clients.disconnectAll();
  }

  // --- what the runner uses ---

  async registerWorker(): Promise<string> {
    return `${os.hostname()}:${process.pid}:${crypto.randomUUID().slice(0, 8)}`;
  }

  async heartbeat(): Promise<void> {}

  async unregisterWorker(): Promise<void> {}

  async recoverInterrupted(): Promise<RecoveryReport> {
    // BullMQ's stalled check does this for every worker (started in the constructor).
    return { requeued: [], failed: [] };
  }

  async claim(workerId: string, options: { interactiveOnly?: boolean } = {}): Promise<ClaimedJob | undefined> {
    for (const family of this.order) {
      if (options.interactiveOnly && family === 'train') continue;
      const token = `${workerId}:${crypto.randomUUID()}`;
      const job = await this.workers.get(family)!.getNextJob(token, { block: false });
      if (!job) continue;
      const claimed = await this.accept(job, token, workerId);
      if (claimed) return claimed;
    }
    return undefined;
  }

  /** Holds a fetched job for the runner, or settles it here (too many attempts, cancelled while waiting). */
  private async accept(
    job: Job<RedisJobData, RedisJobResult>,
    token: string,
    workerId: string,
  ): Promise<ClaimedJob | undefined> {
    const data = job.data;
    const attempt = Math.max(1, job.attemptsStarted - (data.uncounted ?? 0));
    if (attempt > data.maxAttempts) {
      await job.moveToFailed(
        new Error(`gave up after ${data.maxAttempts} attempts: its workers stopped while they ran it`),
        token,
        false,
      );
      return undefined;
    }
    const client = await this.workers.get(this.familyOfJob(job))!.getBackend().client;
    if ((await client.get(cancelKey(this.prefix, data.id))) !== null) {
      await job.moveToCompleted({ outcome: 'cancelled' }, token, false);
      return undefined;
    }
    this.log(`worker: job #${data.id} (${data.command}), attempt ${attempt} of ${data.maxAttempts}`);
    let params = data.params;
    let uploadDir: string | undefined;
    if (data.uploads.length > 0) {
      uploadDir = join(os.tmpdir(), `illusionist-worker-${process.pid}`, `job-${data.id}-${attempt}`);
      mkdirSync(uploadDir, { recursive: true });
      const renamed = new Map<string, string>();
      data.uploads.forEach((file, i) => {
        const local = join(uploadDir!, `upload-${i}${extname(file.path)}`);
        writeFileSync(local, Buffer.from(file.base64, 'base64'));
        renamed.set(file.path, local);
      });
      params = rewriteUploadPaths(params, (path) => renamed.get(path) ?? path);
    }
    const lockTimer = setInterval(
      () => {
        job
          .extendLock(token, this.lockDurationMs)
          .catch((error: unknown) =>
            this.complain(
              `lock-${data.id}`,
              `could not extend the lock of job #${data.id}: ${(error as Error).message}`,
            ),
          );
      },
      Math.max(200, Math.floor(this.lockDurationMs / 3)),
    );
    lockTimer.unref();
    this.held.set(data.id, { job, token, lockTimer, uploadDir, lastProgress: 0 });
    const view: JobView = {
      id: data.id,
      platform: 'redis',
      userId: '',
      channelId: null,
      threadId: null,
      command: data.command,
      params,
      model: data.model,
      checkpointId: data.checkpointId,
      seed: data.seed,
      kind: data.kind,
      status: 'running',
      createdAt: job.timestamp,
      startedAt: Date.now(),
      finishedAt: null,
      progressStep: null,
      progressTotal: null,
      progressMessage: null,
      resumeState: data.resumeState ?? null,
      error: null,
      attempts: attempt,
      maxAttempts: data.maxAttempts,
      timeLimitMs: data.timeLimitMs,
      cancelRequested: false,
      cancelledBy: null,
      result: null,
      rerunOf: null,
      workerId,
      position: undefined,
    };
    return { view, attempt };
  }

  private familyOfJob(job: Job): Family {
    return job.queueName as Family;
  }

  async hasInteractiveWaiting(): Promise<boolean> {
    for (const family of this.order) {
      if (family === 'train') continue;
      if ((await this.counters.get(family)!.getJobCountByTypes('wait', 'prioritized')) > 0) return true;
    }
    return false;
  }

  async reportProgress(jobId: number, progress: Progress): Promise<void> {
    const held = this.held.get(jobId);
    if (held === undefined) return;
    const now = Date.now();
    const last = held.lastProgress;
    if (
      progress.preview === undefined &&
      progress.step < progress.total &&
      last !== 0 &&
      now - last < (this.options.progressIntervalMs ?? 100)
    )
      return;
    held.lastProgress = now;
    const wire: WireProgress = {
      step: progress.step,
      total: progress.total,
      message: progress.message,
      preview: progress.preview
        ? { base64: Buffer.from(progress.preview.data).toString('base64'), ext: progress.preview.ext }
        : undefined,
    };
    // Progress is for people's eyes; a Redis hiccup must not stop the job.
    await held.job
      .updateProgress(wire as unknown as object)
      .catch((error: unknown) => this.complain('progress', `could not send progress: ${(error as Error).message}`));
  }

  async reportPaused(jobId: number, paused: boolean): Promise<void> {
    this.emit(paused ? { type: 'paused', jobId } : { type: 'resumed', jobId });
  }

  async saveResumeState(jobId: number, state: unknown): Promise<void> {
    const held = this.held.get(jobId);
    if (held === undefined) return;
    await held.job.updateData({ ...held.job.data, resumeState: state });
  }

  async complete(jobId: number, output: HandlerOutput, handlerMs: number): Promise<JobResult> {
    const result: RedisJobResult = {
      outcome: 'done',
      files: output.files.map((f) => ({
        base64: Buffer.from(f.data).toString('base64'),
        ext: f.ext,
        caption: f.caption,
        name: f.name,
      })),
      captions: output.captions,
      metrics: output.metrics,
      handlerMs,
    };
    await this.finish(jobId, (held) => held.job.moveToCompleted(result, held.token, false));
    // The bot stores the files and makes the real result; the runner only needs to know it went.
    return {
      jobId,
      files: [],
      captions: [...(output.captions ?? [])],
      seed: 0,
      timings: { queuedMs: 0, runMs: 0, handlerMs, totalMs: 0 },
      metrics: { ...output.metrics },
    };
  }

  async fail(jobId: number, error: string): Promise<void> {
    await this.finish(jobId, (held) => held.job.moveToFailed(new Error(error), held.token, false));
  }

  async markCancelled(jobId: number): Promise<void> {
    await this.finish(jobId, (held) => held.job.moveToCompleted({ outcome: 'cancelled' }, held.token, false));
  }

  async requeue(jobId: number, options: { countAttempt: boolean; reason: string }): Promise<void> {
    await this.finish(jobId, async (held) => {
      if (!options.countAttempt)
        await held.job.updateData({ ...held.job.data, uncounted: (held.job.data.uncounted ?? 0) + 1 });
      await held.job.moveToWait(held.token);
    });
  }

  /**
   * Ends a held job in Redis. A connection error is thrown (the runner keeps the end and tries again
   * once Redis answers); a job that is no longer ours (taken over after a stall, or lost by Redis)
   * is let go, since another attempt now owns its result.
   */
  private async finish(jobId: number, write: (held: Held) => Promise<unknown>): Promise<void> {
    const held = this.held.get(jobId);
    if (held === undefined) return;
    try {
      await write(held);
    } catch (error) {
      if (!isLostJob(error)) throw error;
      this.log(
        `worker: job #${jobId} is no longer this worker's (${(error as Error).message}); its result here is dropped`,
      );
    }
    clearInterval(held.lockTimer);
    if (held.uploadDir) rmSync(held.uploadDir, { recursive: true, force: true });
    this.held.delete(jobId);
  }

  async isCancelRequested(jobId: number): Promise<boolean> {
    const held = this.held.get(jobId);
    if (held === undefined) return false;
    try {
      const client = await this.workers.get(this.familyOfJob(held.job))!.getBackend().client;
      return (await client.get(cancelKey(this.prefix, jobId))) !== null;
    } catch (error) {
      this.complain('cancel', `could not look for cancellations: ${(error as Error).message}`);
      return false;
    }
  }

  subscribe(listener: (event: JobEvent) => void): () => void {
    this.events.on('event', listener);
    return () => this.events.off('event', listener);
  }

  private emit(event: JobEvent): void {
    this.events.emit('event', event);
  }

  // --- requests are the bot's, not a worker host's ---

  private notHere(): never {
    throw new Error('a worker host runs jobs; requests go to the bot');
  }

  async enqueue(): Promise<EnqueueReceipt> {
    return this.notHere();
  }

  async get(): Promise<JobView | undefined> {
    return this.notHere();
  }

  async position(): Promise<number | undefined> {
    return this.notHere();
  }

  async cancel(): Promise<CancelOutcome> {
    return this.notHere();
  }
}
