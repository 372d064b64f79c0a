// The bot's queue in Redis mode (REDIS_URL): the SQLite store stays the record (admission in one
// transaction, seeds, artifacts, limits), and each admitted job is then handed to BullMQ, one queue
// per model family, for `illusionist worker` processes on any machine. Their events come back as the
// usual JobEvents; their results are stored as artifacts here. A sweep every second reconciles the
// store with Redis, so results that arrived while the bot was down, and jobs Redis lost, are not lost.
import { readFileSync } from 'node:fs';
import { Queue as BullQueue, QueueEvents, type Job } from 'bullmq';
import { formatWho, type JobRow, type Who } from '../store/index.js';
import type { OutputFile } from './handler.js';
import { RedisClients, redisClient } from './redis-client.js';
import { QueueRejectedError, type CancelOutcome, type QueueClient } from './queue.js';
import {
  bullJobId,
  cancelKey,
  DEFAULT_PREFIX,
  FAMILIES,
  familyOf,
  redactedUrl,
  redisConnection,
  storeJobId,
  uploadPaths,
  type Family,
  type RedisJobData,
  type RedisJobResult,
  type WireProgress,
} from './redis-shared.js';
import type { SqliteQueue } from './sqlite-queue.js';
import type { EnqueueReceipt, JobEvent, JobSpec, JobView } from './types.js';

export interface RedisQueueOptions {
  /** redis://host:port[/db] */
  readonly url: string;
  /** Key prefix of every queue and key (REDIS_PREFIX). Default 'illusionist'. */
  readonly prefix?: string | undefined;
  /** How often the store is reconciled with Redis (and Redis pinged). Default 1 s. */
  readonly sweepIntervalMs?: number | undefined;
  /** How long an add or a ping may take before Redis counts as unreachable. Default 3 s. */
  readonly timeoutMs?: number | undefined;
  readonly log?: ((line: string) => void) | undefined;
}

/** Thrown by `withTimeout`: Redis did not answer in time. */
class RedisTimeout extends Error {
  constructor(ms: number) {
    super(`no answer within ${ms} ms`);
  }
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    work,
    new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new RedisTimeout(ms)), ms))),
  ]).finally(() => clearTimeout(timer));
}

function decodeFiles(result: Extract<RedisJobResult, { outcome: 'done' }>): OutputFile[] {
  return result.files.map((f) => ({
    data: Buffer.from(f.base64, 'base64'),
    ext: f.ext,
    caption: f.caption,
    name: f.name,
  }));
}

export class RedisQueue implements QueueClient {
  private readonly queues = new Map<Family, BullQueue<RedisJobData, RedisJobResult>>();
  private readonly queueEvents: QueueEvents[] = [];
  private readonly clients = new RedisClients();
  /** Jobs whose end is being stored now (an event and the sweep may see it together). */
  private readonly ingesting = new Set<number>();
  private reachable: boolean | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private sweeping: Promise<void> | undefined;
  private workerId = '';
  private readonly prefix: string;
  private readonly timeoutMs: number;
  private readonly log: (line: string) => void;

  constructor(
    readonly local: SqliteQueue,
    private readonly options: RedisQueueOptions,
  ) {
    this.prefix = options.prefix ?? DEFAULT_PREFIX;
    this.timeoutMs = options.timeoutMs ?? 3000;
    this.log = options.log ?? ((line) => console.error(line));
  }

  private get store() {
    return this.local.store;
  }

