// Graceful shutdown on SIGTERM/SIGINT: stop taking jobs, let the running one finish (or re-queue it
// at its next step), close the database so the WAL is checkpointed, then exit.
import type { Store } from '../store/index.js';
import type { JobRunner } from './job-runner.js';

export interface ShutdownOptions {
  /** How long the running job may take to finish before it is interrupted and re-queued. Default 10 s. */
  readonly graceMs?: number;
  readonly signals?: readonly NodeJS.Signals[];
  /** Runs after the runner stopped and before the store closes (chat adapters, web server). */
  readonly beforeClose?: () => Promise<void> | void;
  /** Default `process.exit`; tests and embedders may do otherwise. */
  readonly exit?: (code: number) => void;
  readonly log?: (line: string) => void;
}

/**
 * Installs the handlers and returns a function that removes them. A second signal while shutting
 * down exits at once with code 1 (the re-queue at next start keeps the job safe).
 */
export function installShutdownHandlers(runner: JobRunner, store: Store, options: ShutdownOptions = {}): () => void {
  const signals = options.signals ?? ['SIGTERM', 'SIGINT'];
  const exit = options.exit ?? ((code: number) => process.exit(code));
  const log = options.log ?? ((line: string) => console.error(line));
  let shuttingDown = false;

  const onSignal = (signal: NodeJS.Signals) => {
    if (shuttingDown) {
      log(`${signal} again: exiting now; the running job will be re-queued at the next start`);
      exit(1);
      return;
    }
    shuttingDown = true;
    log(`${signal}: finishing the running job, then closing the database`);
    void (async () => {
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
      exit(code);
    })();
  };

  for (const signal of signals) process.on(signal, onSignal);
  return () => {
    for (const signal of signals) process.off(signal, onSignal);
  };
}
