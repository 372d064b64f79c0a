// How a job reads in replies: the one-line summary while it waits, the result with its caption
// (seed, parameters, time), files and buttons, and each of a person's recent jobs as it stands now.
import type { JobResult } from '../jobs/index.js';
import type { JobRow, Store } from '../store/index.js';
import { resultButtons } from './actions.js';
import { jobCommandOf, splitParams, type Command, type JobCommand } from './command.js';
import type { Reply, ReplyFile, ResultReply } from './contract.js';
import { fileFromArtifact } from './presentation.js';

/** "/digits digit 7 · count 2 · seed 42": what was asked, for the queued message. */
export function jobSummary(command: JobCommand | undefined, name: string, params: unknown, seed: number): string {
  const described = command?.describe((params ?? {}) as Record<string, unknown>) ?? '';
  return `/${name}${described ? ` ${described}` : ''} · seed ${seed}`;
}

/** The finished job as chat shows it: captioned files, the caption, the parameters anyone may see, and its buttons. */
export function resultReply(store: Store, command: JobCommand, jobId: number, result: JobResult): ResultReply {
  const job = store.jobs.get(jobId)!;
  const params = (job.params ?? {}) as Record<string, unknown>;
  const files: ReplyFile[] = [];
  // Only captioned files are meant for a chat reply; the rest (native sizes, job.json) stay in the store.
  for (const f of result.files) {
    if (f.caption === null) continue;
    const file = fileFromArtifact(store, f.sha256, `job${jobId}-${f.caption}.${f.ext}`);
    if (file) files.push(file);
  }
  const seconds = (result.timings.totalMs / 1000).toFixed(1);
  const described = command.describe(params);
  return {
    type: 'result',
    jobId,
    command: job.command,
    files,
    caption: `/${job.command}${described ? ` · ${described}` : ''} · seed ${job.seed} · job #${jobId} · ${seconds} s`,
    seed: job.seed,
    params: splitParams(command, params).shown,
    model: job.model ?? undefined,
    actions: job.kind === 'training' ? [] : resultButtons(jobId, command, params),
  };
}

/** One of a person's jobs as the reply that shows it now (a page's history). */
export function jobReply(store: Store, commands: ReadonlyMap<string, Command>, row: JobRow): Reply {
  const command = jobCommandOf(commands, row.command);
  if (row.status === 'done' && command && row.result)
    return resultReply(store, command, row.id, row.result as JobResult);
  if (row.status === 'done' || row.status === 'failed' || row.status === 'cancelled') {
    const outcome = row.status === 'cancelled' ? 'cancelled' : 'failed';
    return {
      type: 'failed',
      jobId: row.id,
      outcome,
      message: `job #${row.id} (/${row.command}) ${row.status}${row.error ? `: ${row.error}` : ''}`,
    };
  }
  if (row.status === 'running') {
    return {
      type: 'progress',
      jobId: row.id,
      step: row.progressStep ?? 0,
      total: row.progressTotal ?? 1,
      message: row.progressMessage ?? 'running',
    };
  }
  return {
    type: 'queued',
    jobId: row.id,
    command: row.command,
    position: store.jobs.position(row.id) ?? 1,
    summary: jobSummary(command, row.command, row.params, row.seed),
  };
}
