// The jobs aggregate: one row per generation or training run, from queued to a final status.
// Scheduling decisions (claim order, positions, crash recovery) are single SQL statements here.
import type { Db } from './database.js';
import type { Who } from './who.js';

export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
export type JobKind = 'interactive' | 'training';
export const finalStatuses: readonly JobStatus[] = ['done', 'failed', 'cancelled'];

export interface NewJob {
  readonly who: Who;
  readonly channelId?: string | undefined;
  readonly threadId?: string | undefined;
  readonly command: string;
  /** Already validated by the command's schema; stored as JSON. */
  readonly params: unknown;
  readonly model?: string | undefined;
  readonly checkpointId?: number | undefined;
  readonly seed: number;
  readonly kind: JobKind;
  readonly maxAttempts?: number | undefined;
  readonly timeLimitMs?: number | undefined;
  readonly rerunOf?: number | undefined;
}

export interface JobRow {
  readonly id: number;
  readonly platform: string;
  readonly userId: string;
  readonly channelId: string | null;
  readonly threadId: string | null;
  readonly command: string;
  readonly params: unknown;
  readonly model: string | null;
  readonly checkpointId: number | null;
  readonly seed: number;
  readonly kind: JobKind;
  readonly status: JobStatus;
  readonly createdAt: number;
  readonly startedAt: number | null;
  readonly finishedAt: number | null;
  readonly progressStep: number | null;
  readonly progressTotal: number | null;
  readonly progressMessage: string | null;
  readonly resumeState: unknown;
  readonly error: string | null;
  readonly attempts: number;
  readonly maxAttempts: number;
  readonly timeLimitMs: number | null;
  readonly cancelRequested: boolean;
  readonly cancelledBy: string | null;
  readonly result: unknown;
  readonly rerunOf: number | null;
  /** The worker process that claimed it (while running). */
  readonly workerId: string | null;
}

export interface WorkerRow {
  readonly id: string;
  readonly host: string;
  readonly pid: number;
  readonly startedAt: number;
  readonly heartbeatAt: number;
}

interface RawJob {
  id: number;
  platform: string;
  user_id: string;
  channel_id: string | null;
  thread_id: string | null;
  command: string;
  params: string;
  model: string | null;
  checkpoint_id: number | null;
  seed: number;
  kind: JobKind;
  status: JobStatus;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  progress_step: number | null;
  progress_total: number | null;
  progress_message: string | null;
  resume_state: string | null;
  error: string | null;
  attempts: number;
  max_attempts: number;
  time_limit_ms: number | null;
  cancel_requested: number;
  cancelled_by: string | null;
  result: string | null;
  rerun_of: number | null;
  worker_id: string | null;
}

function toJobRow(r: RawJob): JobRow {
  return {
    id: r.id,
    platform: r.platform,
    userId: r.user_id,
    channelId: r.channel_id,
    threadId: r.thread_id,
    command: r.command,
    params: JSON.parse(r.params) as unknown,
    model: r.model,
    checkpointId: r.checkpoint_id,
    seed: r.seed,
    kind: r.kind,
    status: r.status,
    createdAt: r.created_at,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    progressStep: r.progress_step,
    progressTotal: r.progress_total,
    progressMessage: r.progress_message,
    resumeState: r.resume_state === null ? undefined : (JSON.parse(r.resume_state) as unknown),
    error: r.error,
    attempts: r.attempts,
    maxAttempts: r.max_attempts,
    timeLimitMs: r.time_limit_ms,
    cancelRequested: r.cancel_requested !== 0,
    cancelledBy: r.cancelled_by,
    result: r.result === null ? undefined : (JSON.parse(r.result) as unknown),
    rerunOf: r.rerun_of,
    workerId: r.worker_id,
  };
}

export interface ListJobsFilter {
  readonly who?: Who | undefined;
  readonly status?: JobStatus | undefined;
  readonly limit?: number | undefined;
  /** Keyset pagination: only jobs with a smaller id. */
  readonly beforeId?: number | undefined;
}

