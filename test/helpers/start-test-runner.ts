// A real queue and engine worker on a temporary SQLite file with the CPU fixture handlers,
// stopped and closed when the test ends.
import { fileURLToPath } from 'node:url';
import type { TestContext } from 'node:test';
import { JobRunner, type JobRunnerOptions } from '../../src/jobs/job-runner.js';
import { SqliteQueue, type SqliteQueueOptions } from '../../src/jobs/sqlite-queue.js';
import { openStore, type Store, type StoreOptions } from '../../src/store/index.js';

export const cpuHandlersPath = fileURLToPath(new URL('../fixtures/cpu-handlers.js', import.meta.url));

export interface TestRunner {
  readonly store: Store;
  readonly queue: SqliteQueue;
  readonly runner: JobRunner;
}

export async function startTestRunner(
  t: TestContext,
  file: string,
  options: {
    store?: StoreOptions;
    queue?: SqliteQueueOptions;
    runner?: Partial<JobRunnerOptions>;
    start?: boolean;
  } = {},
): Promise<TestRunner> {
  const store = openStore(file, options.store);
  const queue = new SqliteQueue(store, options.queue);
  const runner = new JobRunner(queue, { handlerModules: [cpuHandlersPath], pollIntervalMs: 50, ...options.runner });
  t.after(async () => {
    await runner.stop({ graceMs: 0 });
    store.close();
  });
  if (options.start !== false) await runner.start();
  return { store, queue, runner };
}
