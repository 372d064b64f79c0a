// Graceful shutdown on SIGTERM/SIGINT: stop taking jobs, let the running one finish (or re-queue it
// at its next step), close the database so the WAL is checkpointed, then exit.
import type { Store } from '../store/index.js';
import type { JobRunner } from './job-runner.js';

export interface SignalOptions {
  readonly signals?: readonly NodeJS.Signals[];
  /** Default `process.exit`; tests and embedders may do otherwise. */
  readonly exit?: (code: number) => void;
  readonly log?: (line: string) => void;
}

export interface ShutdownOptions extends SignalOptions {
  /** How long the running job may take to finish before it is interrupted and re-queued. Default 10 s. */
  readonly graceMs?: number;
  /** Runs after the runner stopped and before the store closes (chat adapters, web server). */
  readonly beforeClose?: () => Promise<void> | void;
}

/**
 * Runs `shutdown` on the first SIGTERM/SIGINT, then exits with the code it returns (1 if it
 * throws). Signals that arrive while it runs are logged and otherwise ignored: exiting then, with
 * the engine worker and native addons half torn down, aborts the process (SIGABRT) and leaves
 * the running job marked 'running'; the shutdown itself is bounded by the job's grace time.
 * Returns a function that removes the handlers.
 */
export function onShutdownSignal(
  shutdown: (signal: NodeJS.Signals) => Promise<number>,
  options: SignalOptions = {},
): () => void {
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const log = options.log ?? ((line: string) => console.error(line));
  let shuttingDown = false;

  const onSignal = (signal: NodeJS.Signals) => {
    if (shuttingDown) {
      log(`${signal} again: already shutting down (the running job gets its grace time, then is re-queued); ignored`);
      return;
    }
    shuttingDown = true;
    void shutdown(signal).then(
      (code) => exit(code),
      (error: unknown) => {
        log(`shutdown: ${(error as Error)?.message ?? String(error)}`);
        exit(1);
      },
    );
  };

  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}

/**
 * Stops `runner` (the running job gets `graceMs` to finish), runs `beforeClose`, closes `store`.
 * Resolves to the exit code: 0, or 1 when a step failed (the store is closed either way).
 */
export async function shutDown(
  runner: JobRunner,
  store: Store,
  options: Pick<ShutdownOptions, 'graceMs' | 'beforeClose' | 'log'> = {},
): Promise<number> {
  const log = options.log ?? ((line: string) => console.error(line));
  let code = 0;
  try {
    await runner.stop({ graceMs: options.graceMs ?? 10_000 });
    await options.beforeClose?.();
  } catch (error) {
    log(`shutdown: ${(error as Error).message}`);
    code = 1;
  } finally {
    store.close();
  }
  return code;
}

/** Installs SIGTERM/SIGINT handlers that shut `runner` and `store` down; returns their remover. */
export function installShutdownHandlers(runner: JobRunner, store: Store, options: ShutdownOptions = {}): () => void {
  const log = options.log ?? ((line: string) => console.error(line));
  return onShutdownSignal(
    async (signal) => {
      log(`${signal}: finishing the running job, then closing the database`);
      return shutDown(runner, store, { ...options, log });
    },
    { ...options, log },
  );
}
