// Enqueues a job and follows it to its end as a stream of updates a front end can show: its place
// in the queue while it waits, its start, progress (throttled), and how it ended. The job may run in
// this process's worker or another's (a CLI's), so a quiet spell is checked against the job's row.
import type { QueueClient } from './queue.js';
import type { JobEvent, JobResult, JobSpec, Preview } from './types.js';
import { createWaker } from './wake.js';

export type FollowUpdate =
  /** First, once the row is committed; again whenever its place changes before it starts. */
  | { readonly type: 'queued'; readonly jobId: number; readonly position: number }
  | { readonly type: 'started'; readonly jobId: number }
  /** At most one per `progressIntervalMs`, except the last step, which is always shown. */
  | {
      readonly type: 'progress';
      readonly jobId: number;
      readonly step: number;
      readonly total: number;
      readonly message?: string | undefined;
      readonly preview?: Preview | undefined;
    }
  /** A training job yielding to interactive ones; step and total of the last progress heard. */
  | { readonly type: 'paused'; readonly jobId: number; readonly step: number; readonly total: number }
  | { readonly type: 'done'; readonly jobId: number; readonly result: JobResult }
  | { readonly type: 'failed'; readonly jobId: number; readonly error: string | undefined }
  | { readonly type: 'cancelled'; readonly jobId: number };

export interface FollowOptions {
  /** Least time between two progress updates (a chat platform's edit rate). */
  readonly progressIntervalMs: number;
  /** How long to wait without an event before reading the job's row. */
  readonly pollMs: number;
}

type ProgressEvent = Extract<JobEvent, { type: 'progress' }>;

const ENDS = new Set(['done', 'failed', 'cancelled']);

/**
 * Enqueues `spec` (a refusal rejects before any update) and resolves after the final update
 * (`done`, `failed` or `cancelled`). `onUpdate` is awaited, so a slow front end is never overtaken;
 * it should not throw.
 */
export async function enqueueAndFollow(
  queue: QueueClient,
  spec: JobSpec,
  onUpdate: (update: FollowUpdate) => Promise<void>,
  options: FollowOptions,
): Promise<void> {
  const { progressIntervalMs: interval, pollMs } = options;
  const buffer: JobEvent[] = [];
  const waker = createWaker();
  // Subscribed before enqueue so no event of this job can be missed.
  const unsubscribe = queue.subscribe((event) => {
    buffer.push(event);
    waker.wake();
  });
  try {
    const receipt = await queue.enqueue(spec);
    const { jobId } = receipt;
    let position = receipt.position;
    await onUpdate({ type: 'queued', jobId, position });
    let lastUpdate = Date.now();
    let started = false;
    let pending: ProgressEvent | undefined;
    let lastHeard: ProgressEvent | undefined;
    for (;;) {
      let positionMayChange = false;
      for (const event of buffer.splice(0)) {
        if (event.jobId !== jobId) {
          // Another job starting or ending moves this one up.
          positionMayChange ||= event.type === 'started' || ENDS.has(event.type);
          continue;
        }
        switch (event.type) {
          case 'started':
            started = true;
            await onUpdate({ type: 'started', jobId });
            lastUpdate = Date.now();
            break;
          case 'progress':
            pending = event;
            lastHeard = event;
            break;
          case 'paused':
            await onUpdate({ type: 'paused', jobId, step: lastHeard?.step ?? 0, total: lastHeard?.total ?? 1 });
            break;
          case 'done':
            return await onUpdate({ type: 'done', jobId, result: event.result });
          case 'failed':
            return await onUpdate({ type: 'failed', jobId, error: event.error });
          case 'cancelled':
            return await onUpdate({ type: 'cancelled', jobId });
          default:
            break;
        }
      }
      const now = Date.now();
      if (pending && (now - lastUpdate >= interval || pending.step === pending.total)) {
        const { step, total, message, preview } = pending;
        pending = undefined;
        lastUpdate = now;
        await onUpdate({ type: 'progress', jobId, step, total, message, preview });
      }
      if (positionMayChange && !started && now - lastUpdate >= interval) {
        const next = await queue.position(jobId);
        if (next !== undefined && next !== position) {
          position = next;
          lastUpdate = now;
          await onUpdate({ type: 'queued', jobId, position });
        }
      }
      if (buffer.length > 0) continue;
      const woke = await waker.sleep(pending ? Math.max(1, interval - (Date.now() - lastUpdate)) : pollMs);
      if (!woke && !pending) {
        // Nothing heard for a while: the job may be run by another process (a CLI).
        const view = await queue.get(jobId);
        if (view?.status === 'done') return await onUpdate({ type: 'done', jobId, result: view.result as JobResult });
        if (view?.status === 'failed') return await onUpdate({ type: 'failed', jobId, error: view.error ?? undefined });
        if (view?.status === 'cancelled') return await onUpdate({ type: 'cancelled', jobId });
      }
    }
  } finally {
    unsubscribe();
  }
}
