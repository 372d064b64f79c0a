// The contract between the job system and the engine: a registry of command → handler that the
// engine worker loads by module path. Handlers are plain async functions run inside the worker thread.
import type { Preview } from './types.js';

export interface HandlerInput {
  readonly jobId: number;
  readonly command: string;
  readonly params: unknown;
  readonly seed: number;
  readonly model: string | null;
  readonly checkpointId: number | null;
  /** 1 on the first try; more after a crash or restart. */
  readonly attempt: number;
  /** What the handler last passed to `ctx.saveState`, on a re-run after an interruption. */
  readonly resumeState: unknown;
}

export interface OutputFile {
  readonly data: Uint8Array;
  /** File extension without the dot: 'png', 'gif', 'json'. */
  readonly ext: string;
  /**
   * Its part in a chat reply ('image', 'views', 'animation', 'digits'); chat replies show the captioned
   * files only, the others (native-size PNGs, progression strips, job.json) stay in the store for the CLI.
   */
  readonly caption?: string | undefined;
  /** The file name to save it under (views.png, job.json), as the CLI writes it to --out. */
  readonly name?: string | undefined;
}

export interface HandlerOutput {
  readonly files: readonly OutputFile[];
  readonly captions?: readonly string[] | undefined;
  readonly metrics?: Readonly<Record<string, number>> | undefined;
}

export type StopReason = 'cancelled' | 'timeout' | 'shutdown';

/** Thrown inside a handler at a yield point when the job must stop; handlers let it propagate. */
export class JobStoppedError extends Error {
  constructor(readonly reason: StopReason) {
    super(`job stopped: ${reason}`);
    this.name = 'JobStoppedError';
  }
}

export interface JobContext {
  /** Aborted when the job is cancelled, times out or the process shuts down. */
  readonly signal: AbortSignal;
  /**
   * Reports step `step` of `total` (optionally with a preview image) and is a yield point.
   * Call it once per denoising or training step.
   */
  progress(step: number, total: number, options?: { message?: string; preview?: Preview }): Promise<void>;
  /**
   * Lets the worker act between steps: throws JobStoppedError if the job was cancelled, timed out
   * or is being shut down; for training jobs, pauses here while interactive jobs run, then returns.
   */
  yieldPoint(): Promise<void>;
  /** Persists a JSON-serialisable resume point; a re-run after a crash gets it as `input.resumeState`. */
  saveState(state: unknown): void;
}

export type JobHandler = (input: HandlerInput, ctx: JobContext) => Promise<HandlerOutput>;

/** What a handler module exports as `handlers`: command name → handler. */
export type HandlerRegistry = Readonly<Record<string, JobHandler>>;

/**
 * Typed identity helper for handler modules.
 *
 * @example
 * export const handlers = defineHandlers({
 *   digits: async (input, ctx) => { ...; await ctx.progress(i, n); ...; return { files } },
 * });
 */
export function defineHandlers<R extends HandlerRegistry>(registry: R): R {
  return registry;
}