  /** Connects (without waiting for Redis: an unreachable Redis is said, and retried), then reconciles. */
  async start(): Promise<void> {
    const { url } = this.options;
    // The bot registers as a worker so a CLI on the same data folder leaves its 'running' rows alone.
    this.workerId = await this.local.registerWorker();
    for (const family of FAMILIES) {
      // No offline queue: an add while Redis is away fails at once instead of waiting unseen.
      const queue = new BullQueue<RedisJobData, RedisJobResult>(family, {
        connection: redisClient(url, { offline: false, owned: this.clients }),
        prefix: this.prefix,
      });
      queue.on('error', (error) => this.setReachable(false, error));
      this.queues.set(family, queue);
      const events = new QueueEvents(family, {
        connection: redisClient(url, { owned: this.clients }),
        prefix: this.prefix,
      });
      events.on('error', (error) => this.setReachable(false, error));
      events.on(
        'active',
        ({ jobId }) =>
          void this.onActive(storeJobId(jobId)).catch((e: unknown) => this.warn(`job #${jobId} started`, e)),
      );
      events.on('progress', ({ jobId, data }) => this.onProgress(storeJobId(jobId), data as WireProgress));
      events.on('completed', ({ jobId }) => void this.ingest(storeJobId(jobId)));
      events.on('failed', ({ jobId }) => void this.ingest(storeJobId(jobId)));
      events.on('stalled', ({ jobId }) => void this.onStalled(storeJobId(jobId)));
      this.queueEvents.push(events);
    }
    await this.sweep();
    this.sweepTimer = setInterval(() => void this.sweep(), this.options.sweepIntervalMs ?? 1000);
  }

  async stop(): Promise<void> {
    clearInterval(this.sweepTimer);
    await this.sweeping;
    await Promise.allSettled([
      ...this.queueEvents.map((e) => e.close()),
      ...[...this.queues.values()].map((q) => q.close()),
    ]);
    this.clients.disconnectAll();
    if (this.workerId) await this.local.unregisterWorker(this.workerId).catch(() => {});
  }

  /** Whether the last look found Redis answering (undefined before the first). */
  get redisReachable(): boolean | undefined {
    return this.reachable;
  }

  private unavailable(): QueueRejectedError {
    const { host, port } = redisConnection(this.options.url);
    return new QueueRejectedError(
      'unavailable',
      `the job queue is unreachable right now (Redis at ${host}:${port} does not answer), so nothing was started; the bot's operator can see it in the log — please try again in a minute`,
    );
  }

  private setReachable(reachable: boolean, error?: unknown): void {
    if (this.reachable === reachable) return;
    const was = this.reachable;
    this.reachable = reachable;
    const where = redactedUrl(this.options.url);
    if (!reachable)
      this.log(
        `redis: unreachable at ${where} (${(error as Error)?.message ?? String(error)}); new jobs are refused until it answers`,
      );
    else if (was === false) this.log(`redis: reachable again at ${where}; taking jobs`);
  }

  private warn(what: string, error: unknown): void {
    this.log(`redis queue: ${what}: ${(error as Error)?.message ?? String(error)}`);
  }

  async checkAdmission(who: Who): Promise<void> {
    if (this.reachable === false) throw this.unavailable();
    await this.local.checkAdmission(who);
  }

  async enqueue(spec: JobSpec): Promise<EnqueueReceipt> {
    if (this.reachable === false) throw this.unavailable();
    const receipt = await this.local.enqueue(spec);
    const row = this.store.jobs.get(receipt.jobId)!;
    try {
      await withTimeout(this.add(row), this.timeoutMs);
    } catch (error) {
      const unreachable =
        error instanceof RedisTimeout || /writeable|connect|ECONN|closed/i.test((error as Error).message);
      // Not a job the person ran: it goes, so it counts against neither their limits nor their quota
      // (and the sweep does not hand it over again and again).
      await this.local.fail(
        row.id,
        unreachable
          ? 'the job queue (Redis) was unreachable'
          : `the job queue (Redis) refused it: ${(error as Error).message}`,
      );
      this.store.jobs.deleteFinished(row.id);
      if (!unreachable) throw error;
      this.setReachable(false, error);
      throw this.unavailable();
    }
    return receipt;
  }

