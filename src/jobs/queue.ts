// The queue contract. The embedded default is SqliteQueue; a distributed queue (several GPU
// workers) implements the same two halves, so commands and front ends do not change.
import type { RecoveryReport, Who } from '../store/index.js';
import type { HandlerOutput } from './handler.js';
import type { EnqueueReceipt, JobEvent, JobResult, JobSpec, JobView, Progress } from './types.js';

export type RejectionCode =
  | 'queue-full'
  | 'user-limit'
  | 'quota'
  | 'banned'
  | 'not-allowed'
  | 'not-found'
  /** The distributed queue (Redis) does not answer; nothing was started. */
  | 'unavailable';

/** A request the queue refuses; `message` is written for the person who asked. */
export class QueueRejectedError extends Error {
  constructor(
    readonly code: RejectionCode,
    message: string,
  ) {
    super(message);
    this.name = 'QueueRejectedError';
  }
}

export type CancelOutcome =
  /** It was waiting and is now cancelled. */
  | 'cancelled'
  /** It is running and will stop at its next step. */
  | 'requested'
  /** It had already finished. */
  | 'not-active';

/** What front ends and commands use. */
export interface QueueClient {
  enqueue(spec: JobSpec): Promise<EnqueueReceipt>;
  /** Refuses (QueueRejectedError) as enqueue would for this person now; lets costly checks wait until it passes. */
  checkAdmission?(who: Who): Promise<void>;
  get(jobId: number): Promise<JobView | undefined>;
  position(jobId: number): Promise<number | undefined>;
  /** Allowed to the job's owner and to admins. */
  cancel(jobId: number, by: Who): Promise<CancelOutcome>;
  /** Every job's events; returns an unsubscribe function. */
  subscribe(listener: (event: JobEvent) => void): () => void;
}

export interface ClaimedJob {
  readonly view: JobView;
  readonly attempt: number;
}

/** What an engine worker host uses. */
export interface WorkerQueue {
  /** Announces a worker host; returns its id for claims and heartbeats. */
  registerWorker(): Promise<string>;
  /** Proves the worker host is alive; call it more often than the queue's staleness limit. */
  heartbeat(workerId: string): Promise<void>;
  unregisterWorker(workerId: string): Promise<void>;
  /** Takes the next job in order (interactive first), or undefined when none is eligible. */
  claim(
    workerId: string,
    options?: { interactiveOnly?: boolean; pausedJobId?: number },
  ): Promise<ClaimedJob | undefined>;
  /** Whether an interactive job could start now (so a running training job should pause). */
  hasInteractiveWaiting(pausedJobId?: number): Promise<boolean>;
  reportProgress(jobId: number, progress: Progress): Promise<void>;
  reportPaused(jobId: number, paused: boolean): Promise<void>;
  saveResumeState(jobId: number, state: unknown): Promise<void>;
  complete(jobId: number, output: HandlerOutput, handlerMs: number): Promise<JobResult>;
  fail(jobId: number, error: string): Promise<void>;
  markCancelled(jobId: number): Promise<void>;
  /** Back to the queue at its old place; `countAttempt: false` for interruptions that were not the job's fault. */
  requeue(jobId: number, options: { countAttempt: boolean; reason: string }): Promise<void>;
  /** Re-queues (or fails, after max attempts) jobs that dead workers left running; live workers' jobs are left alone. */
  recoverInterrupted(): Promise<RecoveryReport>;
  /** Cancellation asked for from another process (a CLI) while this one runs the job. */
  isCancelRequested(jobId: number): Promise<boolean>;
}

export interface Queue extends QueueClient, WorkerQueue {}
