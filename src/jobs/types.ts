// What goes into the job system and what comes out: the commands layer builds a JobSpec, the
// front ends render a JobResult and listen to JobEvents. Nothing here knows a chat platform.
import type { JobKind, JobRow, Who } from '../store/index.js';

export type { JobKind, Who };

export interface JobSpec {
  readonly who: Who;
  readonly channelId?: string | undefined;
  readonly threadId?: string | undefined;
  readonly command: string;
  /** Validated by the command's schema before it gets here; must be JSON-serialisable. */
  readonly params: unknown;
  readonly seed: number;
  readonly model?: string | undefined;
  readonly checkpointId?: number | undefined;
  /** 'training' runs after every waiting interactive job and pauses for new ones. Default 'interactive'. */
  readonly kind?: JobKind | undefined;
  readonly timeLimitMs?: number | undefined;
  readonly maxAttempts?: number | undefined;
  readonly rerunOf?: number | undefined;
}

export interface EnqueueReceipt {
  readonly jobId: number;
  /** 1 = starts next. */
  readonly position: number;
}

export interface ResultFile {
  readonly sha256: string;
  readonly path: string;
  readonly ext: string;
  readonly mime: string;
  readonly bytes: number;
  readonly caption: string | null;
  /** The file name the handler gave it (views.png), or null. */
  readonly name: string | null;
}

export interface JobTimings {
  readonly queuedMs: number;
  readonly runMs: number;
  /** Time inside the handler, as the worker measured it (excludes transfer and file writes). */
  readonly handlerMs: number;
  readonly totalMs: number;
}

export interface JobResult {
  readonly jobId: number;
  readonly files: readonly ResultFile[];
  readonly captions: readonly string[];
  readonly seed: number;
  readonly timings: JobTimings;
  readonly metrics: Readonly<Record<string, number>>;
}

export interface Preview {
  readonly data: Uint8Array;
  readonly ext: string;
}

export interface Progress {
  readonly step: number;
  readonly total: number;
  readonly message?: string | undefined;
  readonly preview?: Preview | undefined;
}

export type JobEvent =
  | { readonly type: 'queued'; readonly jobId: number; readonly position: number }
  | { readonly type: 'started'; readonly jobId: number; readonly attempt: number }
  | ({ readonly type: 'progress'; readonly jobId: number } & Progress)
  | { readonly type: 'paused'; readonly jobId: number }
  | { readonly type: 'resumed'; readonly jobId: number }
  | { readonly type: 'done'; readonly jobId: number; readonly result: JobResult }
  | { readonly type: 'failed'; readonly jobId: number; readonly error: string }
  | { readonly type: 'cancel-requested'; readonly jobId: number; readonly by: string }
  | { readonly type: 'cancelled'; readonly jobId: number }
  | { readonly type: 'requeued'; readonly jobId: number; readonly reason: string };

/** A job as the front ends see it: its row plus its place in the queue while it waits. */
export type JobView = JobRow & { readonly position: number | undefined };