  /** Hands a stored row to BullMQ; adding an id twice is a no-op there, so a retry is safe. */
  private async add(row: JobRow): Promise<void> {
    const data: RedisJobData = {
      id: row.id,
      command: row.command,
      params: row.params,
      seed: row.seed,
      model: row.model,
      checkpointId: row.checkpointId,
      kind: row.kind,
      timeLimitMs: row.timeLimitMs,
      maxAttempts: row.maxAttempts,
      uploads: uploadPaths(row.params).map((path) => ({ path, base64: readFileSync(path).toString('base64') })),
      resumeState: row.resumeState,
    };
    // Fairness: a user's n-th waiting job gets priority n, so everyone's first job runs before anyone's
    // second (FIFO within a priority); the per-user cap of active jobs bounds n at admission. Only
    // jobs of the same queue count: a training run waits in its own queue.
    const earlier = this.store.jobs
      .list({ who: { platform: row.platform, userId: row.userId }, beforeId: row.id, limit: 1000 })
      .filter((j) => (j.status === 'queued' || j.status === 'running') && familyOf(j) === familyOf(row)).length;
    await this.queueFor(row).add(row.command, data, {
      jobId: bullJobId(row.id),
      priority: 1 + earlier,
      attempts: 1,
      removeOnComplete: false,
      removeOnFail: false,
    });
    this.local.markHandedOver(row.id);
  }

  private queueFor(row: Pick<JobRow, 'command' | 'model' | 'params'>): BullQueue<RedisJobData, RedisJobResult> {
    return this.queues.get(familyOf(row))!;
  }

  async get(jobId: number): Promise<JobView | undefined> {
    return this.local.get(jobId);
  }

  async position(jobId: number): Promise<number | undefined> {
    return this.local.position(jobId);
  }

  async cancel(jobId: number, by: Who): Promise<CancelOutcome> {
    const row = this.store.jobs.get(jobId);
    if (row === undefined) throw new QueueRejectedError('not-found', `there is no job #${jobId}`);
    const isOwner = row.platform === by.platform && row.userId === by.userId;
    if (!isOwner && !this.store.users.isAdmin(by)) {
      throw new QueueRejectedError('not-allowed', `only the owner of job #${jobId} or an admin can cancel it`);
    }
    if (row.status === 'queued') {
      const job = await this.queueFor(row)
        .getJob(bullJobId(jobId))
        .catch(() => undefined);
      // A waiting job leaves Redis at once; one a worker has just locked is stopped like a running one.
      const removed =
        job === undefined ||
        (await job.remove().then(
          () => true,
          () => false,
        ));
      if (!removed) this.markRunning(jobId, job.attemptsStarted);
    }
    if (this.store.jobs.get(jobId)?.status === 'running') {
      // The worker polls this key at each step (JobRunner's cancel check), wherever it runs.
      const client = await this.queueFor(row).getBackend().client;
      await withTimeout(
        client.set(cancelKey(this.prefix, jobId), formatWho(by), { EX: 24 * 3600 }),
        this.timeoutMs,
      ).catch((error: unknown) => {
        this.setReachable(false, error);
        throw this.unavailable();
      });
    }
    return this.local.cancel(jobId, by);
  }

  subscribe(listener: (event: JobEvent) => void): () => void {
    // Every event goes through the store's queue, so its watch of other processes' writes knows them.
    return this.local.subscribe(listener);
  }

  /** The row as running on a worker (the store has no claim of its own in this mode). */
  private markRunning(jobId: number, attempt: number): boolean {
    return this.local.markRunningElsewhere(jobId, attempt, this.workerId);
  }

  private async onActive(jobId: number): Promise<void> {
    const row = this.store.jobs.get(jobId);
    if (row?.status !== 'queued') return;
    const job = await this.queueFor(row).getJob(bullJobId(jobId));
    if (job === undefined) return;
    this.markRunning(jobId, job.attemptsStarted - (job.data.uncounted ?? 0));
  }

  private onProgress(jobId: number, data: WireProgress): void {
    const row = this.store.jobs.get(jobId);
    if (row === undefined || (row.status !== 'queued' && row.status !== 'running')) return;
    if (row.status === 'queued') this.markRunning(jobId, row.attempts + 1);
    const preview = data.preview
      ? { data: Buffer.from(data.preview.base64, 'base64'), ext: data.preview.ext }
      : undefined;
    void this.local
      .reportProgress(jobId, { step: data.step, total: data.total, message: data.message, preview })
      .catch((error: unknown) => this.warn(`progress of job #${jobId}`, error));
  }

