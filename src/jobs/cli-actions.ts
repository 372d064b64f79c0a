// What `illusionist jobs list|show|rerun|cancel` and `illusionist gallery list|publish|remove` do,
// as functions returning plain rows and strings; the CLI entry wires them to commander.
import {
  formatWho,
  GalleryError,
  type GalleryPost,
  type JobRow,
  type JobStatus,
  type Store,
  type Who,
} from '../store/index.js';
import { QueueRejectedError, type QueueClient } from './queue.js';
import type { EnqueueReceipt, JobResult } from './types.js';

export interface JobListRow {
  readonly id: number;
  readonly command: string;
  readonly status: JobStatus;
  readonly seed: number;
  readonly who: string;
  readonly created: string;
  /** 'step/total' while it has reported progress, '#n' while it waits, else ''. */
  readonly progress: string;
}

export function listJobs(store: Store, options: { who?: Who; status?: JobStatus; limit?: number } = {}): JobListRow[] {
  return store.jobs.list(options).map((job) => ({
    id: job.id,
    command: job.command,
    status: job.status,
    seed: job.seed,
    who: formatWho({ platform: job.platform, userId: job.userId }),
    created: new Date(job.createdAt).toISOString(),
    progress: describeProgress(store, job),
  }));
}

function describeProgress(store: Store, job: JobRow): string {
  if (job.status === 'queued') return `#${store.jobs.position(job.id) ?? '?'} in queue`;
  if (job.status === 'running' && job.progressStep !== null) return `${job.progressStep}/${job.progressTotal}`;
  return '';
}