export interface ClaimOptions {
  /** A user with this many running jobs is skipped (others go first). Default 1. */
  readonly maxRunningPerUser?: number | undefined;
  readonly interactiveOnly?: boolean | undefined;
  /** A running job not to count against its user (a training run paused for interactive jobs). */
  readonly ignoreRunningId?: number | undefined;
  /** Recorded on the job so recovery can tell whose it is. */
  readonly workerId?: string | undefined;
}

export interface RecoveryReport {
  readonly requeued: number[];
  readonly failed: number[];
}

export class JobsStore {
  private readonly insertStmt;
  private readonly getStmt;
  private readonly listStmt;
  private readonly countQueuedStmt;
  private readonly countActiveForUserStmt;
  private readonly countCreatedSinceStmt;
  private readonly positionStmt;
  private readonly nextStmt;
  private readonly startStmt;
  private readonly registerWorkerStmt;
  private readonly heartbeatStmt;
  private readonly unregisterWorkerStmt;
  private readonly workersStmt;
  private readonly progressStmt;
  private readonly resumeStateStmt;
  private readonly doneStmt;
  private readonly failStmt;
  private readonly cancelQueuedStmt;
  private readonly cancelRunningStmt;
  private readonly markCancelledStmt;
  private readonly requeueStmt;
  private readonly runningStmt;
  private readonly activeStmt;
  private readonly hasQueuedInteractiveStmt;

