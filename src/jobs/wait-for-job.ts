// Waits for a job to reach a final status, passing its events along on the way: what the CLI does
// for a generation it started, and what tests do.
import type { QueueClient } from './queue.js';
import type { JobEvent, JobView } from './types.js';

const finalEvents = new Set<JobEvent['type']>(['done', 'failed', 'cancelled']);
const finalStatuses = new Set(['done', 'failed', 'cancelled']);

/** Resolves with the job's final row. `onEvent` sees this job's events only. */
export async function waitForJob(
  queue: QueueClient,
  jobId: number,
  options: { onEvent?: (event: JobEvent) => void; timeoutMs?: number } = {},
): Promise<JobView> {
  let unsubscribe = () => {};
  let timer: NodeJS.Timeout | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      unsubscribe = queue.subscribe((event) => {
        if (event.jobId !== jobId) return;
        options.onEvent?.(event);
        if (finalEvents.has(event.type)) resolve();
      });
      if (options.timeoutMs !== undefined) {
        timer = setTimeout(() => reject(new Error(`job #${jobId} did not finish within ${options.timeoutMs} ms`)), options.timeoutMs);
      }
      // Subscribed first, then checked: a job that finished before we listened is not missed.
      void queue.get(jobId).then((job) => {
        if (job === undefined) reject(new RangeError(`there is no job #${jobId}`));
        else if (finalStatuses.has(job.status)) resolve();
      }, reject);
    });
  } finally {
    unsubscribe();
    clearTimeout(timer);
  }
  return (await queue.get(jobId))!;
}
