// `illusionist jobs list|show ID|rerun ID|cancel ID` and `illusionist gallery list|publish|remove`:
// the store at DATA_DIR as the terminal's user (cli:<os user>) sees it, bot and CLI jobs alike.
import type { Command } from 'commander';
import {
  cancelJob,
  formatTable,
  isUserFacingError,
  listGallery,
  listJobs,
  publishToGallery,
  removeFromGallery,
  rerunJob,
  showJob,
} from '../../jobs/cli-actions.js';
import { SqliteQueue } from '../../jobs/sqlite-queue.js';
import type { JobStatus, Store } from '../../store/index.js';
import { MAX_SEED } from '../../engine/random.js';
import { parseIntOption } from '../errors.js';
import { InputError } from '../../engine/errors.js';
import { cliWho, followJob, openCliStore } from '../job-client.js';

const STATUSES: readonly JobStatus[] = ['queued', 'running', 'done', 'failed', 'cancelled'];
const SORTS = ['top', 'recent', 'mine'] as const;

/** Opens the store for one action; refusals meant for the user (no such job, not yours) become one-line usage errors. */
async function withStore<T>(f: (store: Store) => T | Promise<T>): Promise<T> {
  const store = openCliStore();
  try {
    return await f(store);
  } catch (error) {
    if (isUserFacingError(error)) throw new InputError(error.message);
    throw error;
  } finally {
    store.close();
  }
}

function id(what: string, text: string): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || !Number.isSafeInteger(n) || n < 1)
    throw new InputError(`${what} must be a number like 12 (see illusionist jobs list), got '${text}'`);
  return n;
}

function print(text: string): void {
  process.stdout.write(`${text}\n`);
}

export function registerJobs(program: Command): void {
  const jobs = program
    .command('jobs')
    .description('generations and training runs in the store at DATA_DIR (bot and CLI)');
  jobs
    .command('list')
    .description('the latest jobs: id, command, status, seed, who')
    .option('--mine', 'only jobs started from this terminal user')
    .option('--status <status>', `only jobs in this status: ${STATUSES.join(', ')}`)
    .option('--limit <n>', 'how many (newest first)', '20')
    .action(async (o: { mine?: boolean; status?: string; limit: string }) => {
      if (o.status !== undefined && !(STATUSES as readonly string[]).includes(o.status))
        throw new InputError(`--status must be one of ${STATUSES.join(', ')}, got '${o.status}'`);
      const limit = parseIntOption('limit', o.limit, 1, 1000);
      await withStore((store) => {
        const rows = listJobs(store, {
          ...(o.mine ? { who: cliWho() } : {}),
          ...(o.status !== undefined ? { status: o.status as JobStatus } : {}),
          limit,
        });
        print(formatTable(rows, ['id', 'command', 'status', 'seed', 'who', 'created', 'progress']));
      });
    });
  jobs
    .command('show')
    .description('one job: who, parameters, seed and recipe, timings, output files')
    .argument('<id>', 'job number')
    .action(async (text: string) => withStore((store) => print(showJob(store, id('job', text)))));
  jobs
    .command('rerun')
    .description('runs a job again with the same recipe (same seed → same bytes), here, as a new job')
    .argument('<id>', 'job number')
    .option('--seed <n>', 'a different seed: a variation instead of a reproduction')
    .option('--out <dir>', 'also write its files to this folder')
    .action(async (text: string, o: { seed?: string; out?: string }) =>
      withStore(async (store) => {
        const queue = new SqliteQueue(store);
        const seed = o.seed === undefined ? undefined : parseIntOption('seed', o.seed, 0, MAX_SEED);
        const receipt = await rerunJob(queue, store, id('job', text), cliWho(), seed === undefined ? {} : { seed });
        const job = store.jobs.get(receipt.jobId)!;
        const { paths } = await followJob(queue, receipt, job.command, o.out);
        print(
          `job #${receipt.jobId} (${job.command}, seed ${job.seed}, rerun of #${id('job', text)}) → ${paths.join(', ')}`,
        );
      }),
    );
  jobs
    .command('cancel')
    .description('cancels a waiting job, or stops a running one at its next step')
    .argument('<id>', 'job number')
    .action(async (text: string) =>
      withStore(async (store) => print(await cancelJob(new SqliteQueue(store), id('job', text), cliWho()))),
    );
}

export function registerGallery(program: Command): void {
  const gallery = program.command('gallery').description('published jobs, shared with the bot');
  gallery
    .command('list')
    .description('gallery posts')
    .option('--sort <order>', `${SORTS.join(' | ')} (mine: posts by this terminal user)`, 'recent')
    .option('--limit <n>', 'how many', '20')
    .action(async (o: { sort: string; limit: string }) => {
      if (!(SORTS as readonly string[]).includes(o.sort))
        throw new InputError(`--sort must be one of ${SORTS.join(', ')}, got '${o.sort}'`);
      const limit = parseIntOption('limit', o.limit, 1, 1000);
      await withStore((store) => {
        const rows = listGallery(store, { sort: o.sort as (typeof SORTS)[number], who: cliWho(), limit });
        print(formatTable(rows, ['id', 'job', 'command', 'seed', 'by', 'votes', 'title', 'published']));
      });
    });
  gallery
    .command('publish')
    .description('puts a finished job in the gallery')
    .argument('<job>', 'job number')
    .option('--title <text>', 'a title for the post')
    .action(async (text: string, o: { title?: string }) =>
      withStore((store) => print(publishToGallery(store, id('job', text), cliWho(), o.title))),
    );
  gallery
    .command('remove')
    .description('takes a post out of the gallery')
    .argument('<post>', 'post number')
    .option('--reason <text>', 'why (kept with the post)')
    .action(async (text: string, o: { reason?: string }) =>
      withStore((store) => print(removeFromGallery(store, id('post', text), cliWho(), o.reason))),
    );
}