  constructor(private readonly db: Db) {
    this.insertStmt = db.prepare(`
      INSERT INTO jobs (platform, user_id, channel_id, thread_id, command, params, model, checkpoint_id,
                        seed, kind, status, created_at, max_attempts, time_limit_ms, rerun_of)
      VALUES (@platform, @userId, @channelId, @threadId, @command, @params, @model, @checkpointId,
              @seed, @kind, 'queued', @createdAt, @maxAttempts, @timeLimitMs, @rerunOf)`);
    this.getStmt = db.prepare<[number], RawJob>('SELECT * FROM jobs WHERE id = ?');
    this.listStmt = db.prepare<
      { platform: string | null; userId: string | null; status: string | null; beforeId: number; limit: number },
      RawJob
    >(`
      SELECT * FROM jobs
      WHERE (@platform IS NULL OR (platform = @platform AND user_id = @userId))
        AND (@status IS NULL OR status = @status)
        AND id < @beforeId
      ORDER BY id DESC LIMIT @limit`);
    this.countQueuedStmt = db.prepare<[], number>(`SELECT count(*) FROM jobs WHERE status = 'queued'`).pluck();
    this.countActiveForUserStmt = db
      .prepare<[string, string], number>(
        `SELECT count(*) FROM jobs WHERE platform = ? AND user_id = ? AND status IN ('queued', 'running')`,
      )
      .pluck();
    this.countCreatedSinceStmt = db
      .prepare<[string, string, number], number>(
        `SELECT count(*) FROM jobs WHERE platform = ? AND user_id = ? AND created_at >= ?`,
      )
      .pluck();
    // Interactive jobs run before training, FIFO within each kind; a queued training job waits
    // behind every queued interactive job, including ones that arrive later.
    this.positionStmt = db
      .prepare<{ id: number }, number>(`
      SELECT count(*) FROM jobs o, (SELECT kind, id FROM jobs WHERE id = @id AND status = 'queued') me
      WHERE o.status = 'queued'
        AND (o.id = me.id
             OR (me.kind = 'interactive' AND o.kind = 'interactive' AND o.id < me.id)
             OR (me.kind = 'training' AND (o.kind = 'interactive' OR o.id < me.id)))`)
      .pluck();
    // One kind at a time so the (status, kind, id) index yields candidates already in FIFO order.
    this.nextStmt = db.prepare<{ kind: JobKind; maxRunningPerUser: number; ignoreRunningId: number }, RawJob>(`
      SELECT * FROM jobs j
      WHERE j.status = 'queued' AND j.kind = @kind
        -- A queued row with a worker_id was handed to Redis (docs/scaling.md): its workers run it.
        AND j.worker_id IS NULL
        AND (SELECT count(*) FROM jobs r
             WHERE r.status = 'running' AND r.platform = j.platform AND r.user_id = j.user_id
               AND r.id != @ignoreRunningId) < @maxRunningPerUser
      ORDER BY j.id
      LIMIT 1`);
    this.startStmt = db.prepare<[number, string | null, number]>(
      `UPDATE jobs SET status = 'running', started_at = ?, worker_id = ?, attempts = attempts + 1, error = NULL
       WHERE id = ? AND status = 'queued'`,
    );
    this.registerWorkerStmt = db.prepare<{ id: string; host: string; pid: number; now: number }>(
      'INSERT OR REPLACE INTO workers (id, host, pid, started_at, heartbeat_at) VALUES (@id, @host, @pid, @now, @now)',
    );
    this.heartbeatStmt = db.prepare<[number, string]>('UPDATE workers SET heartbeat_at = ? WHERE id = ?');
    this.unregisterWorkerStmt = db.prepare<[string]>('DELETE FROM workers WHERE id = ?');
    this.workersStmt = db.prepare<
      [],
      { id: string; host: string; pid: number; started_at: number; heartbeat_at: number }
    >('SELECT * FROM workers');
    this.progressStmt = db.prepare<[number, number, string | null, number]>(
      `UPDATE jobs SET progress_step = ?, progress_total = ?, progress_message = ? WHERE id = ?`,
    );
    this.resumeStateStmt = db.prepare<[string, number]>(`UPDATE jobs SET resume_state = ? WHERE id = ?`);
    this.doneStmt = db.prepare<[string, number, number]>(
      `UPDATE jobs SET status = 'done', result = ?, finished_at = ?, resume_state = NULL
       WHERE id = ? AND status = 'running'`,
    );
    this.failStmt = db.prepare<[string, number, number]>(
      `UPDATE jobs SET status = 'failed', error = ?, finished_at = ? WHERE id = ? AND status IN ('queued', 'running')`,
    );
    this.cancelQueuedStmt = db.prepare<[string, number, number]>(
      `UPDATE jobs SET status = 'cancelled', cancel_requested = 1, cancelled_by = ?, finished_at = ?
       WHERE id = ? AND status = 'queued'`,
    );
    this.cancelRunningStmt = db.prepare<[string, number]>(
      `UPDATE jobs SET cancel_requested = 1, cancelled_by = ? WHERE id = ? AND status = 'running'`,
    );
    this.markCancelledStmt = db.prepare<[number, number]>(
      `UPDATE jobs SET status = 'cancelled', finished_at = ? WHERE id = ? AND status IN ('queued', 'running')`,
    );
    this.requeueStmt = db.prepare<[number, string | null, number]>(
      `UPDATE jobs SET status = 'queued', started_at = NULL, worker_id = NULL, attempts = max(attempts - ?, 0), error = ?
       WHERE id = ? AND status = 'running'`,
    );
    this.runningStmt = db.prepare<[], RawJob>(`SELECT * FROM jobs WHERE status = 'running' ORDER BY id`);
    this.activeStmt = db.prepare<[], RawJob>(`SELECT * FROM jobs WHERE status IN ('queued', 'running') ORDER BY id`);
    this.hasQueuedInteractiveStmt = db
      .prepare<[], number>(`SELECT EXISTS (SELECT 1 FROM jobs WHERE status = 'queued' AND kind = 'interactive')`)
      .pluck();
  }

  insert(job: NewJob, now = Date.now()): JobRow {
    const info = this.insertStmt.run({
      platform: job.who.platform,
      userId: job.who.userId,
      channelId: job.channelId ?? null,
      threadId: job.threadId ?? null,
      command: job.command,
      params: JSON.stringify(job.params ?? {}),
      model: job.model ?? null,
      checkpointId: job.checkpointId ?? null,
      seed: job.seed,
      kind: job.kind,
      createdAt: now,
      maxAttempts: job.maxAttempts ?? 3,
      timeLimitMs: job.timeLimitMs ?? null,
      rerunOf: job.rerunOf ?? null,
    });
    return this.get(Number(info.lastInsertRowid))!;
  }

