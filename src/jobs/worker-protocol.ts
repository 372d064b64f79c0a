// Messages between the job runner (main thread) and the engine worker thread. Stop and pause
// requests also travel through a shared Int32Array so a busy handler sees them without an event loop turn.
import type { HandlerInput, HandlerOutput, StopReason } from './handler.js';
import type { Preview } from './types.js';

export interface EngineWorkerData {
  /** Absolute paths or file: URLs of modules that export `handlers`. */
  readonly handlerModules: readonly string[];
  /** Where the worker counts its native calls in flight (see engine/runtime/native-calls.ts). */
  readonly nativeCalls: SharedArrayBuffer;
  /**
   * Commands whose engines the worker loads as soon as its handlers are in, before any job comes:
   * the CLI names the one it is about to run while it is still reading its options.
   */
  readonly warm?: readonly string[] | undefined;
}

export type ToWorker =
  | { readonly type: 'run'; readonly input: HandlerInput; readonly flags: SharedArrayBuffer }
  | { readonly type: 'stop'; readonly jobId: number }
  | { readonly type: 'resume'; readonly jobId: number }
  /** No job runs: release the handler modules' models and end the thread by itself. */
  | { readonly type: 'exit' };

export type FromWorker =
  | { readonly type: 'ready'; readonly commands: string[] }
  | { readonly type: 'load-failed'; readonly error: string }
  | {
      readonly type: 'progress';
      readonly jobId: number;
      readonly step: number;
      readonly total: number;
      readonly message?: string | undefined;
      readonly preview?: Preview | undefined;
    }
  | { readonly type: 'state'; readonly jobId: number; readonly state: unknown }
  | { readonly type: 'yielded'; readonly jobId: number }
  | { readonly type: 'done'; readonly jobId: number; readonly output: HandlerOutput; readonly handlerMs: number }
  | {
      readonly type: 'failed';
      readonly jobId: number;
      readonly error: string;
      readonly stopReason?: StopReason | undefined;
    };

/** Slots of the shared flags array. */
export const flagStop = 0;
export const flagPause = 1;

export const stopCodes: Readonly<Record<StopReason, number>> = { cancelled: 1, timeout: 2, shutdown: 3 };

export function readStopReason(flags: Int32Array): StopReason | undefined {
  switch (Atomics.load(flags, flagStop)) {
    case 1:
      return 'cancelled';
    case 2:
      return 'timeout';
    case 3:
      return 'shutdown';
    default:
      return undefined;
  }
}
