// Waits for a job to reach a final status, passing its events along on the way: what the CLI does
// for a generation it started (whichever process's worker runs it), and what tests do.
import type { QueueClient } from './queue.js';
import type { JobEvent, JobView } from './types.js';

const finalEvents = new Set<JobEvent['type']>(['done', 'failed', 'cancelled']);
const finalStatuses = new Set(['done', 'failed', 'cancelled']);

/** Resolves with the job's final row. `onEvent` sees this job's events only; `signal` stops waiting. */
export async function waitForJob(
  queue: QueueClient,
  jobId: number,
  options: { onEvent?: (event: JobEvent) => void; timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<JobView> {
  let unsubscribe = () => {};
  let timer: NodeJS.Timeout | undefined;
  let onAbort = () => {};
  // The job may run in another process, its events read back by the queue's unref'd watch; a process
  // waiting for it must not exit on an empty event loop meanwhile.
  const keepAlive = setInterval(() => {}, 60_000);
  try {
    await new Promise<void>((resolve, reject) => {
      unsubscribe = queue.subscribe((event) => {
        if (event.jobId !== jobId) return;
        options.onEvent?.(event);
        if (finalEvents.has(event.type)) resolve();
      });
      onAbort = () => reject(new Error(`stopped waiting for job #${jobId}`));
      if (options.signal?.aborted) onAbort();
      options.signal?.addEventListener('abort', onAbort);
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(
          () => reject(new Error(`job #${jobId} did not finish within ${options.timeoutMs} ms`)),
          options.timeoutMs,
        );
      }
      // Subscribed first, then checked: a job that finished before we listened is not missed.
      void queue.get(jobId).then((job) => {
        if (job === undefined) reject(new RangeError(`there is no job #${jobId}`));
        else if (finalStatuses.has(job.status)) resolve();
      }, reject);
    });
  } finally {
    unsubscribe();
    options.signal?.removeEventListener('abort', onAbort);
    clearTimeout(timer);
    clearInterval(keepAlive);
  }
  return (await queue.get(jobId))!;
}
