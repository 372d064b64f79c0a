// What the bot (RedisQueue) and `illusionist worker` (RedisWorkerQueue) agree on: the Redis
// connection, one BullMQ queue per model family, the job's data and return value, and where a
// cancellation is written. Files travel base64 inside the job (see docs/scaling.md for why).
import type { ConnectionOptions } from 'bullmq';
import type { JobKind } from '../store/index.js';

/** The model families, one BullMQ queue each; a worker names the ones it serves (`--models`). */
export const FAMILIES = ['mnist', 'deepfloyd', 'train'] as const;
export type Family = (typeof FAMILIES)[number];

export function isFamily(name: string): name is Family {
  return (FAMILIES as readonly string[]).includes(name);
}

/** The queue a job goes to: training apart (so GPU hosts can leave it out), else by the model it runs. */
export function familyOf(job: {
  readonly command: string;
  readonly model?: string | null | undefined;
  readonly params: unknown;
}): Family {
  if (job.command === 'train') return 'train';
  if (job.command === 'digits') return 'mnist';
  const model = (job.params as { model?: unknown } | null)?.model ?? job.model;
  return typeof model === 'string' && model.startsWith('mnist') ? 'mnist' : 'deepfloyd';
}

/** Every queue and key lives under this prefix, so one Redis can serve several bots (REDIS_PREFIX). */
export const DEFAULT_PREFIX = 'illusionist';

/** BullMQ's job id for a store row: BullMQ refuses integer custom ids, so the row's id gets a prefix. */
export function bullJobId(jobId: number): string {
  return `job-${jobId}`;
}

/** The store row's id back from a BullMQ job id (NaN for ids this bot did not make). */
export function storeJobId(bullId: string | undefined): number {
  const m = /^job-(\d+)$/.exec(bullId ?? '');
  return m ? Number(m[1]) : Number.NaN;
}

export function cancelKey(prefix: string, jobId: number): string {
  return `${prefix}:cancel:${jobId}`;
}

/** An upload the worker writes to its own disk before the handler reads it. */
export interface InlineFile {
  /** The path in the bot's params, rewritten on the worker. */
  readonly path: string;
  readonly base64: string;
}

/** A BullMQ job's data: the store row's fields the engine needs, plus the uploads it reads. */
export interface RedisJobData {
  readonly id: number;
  readonly command: string;
  readonly params: unknown;
  readonly seed: number;
  readonly model: string | null;
  readonly checkpointId: number | null;
  readonly kind: JobKind;
  readonly timeLimitMs: number | null;
  readonly maxAttempts: number;
  readonly uploads: readonly InlineFile[];
  /** What the handler last saved (`ctx.saveState`), for the next attempt. */
  readonly resumeState?: unknown;
  /** Attempts that were interruptions, not the job's fault (a worker's graceful shutdown). */
  readonly uncounted?: number;
}

export interface WireFile {
  readonly base64: string;
  readonly ext: string;
  readonly caption?: string | undefined;
  readonly name?: string | undefined;
}

/** A BullMQ job's return value; failures go through BullMQ's failed state instead. */
export type RedisJobResult =
  | {
      readonly outcome: 'done';
      readonly files: readonly WireFile[];
      readonly captions?: readonly string[] | undefined;
      readonly metrics?: Readonly<Record<string, number>> | undefined;
      readonly handlerMs: number;
    }
  | { readonly outcome: 'cancelled' };

/** A BullMQ progress payload. */
export interface WireProgress {
  readonly step: number;
  readonly total: number;
  readonly message?: string | undefined;
  readonly preview?: { readonly base64: string; readonly ext: string } | undefined;
}

/** A redis:// or rediss:// URL as BullMQ's (ioredis's) connection options; throws naming what is wrong. */
export function redisConnection(url: string): ConnectionOptions & { host: string; port: number } {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new RangeError(
      `REDIS_URL is not a URL: '${url}' (allowed: redis://[user:password@]host:port[/db] or rediss://…)`,
    );
  }
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new RangeError(`REDIS_URL must start with redis:// or rediss://, got '${parsed.protocol}//'`);
  }
  const db = parsed.pathname.replace(/^\//, '');
  if (db !== '' && !/^\d+$/.test(db))
    throw new RangeError(`REDIS_URL's database must be a number (redis://host:port/0), got '${db}'`);
  return {
    host: parsed.hostname || '127.0.0.1',
    port: parsed.port ? Number(parsed.port) : 6379,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(db ? { db: Number(db) } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}

/** The URL without its password, for log lines. */
export function redactedUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return url;
  }
}

/** StoredImage-shaped values ({ path, width, height }) anywhere in a job's params: the uploads it reads. */
export function uploadPaths(params: unknown): string[] {
  const found: string[] = [];
  const walk = (value: unknown): void => {
    if (Array.isArray(value)) {
      for (const v of value) walk(v);
      return;
    }
    if (value === null || typeof value !== 'object') return;
    const o = value as Record<string, unknown>;
    if (typeof o.path === 'string' && typeof o.width === 'number' && typeof o.height === 'number') found.push(o.path);
    for (const v of Object.values(o)) walk(v);
  };
  walk(params);
  return [...new Set(found)];
}

/** `params` with every upload path replaced by `rename(path)`. */
export function rewriteUploadPaths(params: unknown, rename: (path: string) => string): unknown {
  const walk = (value: unknown): unknown => {
    if (Array.isArray(value)) return value.map(walk);
    if (value === null || typeof value !== 'object') return value;
    const o = value as Record<string, unknown>;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) out[k] = walk(v);
    if (typeof o.path === 'string' && typeof o.width === 'number' && typeof o.height === 'number')
      out.path = rename(o.path);
    return out;
  };
  return walk(params);
}