/** Rows as an aligned text table, the header first. */
export function formatTable<T extends object>(rows: readonly T[], columns: readonly (keyof T & string)[]): string {
  const cells = [columns as readonly string[], ...rows.map((row) => columns.map((c) => String(row[c] ?? '')))];
  const widths = columns.map((_, i) => Math.max(...cells.map((r) => r[i]!.length)));
  return cells
    .map((r) =>
      r
        .map((cell, i) => cell.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** A job's full record: who, what, the reproduction recipe, progress, outputs or error. */
export function showJob(store: Store, jobId: number): string {
  const job = store.jobs.get(jobId);
  if (job === undefined) throw new QueueRejectedError('not-found', `there is no job #${jobId}`);
  const recipe = store.seeds.get(jobId);
  const outputs = store.artifacts.listForJob(jobId);
  const time = (ms: number | null) => (ms === null ? '-' : new Date(ms).toISOString());
  const lines = [
    `job #${job.id}  ${job.command}  ${job.status}${job.kind === 'training' ? '  (training)' : ''}`,
    `by       ${formatWho({ platform: job.platform, userId: job.userId })}${job.channelId ? ` in ${job.channelId}` : ''}${job.threadId ? `/${job.threadId}` : ''}`,
    `seed     ${job.seed}`,
    `params   ${JSON.stringify(job.params)}`,
  ];
  if (job.model !== null)
    lines.push(`model    ${job.model}${job.checkpointId !== null ? ` (checkpoint #${job.checkpointId})` : ''}`);
  if (recipe !== undefined) {
    const checkpoint = recipe.checkpointSha256 ? `, checkpoint sha256 ${recipe.checkpointSha256.slice(0, 12)}` : '';
    lines.push(`recipe   engine ${recipe.engineVersion}${checkpoint}`);
  }
  if (job.rerunOf !== null) lines.push(`rerun of #${job.rerunOf}`);
  lines.push(`queued   ${time(job.createdAt)}`, `started  ${time(job.startedAt)}`, `finished ${time(job.finishedAt)}`);
  lines.push(`attempts ${job.attempts} of ${job.maxAttempts}`);
  if (job.status === 'queued') lines.push(`position ${store.jobs.position(job.id) ?? '?'}`);
  if (job.progressStep !== null)
    lines.push(
      `progress ${job.progressStep}/${job.progressTotal}${job.progressMessage ? ` ${job.progressMessage}` : ''}`,
    );
  if (job.cancelledBy !== null) lines.push(`cancelled by ${job.cancelledBy}`);
  if (job.error !== null) lines.push(`error    ${job.error}`);
  const result = job.result as JobResult | undefined;
  if (result !== undefined) {
    lines.push(`timings  queued ${result.timings.queuedMs} ms, ran ${result.timings.runMs} ms`);
    for (const caption of result.captions) lines.push(`caption  ${caption}`);
  }
  for (const out of outputs)
    lines.push(`output   ${out.path}${out.name ? `  ${out.name}` : ''}${out.caption ? `  (${out.caption})` : ''}`);
  return lines.join('\n');
}

/**
 * Enqueues a job with the same recipe (command, parameters, seed, model, checkpoint) for `by`;
 * a `seed` override makes a variation instead of a reproduction.
 */
export async function rerunJob(
  queue: QueueClient,
  store: Store,
  jobId: number,
  by: Who,
  options: { seed?: number } = {},
): Promise<EnqueueReceipt> {
  const job = store.jobs.get(jobId);
  if (job === undefined) throw new QueueRejectedError('not-found', `there is no job #${jobId}`);
  return queue.enqueue({
    who: by,
    command: job.command,
    params: job.params,
    seed: options.seed ?? job.seed,
    model: job.model ?? undefined,
    checkpointId: job.checkpointId ?? undefined,
    kind: job.kind,
    timeLimitMs: job.timeLimitMs ?? undefined,
    maxAttempts: job.maxAttempts,
    rerunOf: job.id,
  });
}

/** Cancels a job and says what happened, in a sentence for the person who asked. */
export async function cancelJob(queue: QueueClient, jobId: number, by: Who): Promise<string> {
  switch (await queue.cancel(jobId, by)) {
    case 'cancelled':
      return `job #${jobId} was cancelled before it started`;
    case 'requested':
      return `job #${jobId} will stop after its current step`;
    case 'not-active':
      return `job #${jobId} had already finished`;
  }
}

export interface GalleryRow {
  readonly id: number;
  readonly job: number;
  readonly command: string;
  readonly seed: number;
  readonly by: string;
  readonly votes: number;
  readonly title: string;
  readonly published: string;
}

export function listGallery(
  store: Store,
  options: { sort?: 'top' | 'recent' | 'mine'; who?: Who; limit?: number } = {},
): GalleryRow[] {
  const sort = options.sort ?? 'recent';
  let posts: GalleryPost[];
  if (sort === 'mine') {
    if (options.who === undefined) throw new RangeError('listing "mine" needs the user');
    posts = store.gallery.listMine(options.who, options);
  } else {
    posts = sort === 'top' ? store.gallery.listTop(options) : store.gallery.listRecent(options);
  }
  return posts.map((p) => ({
    id: p.id,
    job: p.jobId,
    command: p.command,
    seed: p.seed,
    by: formatWho({ platform: p.platform, userId: p.userId }),
    votes: p.votes,
    title: p.title ?? '',
    published: new Date(p.publishedAt).toISOString(),
  }));
}

export function publishToGallery(store: Store, jobId: number, by: Who, title?: string): string {
  const post = store.gallery.publish(jobId, by, { title, isAdmin: store.users.isAdmin(by) });
  return `job #${jobId} is in the gallery as post #${post.id}`;
}

export function removeFromGallery(store: Store, postId: number, by: Who, reason?: string): string {
  store.gallery.remove(postId, by, { isAdmin: store.users.isAdmin(by), reason });
  return `gallery post #${postId} was removed`;
}

/** True for the refusals whose message should be shown to the user as is (not a crash). */
export function isUserFacingError(error: unknown): error is QueueRejectedError | GalleryError {
  return error instanceof QueueRejectedError || error instanceof GalleryError;
}