  private async onStalled(jobId: number): Promise<void> {
    // BullMQ put it back in its queue (its worker stopped answering); another worker takes it.
    await this.local.requeue(jobId, {
      countAttempt: false,
      reason: 'its worker stopped answering (killed, or cut off from Redis); another worker takes it',
    });
    this.local.markHandedOver(jobId);
  }

  /** Stores a finished BullMQ job's end (files as artifacts), then removes it from Redis. Idempotent. */
  private async ingest(jobId: number): Promise<void> {
    if (this.ingesting.has(jobId)) return;
    this.ingesting.add(jobId);
    try {
      const row = this.store.jobs.get(jobId);
      if (row === undefined) return;
      const job = await this.queueFor(row).getJob(bullJobId(jobId));
      if (job === undefined) return;
      const state = await job.getState();
      if (state !== 'completed' && state !== 'failed') return;
      if (row.status === 'queued' || row.status === 'running') await this.storeEnd(row, job, state);
      // Only once the store has it: a bot that stops in between finds it again at its next start.
      await job.remove();
    } catch (error) {
      this.warn(`could not store the end of job #${jobId} (trying again shortly)`, error);
    } finally {
      this.ingesting.delete(jobId);
    }
  }

  private async storeEnd(
    row: JobRow,
    job: Job<RedisJobData, RedisJobResult>,
    state: 'completed' | 'failed',
  ): Promise<void> {
    if (row.status === 'queued') this.markRunning(row.id, job.attemptsStarted - (job.data.uncounted ?? 0));
    if (state === 'failed') {
      const reason = job.failedReason ?? 'failed';
      await this.local.fail(
        row.id,
        /stalled more than allowable limit/.test(reason)
          ? `gave up after ${job.attemptsStarted} attempts: its workers stopped while they ran it`
          : reason,
      );
      return;
    }
    const result = job.returnvalue;
    if (result?.outcome === 'cancelled') await this.local.markCancelled(row.id);
    else if (result?.outcome === 'done')
      await this.local.complete(
        row.id,
        { files: decodeFiles(result), captions: result.captions, metrics: result.metrics },
        result.handlerMs,
      );
    else await this.local.fail(row.id, 'the worker returned no result');
  }

  /** Reconciles every waiting or running row with Redis; runs at start and every second. */
  private sweep(): Promise<void> {
    this.sweeping ??= this.sweepOnce().finally(() => (this.sweeping = undefined));
    return this.sweeping;
  }

  private async sweepOnce(): Promise<void> {
    try {
      const client = await withTimeout(this.queues.get('mnist')!.getBackend().client, this.timeoutMs);
      // Any round trip proves Redis answers (the client here has no PING of its own).
      await withTimeout(client.get(`${this.prefix}:alive`), this.timeoutMs);
    } catch (error) {
      this.setReachable(false, error);
      return;
    }
    this.setReachable(true);
    try {
      await this.local.heartbeat(this.workerId);
      for (const listed of this.store.jobs.listActive()) {
        if (this.ingesting.has(listed.id)) continue;
        const row = this.store.jobs.get(listed.id);
        if (row === undefined || (row.status !== 'queued' && row.status !== 'running')) continue;
        // A CLI's job runs in that CLI's own engine worker, never through Redis: not this sweep's to send or mend.
        if (row.platform === 'cli') continue;
        const job = await this.queueFor(row).getJob(bullJobId(row.id));
        if (job === undefined) {
          if (row.status === 'running') {
            await this.local.requeue(row.id, {
              countAttempt: false,
              reason: 'the job queue (Redis) lost it; it was sent again',
            });
          }
          // Redis lost it (restarted without persistence) or the add never arrived: the store is the record.
          await this.add(this.store.jobs.get(row.id)!);
          continue;
        }
        const state = await job.getState();
        if (state === 'completed' || state === 'failed') await this.ingest(row.id);
        else if (state === 'active' && row.status === 'queued')
          this.markRunning(row.id, job.attemptsStarted - (job.data.uncounted ?? 0));
      }
    } catch (error) {
      this.warn('could not reconcile the store with Redis (trying again shortly)', error);
    }
  }
}
