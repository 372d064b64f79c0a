// The embedded queue: jobs live in the SQLite store, admission checks (bans, quotas, queue
// length) and the claim run in single transactions. Events are delivered in-process, and changes
// other processes make to the file (a CLI and the bot on one data folder) are read back as events.
import crypto from 'node:crypto';
import { EventEmitter } from 'node:events';
import os from 'node:os';
import path from 'node:path';
import {
  StorageFullError,
  formatWho,
  isStorageFull,
  type JobRow,
  type JobStatus,
  type RecoveryReport,
  type Store,
  type Who,
  type WorkerRow,
} from '../store/index.js';
import type { HandlerOutput } from './handler.js';
import { QueueRejectedError, type CancelOutcome, type ClaimedJob, type Queue } from './queue.js';
import type { EnqueueReceipt, JobEvent, JobResult, JobSpec, JobView, Progress, ResultFile } from './types.js';

export interface SqliteQueueOptions {
  /** Jobs waiting at once, across all users; beyond it enqueue is refused. Default 100. */
  readonly maxQueued?: number;
  /** Running jobs per user when several workers claim from the same file. Default 1. */
  readonly maxRunningPerUser?: number;
  /** Recorded with every seed so a rerun can tell when the engine changed. */
  readonly engineVersion?: string;
  /** Applied when a spec has none; undefined = no limit. */
  readonly defaultTimeLimitMs?: number;
  /** Progress rows are written at most this often (events are not throttled). Default 200 ms. */
  readonly progressWriteIntervalMs?: number;
  /** A worker host silent for this long is presumed dead and its jobs re-queued. Default 30 s. */
  readonly workerStaleMs?: number;
  /** While anyone subscribes, how often to look for other processes' changes to jobs. Default 250 ms. */
  readonly watchIntervalMs?: number;
}

/** What this queue last knew of a waiting or running job, to tell other processes' changes from its own. */
interface KnownJob {
  status: JobStatus;
  attempts: number;
  step: number;
  cancelRequested: boolean;
}

/**
 * Whether a registered worker host still lives: a recent heartbeat, and on this machine a live pid
 * (so a killed process's jobs are recovered at once instead of after the staleness limit).
 */