  get(id: number): JobRow | undefined {
    const raw = this.getStmt.get(id);
    return raw === undefined ? undefined : toJobRow(raw);
  }

  list(filter: ListJobsFilter = {}): JobRow[] {
    return this.listStmt
      .all({
        platform: filter.who?.platform ?? null,
        userId: filter.who?.userId ?? null,
        status: filter.status ?? null,
        beforeId: filter.beforeId ?? Number.MAX_SAFE_INTEGER,
        limit: filter.limit ?? 20,
      })
      .map(toJobRow);
  }

  countQueued(): number {
    return this.countQueuedStmt.get()!;
  }

  countActive(who: Who): number {
    return this.countActiveForUserStmt.get(who.platform, who.userId)!;
  }

  countCreatedSince(who: Who, since: number): number {
    return this.countCreatedSinceStmt.get(who.platform, who.userId, since)!;
  }

  /** 1 = starts next; undefined once the job is no longer queued. */
  position(id: number): number | undefined {
    const n = this.positionStmt.get({ id })!;
    return n === 0 ? undefined : n;
  }

  hasQueuedInteractive(): boolean {
    return this.hasQueuedInteractiveStmt.get() === 1;
  }

  /** The job `claimNext` would take, without taking it. */
  peekNext(options: ClaimOptions = {}): JobRow | undefined {
    const bind = { maxRunningPerUser: options.maxRunningPerUser ?? 1, ignoreRunningId: options.ignoreRunningId ?? -1 };
    const raw =
      this.nextStmt.get({ ...bind, kind: 'interactive' }) ??
      (options.interactiveOnly ? undefined : this.nextStmt.get({ ...bind, kind: 'training' }));
    return raw === undefined ? undefined : toJobRow(raw);
  }

  /**
   * Moves the next eligible queued job to 'running' and returns it. The select and update share
   * one IMMEDIATE transaction so two workers on the same file never claim the same job.
   */
  claimNext(options: ClaimOptions = {}, now = Date.now()): JobRow | undefined {
    const claim = this.db.transaction(() => {
      const raw = this.peekNext(options);
      if (raw === undefined) return undefined;
      this.startStmt.run(now, options.workerId ?? null, raw.id);
      return this.get(raw.id);
    });
    return claim.immediate();
  }

  updateProgress(id: number, step: number, total: number, message?: string): void {
    this.progressStmt.run(step, total, message ?? null, id);
  }

  saveResumeState(id: number, state: unknown): void {
    this.resumeStateStmt.run(JSON.stringify(state), id);
  }

  markDone(id: number, result: unknown, now = Date.now()): boolean {
    return this.doneStmt.run(JSON.stringify(result), now, id).changes === 1;
  }

  markFailed(id: number, error: string, now = Date.now()): boolean {
    return this.failStmt.run(error, now, id).changes === 1;
  }

  markCancelled(id: number, now = Date.now()): boolean {
    return this.markCancelledStmt.run(now, id).changes === 1;
  }

  /**
   * Cancels a queued job at once, or flags a running one for its worker to stop at the next step.
   * Returns what happened so the caller can say so.
   */
  requestCancel(id: number, by: string, now = Date.now()): 'cancelled' | 'requested' | 'not-active' {
    const run = this.db.transaction(() => {
      if (this.cancelQueuedStmt.run(by, now, id).changes === 1) return 'cancelled' as const;
      if (this.cancelRunningStmt.run(by, id).changes === 1) return 'requested' as const;
      return 'not-active' as const;
    });
    return run.immediate();
  }

  /** Puts a running job back at its place in the queue (its id keeps its FIFO position). */
  requeue(id: number, options: { countAttempt: boolean; note?: string }): boolean {
    return this.requeueStmt.run(options.countAttempt ? 0 : 1, options.note ?? null, id).changes === 1;
  }

