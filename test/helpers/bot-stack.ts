// The bot's real parts for a test: a SQLite store in a temp folder with the tiny checkpoint
// registered as mnist-class, the queue, the engine worker with the bot's handlers, the service.
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { TestContext } from 'node:test';
import { createCommandService, type ServiceOptions } from '../../src/commands/service.js';
import type { CommandService } from '../../src/commands/contract.js';
import { JobRunner } from '../../src/jobs/job-runner.js';
import { SqliteQueue, type SqliteQueueOptions } from '../../src/jobs/sqlite-queue.js';
import { openStore, type Store, type StoreOptions } from '../../src/store/index.js';
import { makeTempDir } from './temp-dir.js';
import { tinyClassCheckpoint } from './tiny-mnist.js';

export const engineHandlersPath = fileURLToPath(new URL('../../src/jobs/engine-handlers.js', import.meta.url));

export interface BotStack {
  readonly dir: string;
  readonly store: Store;
  readonly queue: SqliteQueue;
  readonly runner: JobRunner | undefined;
  readonly service: CommandService;
}

export async function startBotStack(
  t: TestContext,
  options: {
    store?: StoreOptions;
    queue?: SqliteQueueOptions;
    service?: Partial<ServiceOptions>;
    runner?: boolean;
    model?: boolean;
  } = {},
): Promise<BotStack> {
  const dir = makeTempDir(t);
  const store = openStore(join(dir, 'illusionist.db'), options.store);
  if (options.model !== false) {
    store.training.registerCommittedModels([
      { modelKind: 'mnist-class', name: 'mnist-class', path: await tinyClassCheckpoint() },
    ]);
  }
  const queue = new SqliteQueue(store, options.queue);
  const runner =
    options.runner === false
      ? undefined
      : new JobRunner(queue, { handlerModules: [engineHandlersPath], pollIntervalMs: 50 });
  t.after(async () => {
    await runner?.stop({ graceMs: 0 });
    store.close();
  });
  await runner?.start();
  const service = createCommandService({ store, queue, dataDir: dir, ...options.service });
  return { dir, store, queue, runner, service };
}