export function isWorkerAlive(worker: WorkerRow, staleMs: number, now = Date.now()): boolean {
  if (now - worker.heartbeatAt > staleMs) return false;
  if (worker.host !== os.hostname()) return true;
  try {
    process.kill(worker.pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** `worker_id` of a queued row the bot handed to Redis (docs/scaling.md). */
export const REDIS_HANDOVER = 'redis';

export class SqliteQueue implements Queue {
  private readonly events = new EventEmitter();
  private readonly maxQueued: number;
  private readonly maxRunningPerUser: number;
  private readonly engineVersion: string;
  private readonly progressWriteIntervalMs: number;
  private readonly lastProgressWrite = new Map<number, number>();
  private readonly known = new Map<number, KnownJob>();
  private watchTimer: NodeJS.Timeout | undefined;
  private dataVersion = -1;

  constructor(
    readonly store: Store,
    private readonly options: SqliteQueueOptions = {},
  ) {
    this.maxQueued = options.maxQueued ?? 100;
    this.maxRunningPerUser = options.maxRunningPerUser ?? 1;
    this.engineVersion = options.engineVersion ?? 'dev';
    this.progressWriteIntervalMs = options.progressWriteIntervalMs ?? 200;
    this.events.setMaxListeners(0);
  }

  /**
   * The checks enqueue makes before it writes a row (ban, queue length, the user's active jobs and
   * daily quota), for a caller that must refuse early: the service runs them before it decodes uploads.
   */
  async checkAdmission(who: Who): Promise<void> {
    this.refuseIfNotAdmitted(who);
  }

  private refuseIfNotAdmitted(who: Who): void {
    const { store } = this;
    const user = store.users.get(who);
    if (user.banned) {
      throw new QueueRejectedError(
        'banned',
        `you are banned from making images here${user.banReason ? ` (${user.banReason})` : ''}`,
      );
    }
    const queued = store.jobs.countQueued();
    if (queued >= this.maxQueued) {
      throw new QueueRejectedError(
        'queue-full',
        `the queue is full (${queued} jobs waiting); please try again in a few minutes`,
      );
    }
    if (!user.isAdmin) {
      const active = store.jobs.countActive(who);
      if (active >= user.limits.maxActiveJobs) {
        throw new QueueRejectedError(
          'user-limit',
          `you already have ${active} job${active === 1 ? '' : 's'} waiting or running (the limit is ${user.limits.maxActiveJobs}); ` +
            `wait for one to finish or cancel one`,
        );
      }
      const today = store.jobs.countCreatedSince(who, Date.now() - 24 * 3_600_000);
      if (today >= user.limits.dailyQuota) {
        throw new QueueRejectedError(
          'quota',
          `you have used your ${user.limits.dailyQuota} jobs for the last 24 hours; try again later`,
        );
      }
    }
  }

  /**
   * Admits a job or refuses it with a QueueRejectedError saying why.
   *
   * @example
   * const { jobId, position } = await queue.enqueue({ who, command: 'digits', params: { digit: 7 }, seed: 42 });
   */
  async enqueue(spec: JobSpec): Promise<EnqueueReceipt> {
    const { store } = this;
    const admit = (): EnqueueReceipt => {
      this.refuseIfNotAdmitted(spec.who);
      const checkpoint = spec.checkpointId === undefined ? undefined : store.training.getCheckpoint(spec.checkpointId);
      if (spec.checkpointId !== undefined && checkpoint === undefined) {
        throw new QueueRejectedError('not-found', `there is no checkpoint #${spec.checkpointId}`);
      }
      const row = store.jobs.insert({
        ...spec,
        kind: spec.kind ?? 'interactive',
        timeLimitMs: spec.timeLimitMs ?? this.options.defaultTimeLimitMs,
      });
      store.seeds.record({
        jobId: row.id,
        seed: row.seed,
        command: row.command,
        params: row.params,
        model: row.model,
        checkpointId: row.checkpointId,
        checkpointSha256: checkpoint?.sha256 ?? null,
        engineVersion: this.engineVersion,
      });
      return { jobId: row.id, position: store.jobs.position(row.id) ?? 1 };
    };
    const receipt = this.write(() => store.transaction(admit));
    this.emit({ type: 'queued', jobId: receipt.jobId, position: receipt.position });
    return receipt;
  }

  async get(jobId: number): Promise<JobView | undefined> {
    return this.view(this.store.jobs.get(jobId));
  }

  async position(jobId: number): Promise<number | undefined> {
    return this.store.jobs.position(jobId);
  }

  async cancel(jobId: number, by: Who): Promise<CancelOutcome> {
    const job = this.store.jobs.get(jobId);
    if (job === undefined) throw new QueueRejectedError('not-found', `there is no job #${jobId}`);
    const isOwner = job.platform === by.platform && job.userId === by.userId;
    if (!isOwner && !this.store.users.isAdmin(by)) {
      throw new QueueRejectedError('not-allowed', `only the owner of job #${jobId} or an admin can cancel it`);
    }
    const outcome = this.store.jobs.requestCancel(jobId, formatWho(by));
    if (outcome === 'cancelled') this.emit({ type: 'cancelled', jobId });
    if (outcome === 'requested') this.emit({ type: 'cancel-requested', jobId, by: formatWho(by) });
    return outcome;
  }

  /** Every job's events, this process's and (within `watchIntervalMs`) other processes' alike. */
  subscribe(listener: (event: JobEvent) => void): () => void {
    this.events.on('event', listener);
    if (this.watchTimer === undefined) this.startWatching();
    return () => {
      this.events.off('event', listener);
      if (this.events.listenerCount('event') === 0) this.stopWatching();
    };
  }

  async registerWorker(): Promise<string> {
    const id = crypto.randomUUID();
    this.store.jobs.registerWorker({ id, host: os.hostname(), pid: process.pid });
    return id;
  }

  /** Whether another process's worker (a bot on the same data folder) is registered and alive. */
  hasLiveWorker(): boolean {
    const staleMs = this.options.workerStaleMs ?? 30_000;
    return this.store.jobs.listWorkers().some((w) => isWorkerAlive(w, staleMs));
  }

  async heartbeat(workerId: string): Promise<void> {
    this.write(() => this.store.jobs.heartbeat(workerId));
  }

  async unregisterWorker(workerId: string): Promise<void> {
    this.store.jobs.unregisterWorker(workerId);
  }

  async claim(
    workerId: string,
    options: { interactiveOnly?: boolean; pausedJobId?: number } = {},
  ): Promise<ClaimedJob | undefined> {
    const claimOptions = {
      workerId,
      maxRunningPerUser: this.maxRunningPerUser,
      interactiveOnly: options.interactiveOnly,
      ignoreRunningId: options.pausedJobId,
    };
    // Rows the bot handed to Redis (REDIS_HANDOVER) are left to `illusionist worker` processes, so a
    // CLI on the bot's data folder does not run them a second time.
    const row = this.write(() => this.store.jobs.claimNext(claimOptions));
    if (row === undefined) return undefined;
    this.emit({ type: 'started', jobId: row.id, attempt: row.attempts });
    return { view: { ...row, position: undefined }, attempt: row.attempts };
  }

  /** Marks a queued row as handed to Redis (see `claim`); a requeue clears it. */
  markHandedOver(jobId: number): void {
    this.write(() =>
      this.store.db
        .prepare(`UPDATE jobs SET worker_id = ? WHERE id = ? AND status = 'queued'`)
        .run(REDIS_HANDOVER, jobId),
    );
  }

  /** A row another host's worker (Redis mode) runs, as running here, with the usual 'started' event. */
  markRunningElsewhere(jobId: number, attempt: number, workerId: string): boolean {
    const changed = this.write(
      () =>
        this.store.db
          .prepare(
            `UPDATE jobs SET status = 'running', started_at = ?, attempts = ?, worker_id = ?, error = NULL WHERE id = ? AND status = 'queued'`,
          )
          .run(Date.now(), Math.max(1, attempt), workerId, jobId).changes === 1,
    );
    if (changed) this.emit({ type: 'started', jobId, attempt: Math.max(1, attempt) });
    return changed;
  }

  async hasInteractiveWaiting(pausedJobId?: number): Promise<boolean> {
    return (
      this.store.jobs.peekNext({
        maxRunningPerUser: this.maxRunningPerUser,
        interactiveOnly: true,
        ignoreRunningId: pausedJobId,
      }) !== undefined
    );
  }

  async reportProgress(jobId: number, progress: Progress): Promise<void> {
    const now = Date.now();
    const last = this.lastProgressWrite.get(jobId) ?? 0;
    if (progress.step >= progress.total || now - last >= this.progressWriteIntervalMs) {
      this.lastProgressWrite.set(jobId, now);
      try {
        this.store.jobs.updateProgress(jobId, progress.step, progress.total, progress.message);
      } catch (error) {
        // The row is for other processes' eyes only; a full disk must not stop the job itself.
        if (!isStorageFull(error)) throw error;
      }
    }
    this.emit({ type: 'progress', jobId, ...progress });
  }

  async reportPaused(jobId: number, paused: boolean): Promise<void> {
    this.emit(paused ? { type: 'paused', jobId } : { type: 'resumed', jobId });
  }

  async saveResumeState(jobId: number, state: unknown): Promise<void> {
    this.store.jobs.saveResumeState(jobId, state);
  }

  async complete(jobId: number, output: HandlerOutput, handlerMs: number): Promise<JobResult> {
    return this.writeAsync(() => this.save(jobId, output, handlerMs));
  }

  private async save(jobId: number, output: HandlerOutput, handlerMs: number): Promise<JobResult> {
    const { store } = this;
    // Files first (each durable before its row), then one transaction links them and closes the job.
    const artifacts = await store.artifacts.saveAll(output.files);
    const saved = output.files.map((file, i) => ({
      artifact: artifacts[i]!,
      caption: file.caption ?? null,
      name: file.name ?? null,
    }));
    const finishedAt = Date.now();
    const result = store.transaction(() => {
      const job = store.jobs.get(jobId);
      if (job === undefined) throw new RangeError(`there is no job #${jobId}`);
      saved.forEach((s, i) => {
        store.artifacts.linkToJob(jobId, i, s.artifact.sha256, s.caption ?? undefined, s.name ?? undefined);
      });
      if (saved[0] !== undefined) store.seeds.setOutput(jobId, saved[0].artifact.sha256);
      const startedAt = job.startedAt ?? finishedAt;
      const files: ResultFile[] = saved.map((s) => ({
        sha256: s.artifact.sha256,
        path: s.artifact.path,
        ext: s.artifact.ext,
        mime: s.artifact.mime,
        bytes: s.artifact.bytes,
        caption: s.caption,
        name: s.name,
      }));
      const jobResult: JobResult = {
        jobId,
        files,
        captions: [...(output.captions ?? [])],
        seed: job.seed,
        timings: {
          queuedMs: startedAt - job.createdAt,
          runMs: finishedAt - startedAt,
          handlerMs,
          totalMs: finishedAt - job.createdAt,
        },
        metrics: { ...output.metrics },
      };
      store.jobs.updateProgress(jobId, job.progressTotal ?? 1, job.progressTotal ?? 1);
      // Throwing rolls the links back: a job that stopped running meanwhile (cancelled, re-queued by
      // another process) keeps the state it has, and nobody is told it is done.
      if (!store.jobs.markDone(jobId, jobResult, finishedAt))
        throw new Error(
          `job #${jobId} is no longer running (it is ${store.jobs.get(jobId)?.status}); its outputs are not recorded`,
        );
      return jobResult;
    });
    this.lastProgressWrite.delete(jobId);
    this.emit({ type: 'done', jobId, result });
    return result;
  }

  /** Runs a write; a full disk under the data folder is said as such (SQLite's own words name neither). */
  private write<T>(fn: () => T): T {
    try {
      return fn();
    } catch (error) {
      if (!isStorageFull(error) || error instanceof StorageFullError) throw error;
      throw new StorageFullError(path.dirname(path.resolve(this.store.path)), (error as Error).message, {
        cause: error,
      });
    }
  }

  private async writeAsync<T>(fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      if (!isStorageFull(error) || error instanceof StorageFullError) throw error;
      throw new StorageFullError(path.dirname(path.resolve(this.store.path)), (error as Error).message, {
        cause: error,
      });
    }
  }

  async fail(jobId: number, error: string): Promise<void> {
    this.lastProgressWrite.delete(jobId);
    if (this.write(() => this.store.jobs.markFailed(jobId, error))) this.emit({ type: 'failed', jobId, error });
  }

  async markCancelled(jobId: number): Promise<void> {
    this.lastProgressWrite.delete(jobId);
    if (this.write(() => this.store.jobs.markCancelled(jobId))) this.emit({ type: 'cancelled', jobId });
  }

  async requeue(jobId: number, options: { countAttempt: boolean; reason: string }): Promise<void> {
    const job = this.store.jobs.get(jobId);
    if (job === undefined) return;
    if (options.countAttempt && job.attempts >= job.maxAttempts) {
      await this.fail(jobId, `gave up after ${job.attempts} attempts: ${options.reason}`);
      return;
    }
    if (
      this.write(() => this.store.jobs.requeue(jobId, { countAttempt: options.countAttempt, note: options.reason }))
    ) {
      this.emit({ type: 'requeued', jobId, reason: options.reason });
    }
  }

  async recoverInterrupted(): Promise<RecoveryReport> {
    const staleMs = this.options.workerStaleMs ?? 30_000;
    const report = this.store.jobs.recoverInterrupted((worker) => isWorkerAlive(worker, staleMs));
    for (const jobId of report.requeued)
      this.emit({ type: 'requeued', jobId, reason: 'the previous process stopped while it ran' });
    for (const jobId of report.failed)
      this.emit({ type: 'failed', jobId, error: this.store.jobs.get(jobId)?.error ?? 'failed' });
    return report;
  }

  async isCancelRequested(jobId: number): Promise<boolean> {
    return this.store.jobs.get(jobId)?.cancelRequested ?? false;
  }

  private view(row: JobRow | undefined): JobView | undefined {
    if (row === undefined) return undefined;
    return { ...row, position: row.status === 'queued' ? this.store.jobs.position(row.id) : undefined };
  }

  private startWatching(): void {
    this.known.clear();
    this.dataVersion = this.store.dataVersion();
    for (const row of this.store.jobs.listActive()) this.remember(row);
    // Unref'd: watching must not keep a finished process alive (waitForJob holds its own reference).
    this.watchTimer = setInterval(() => this.watchOnce(), this.options.watchIntervalMs ?? 250);
    this.watchTimer.unref();
  }

  private stopWatching(): void {
    clearInterval(this.watchTimer);
    this.watchTimer = undefined;
    this.known.clear();
  }

  /** Reads back what other connections committed since the last look and delivers it as events. */
  private watchOnce(): void {
    if (!this.store.db.open) {
      this.stopWatching();
      return;
    }
    try {
      const version = this.store.dataVersion();
      if (version === this.dataVersion) return;
      this.dataVersion = version;
      const active = this.store.jobs.listActive();
      const seen = new Set(active.map((row) => row.id));
      for (const row of active) this.reconcile(row);
      for (const id of [...this.known.keys()]) {
        if (seen.has(id)) continue;
        const row = this.store.jobs.get(id);
        if (row === undefined) this.known.delete(id);
        else this.reconcile(row);
      }
    } catch (error) {
      console.error("job queue: could not read other processes' changes (trying again shortly):", error);
    }
  }

  /** Delivers the events that lead from what this queue knew of `row`'s job to the row as it is now. */
  private reconcile(row: JobRow): void {
    const was = this.known.get(row.id);
    const found: JobEvent[] = [];
    if (was === undefined && row.status === 'queued')
      found.push({ type: 'queued', jobId: row.id, position: this.store.jobs.position(row.id) ?? 1 });
    if (was?.status === 'running' && row.status === 'queued') {
      found.push({ type: 'requeued', jobId: row.id, reason: row.error ?? 'another process put it back in the queue' });
    }
    if (row.status === 'running' && (was === undefined || was.status !== 'running' || row.attempts > was.attempts)) {
      found.push({ type: 'started', jobId: row.id, attempt: row.attempts });
    }
    const moved = row.status === 'running' || (was !== undefined && row.status === 'done');
    if (moved && row.progressStep !== null && row.progressTotal !== null && row.progressStep > (was?.step ?? -1)) {
      found.push({
        type: 'progress',
        jobId: row.id,
        step: row.progressStep,
        total: row.progressTotal,
        message: row.progressMessage ?? undefined,
      });
    }
    if (row.status === 'running' && row.cancelRequested && !was?.cancelRequested) {
      found.push({ type: 'cancel-requested', jobId: row.id, by: row.cancelledBy ?? 'another process' });
    }
    if (was !== undefined && row.status === 'done')
      found.push({ type: 'done', jobId: row.id, result: row.result as JobResult });
    if (was !== undefined && row.status === 'failed')
      found.push({ type: 'failed', jobId: row.id, error: row.error ?? 'failed' });
    if (was !== undefined && row.status === 'cancelled') found.push({ type: 'cancelled', jobId: row.id });
    this.remember(row);
    for (const event of found) this.deliver(event);
  }

  private remember(row: JobRow): void {
    if (row.status !== 'queued' && row.status !== 'running') {
      this.known.delete(row.id);
      return;
    }
    const step = Math.max(row.progressStep ?? -1, this.known.get(row.id)?.step ?? -1);
    this.known.set(row.id, {
      status: row.status,
      attempts: row.attempts,
      step: row.status === 'queued' ? -1 : step,
      cancelRequested: row.cancelRequested,
    });
  }

  /** Keeps the watch's picture in step with this process's own changes, so they are not delivered twice. */
  private noteOwn(event: JobEvent): void {
    if (this.watchTimer === undefined || event.type === 'paused' || event.type === 'resumed') return;
    if (event.type === 'progress') {
      const job = this.known.get(event.jobId);
      if (job !== undefined) job.step = Math.max(job.step, event.step);
      return;
    }
    const row = this.store.jobs.get(event.jobId);
    if (row === undefined) this.known.delete(event.jobId);
    else this.remember(row);
  }

  private emit(event: JobEvent): void {
    this.noteOwn(event);
    this.deliver(event);
  }

  private deliver(event: JobEvent): void {
    // A throwing listener (a front end's bug) must not break the queue's own bookkeeping.
    for (const listener of this.events.listeners('event') as ((e: JobEvent) => void)[]) {
      try {
        listener(event);
      } catch (error) {
        console.error(`a job event listener failed on ${event.type} of job #${event.jobId}:`, error);
      }
    }
  }
}