  listRunning(): JobRow[] {
    return this.runningStmt.all().map(toJobRow);
  }

  /** Every job still waiting or running, oldest first. */
  listActive(): JobRow[] {
    return this.activeStmt.all().map(toJobRow);
  }

  registerWorker(worker: { id: string; host: string; pid: number }, now = Date.now()): void {
    this.registerWorkerStmt.run({ id: worker.id, host: worker.host, pid: worker.pid, now });
  }

  heartbeat(workerId: string, now = Date.now()): void {
    this.heartbeatStmt.run(now, workerId);
  }

  unregisterWorker(workerId: string): void {
    this.unregisterWorkerStmt.run(workerId);
  }

  listWorkers(): WorkerRow[] {
    return this.workersStmt
      .all()
      .map((w) => ({ id: w.id, host: w.host, pid: w.pid, startedAt: w.started_at, heartbeatAt: w.heartbeat_at }));
  }

  /**
   * Re-queues 'running' jobs whose worker is gone (no row, or `isAlive` says no), or fails them once
   * they have used all their attempts: a job that crashes the worker every time must not loop forever.
   * Without `isAlive` every running job counts as orphaned (a single process at start-up).
   */
  recoverInterrupted(isAlive: (worker: WorkerRow) => boolean = () => false, now = Date.now()): RecoveryReport {
    const recover = this.db.transaction(() => {
      const requeued: number[] = [];
      const failed: number[] = [];
      const alive = new Set<string>();
      for (const worker of this.listWorkers()) {
        if (isAlive(worker)) alive.add(worker.id);
        else this.unregisterWorker(worker.id);
      }
      for (const job of this.listRunning()) {
        if (job.workerId !== null && alive.has(job.workerId)) continue;
        if (job.cancelRequested) {
          this.markCancelled(job.id, now);
        } else if (job.attempts >= job.maxAttempts) {
          this.markFailed(
            job.id,
            `gave up after ${job.attempts} attempts: the process stopped while the job was running each time`,
            now,
          );
          failed.push(job.id);
        } else {
          this.requeue(job.id, { countAttempt: true, note: 'interrupted: the process stopped while it ran' });
          requeued.push(job.id);
        }
      }
      return { requeued, failed };
    });
    return recover.immediate();
  }

  /**
   * Deletes a finished job with what hangs off it (output links, seed record, gallery post and its
   * votes; re-runs of it keep their rows, unlinked). Training jobs are kept: runs and checkpoints
   * refer to them. Returns the artifacts it referenced (outputs and uploads), for
   * ArtifactsStore.removeUnreferenced, or undefined when there is no such finished job.
   */
  deleteFinished(id: number): string[] | undefined {
    return this.db
      .transaction(() => {
        const raw = this.db
          .prepare<[number], { params: string; status: JobStatus; kind: JobKind }>(
            'SELECT params, status, kind FROM jobs WHERE id = ?',
          )
          .get(id);
        if (raw === undefined || raw.kind === 'training' || !finalStatuses.includes(raw.status)) return undefined;
        const outputs = this.db
          .prepare<[number], string>('SELECT artifact_sha256 FROM job_outputs WHERE job_id = ?')
          .pluck()
          .all(id);
        const uploads = [...raw.params.matchAll(/"sha256":"([0-9a-f]{64})"/g)].map((m) => m[1]!);
        this.db
          .prepare('DELETE FROM gallery_votes WHERE post_id IN (SELECT id FROM gallery_posts WHERE job_id = ?)')
          .run(id);
        this.db.prepare('DELETE FROM gallery_posts WHERE job_id = ?').run(id);
        this.db.prepare('DELETE FROM job_outputs WHERE job_id = ?').run(id);
        this.db.prepare('DELETE FROM seeds WHERE job_id = ?').run(id);
        this.db.prepare('UPDATE jobs SET rerun_of = NULL WHERE rerun_of = ?').run(id);
        this.db.prepare('DELETE FROM jobs WHERE id = ?').run(id);
        return [...new Set([...outputs, ...uploads])];
      })
      .immediate();
  }
}
