// CLI generations are jobs too: a command enqueues its job in the store at DATA_DIR (the bot's), runs
// an engine worker in this process until the job ends, prints its progress, and writes its files.
import { copyFileSync, mkdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { encodePng } from '../engine/images/encode.js';
import { decodeUpload, UPLOAD_WORKING_SIZE } from '../engine/techniques/inputs.js';
import { JobRunner } from '../jobs/job-runner.js';
import type { StoredImage } from '../jobs/technique-jobs.js';
import { SqliteQueue } from '../jobs/sqlite-queue.js';
import type { EnqueueReceipt, JobEvent, JobResult, JobSpec, JobView } from '../jobs/types.js';
import { waitForJob } from '../jobs/wait-for-job.js';
import { databasePath, dataDir, formatWho, openStore, type Store, type Who } from '../store/index.js';
import { ENGINE_HANDLERS, takePreparedEngine } from './prepared-engine.js';

/** The person at the terminal: cli:<os user name>. */
export function cliWho(): Who {
  let name: string;
  try {
    name = userInfo().username;
  } catch {
    // No passwd entry (some containers): the environment still says who this is.
    name = process.env.USER ?? process.env.USERNAME ?? 'local';
  }
  return { platform: 'cli', userId: name };
}

/**
 * The store at DATA_DIR. The terminal's user is an admin there, as the web console's local user is
 * for the bot: whoever can run the CLI on the data folder already owns it (no quotas, may cancel
 * or remove anything).
 */
export function openCliStore(): Store {
  const dir = dataDir();
  mkdirSync(dir, { recursive: true });
  const store = openStore(databasePath(dir), { users: { admins: [formatWho(cliWho())] } });
  store.users.ensure(cliWho());
  return store;
}

/** An input file checked like a chat upload (decoded under limits, re-encoded as PNG) and kept as an artifact, so a rerun finds it. */
export async function storeUpload(store: Store, bytes: Buffer, name: string): Promise<StoredImage & { name: string }> {
  // Shrunk inside sharp as the bot does (the same stored bytes, so the same job gives the same image).
  const raster = await decodeUpload(bytes, name, undefined, { fitInside: UPLOAD_WORKING_SIZE });
  const artifact = store.artifacts.save(
    await encodePng(raster.data, raster.width, raster.height, raster.channels),
    'png',
  );
  return {
    path: artifact.path,
    width: raster.width,
    height: raster.height,
    sourceWidth: raster.sourceWidth,
    sourceHeight: raster.sourceHeight,
    name,
  };
}

export class JobFailedError extends Error {
  override name = 'JobFailedError';
  constructor(readonly job: JobView) {
    super(
      job.status === 'cancelled'
        ? `job #${job.id} was cancelled`
        : `job #${job.id} failed: ${job.error ?? 'unknown error'}`,
    );
  }
}

export interface CliJobOutcome {
  readonly jobId: number;
  readonly result: JobResult;
  /** Paths written under the output folder, in the job's order (the store's artifact paths without one). */
  readonly paths: readonly string[];
}

function progressPrinter(command: string): (event: JobEvent) => void {
  const tty = process.stderr.isTTY === true;
  let lastTenth = -1;
  return (event) => {
    if (event.type === 'paused') process.stderr.write(`job #${event.jobId}: paused\n`);
    if (event.type !== 'progress' || event.total <= 0) return;
    if (tty) {
      process.stderr.write(
        `\r${command} job #${event.jobId}: step ${event.step}/${event.total}${event.message ? ` ${event.message}` : ''}\x1b[K`,
      );
      if (event.step >= event.total) process.stderr.write('\n');
    } else {
      // Logs and pipes get a line per tenth, not one per step.
      const tenth = Math.floor((10 * event.step) / event.total);
      if (tenth === lastTenth) return;
      lastTenth = tenth;
      process.stderr.write(`${command} job #${event.jobId}: step ${event.step}/${event.total}\n`);
    }
  };
}

/** Copies the job's files into `out` under their names (`output-<i>.<ext>` for a file without one). */
export function writeJobFiles(result: JobResult, out: string): string[] {
  mkdirSync(out, { recursive: true });
  return result.files.map((f, i) => {
    const path = join(out, f.name ?? `output-${i}.${f.ext}`);
    copyFileSync(f.path, path);
    return path;
  });
}

/**
 * Enqueues `spec` for the terminal's user, runs the engine worker here until the job ends (it takes
 * queued jobs in order, so a job enqueued earlier by the bot may run first), and writes the files to
 * `out`. Ctrl-C cancels the job at its next step.
 */
export async function runCliJob(store: Store, spec: Omit<JobSpec, 'who'>, out: string): Promise<CliJobOutcome> {
  const queue = new SqliteQueue(store);
  const receipt = await queue.enqueue({ ...spec, who: cliWho() });
  return followJob(queue, receipt, spec.command, out);
}

/** How long a CLI beside a live bot leaves its queued job to the bot's worker. */
const OTHER_WORKER_FIRST_MS = 2_000;

async function untilClaimed(queue: SqliteQueue, jobId: number, ms: number): Promise<void> {
  const until = Date.now() + ms;
  while (Date.now() < until && (await queue.get(jobId))?.status === 'queued')
    await new Promise((resolve) => setTimeout(resolve, 50));
}

/**
 * Runs the engine worker here until the enqueued job ends, printing its progress, and writes its
 * files to `out` when given. The job may as well run in the bot's worker on the same data folder;
 * its progress and end are read back from the database. Ctrl-C cancels the job at its next step
 * (wherever it runs); a second Ctrl-C stops waiting at once.
 */
export async function followJob(
  queue: SqliteQueue,
  receipt: EnqueueReceipt,
  command: string,
  out?: string,
): Promise<CliJobOutcome> {
  const { jobId } = receipt;
  if (receipt.position > 1)
    process.stderr.write(`job #${jobId}: ${receipt.position - 1} job(s) ahead in the queue; running them first\n`);
  const runner = new JobRunner(queue, { handlerModules: [ENGINE_HANDLERS], prepared: takePreparedEngine(command) });
  let interrupts = 0;
  const onSigint = (): void => {
    interrupts += 1;
    if (interrupts > 1) {
      // The worker that runs it (here or the bot's) may be stuck in a long step: stop waiting now.
      process.stderr.write(`\nstopped waiting; job #${jobId} may still be running (illusionist jobs show ${jobId})\n`);
      process.exit(130);
    }
    process.stderr.write(`\ncancelling job #${jobId}… (Ctrl-C again to stop waiting at once)\n`);
    queue
      .cancel(jobId, cliWho())
      .catch((error: unknown) => process.stderr.write(`could not cancel job #${jobId}: ${(error as Error).message}\n`));
  };
  process.on('SIGINT', onSigint);
  let job: JobView;
  // Listening starts before the worker here does (it takes seconds to load): the bot's worker may
  // take the job and report on it meanwhile.
  const stopWaiting = new AbortController();
  const waiting = waitForJob(queue, jobId, { onEvent: progressPrinter(command), signal: stopWaiting.signal });
  waiting.catch(() => {}); // awaited below; a failed runner start aborts it first
  try {
    // A bot on the same data folder, idle, takes the job within its next look (250 ms): give it that
    // chance before loading a second engine here. A busy bot leaves it queued, and it runs here.
    if (queue.hasLiveWorker()) await untilClaimed(queue, jobId, OTHER_WORKER_FIRST_MS);
    await runner.start();
    job = await waiting;
  } finally {
    stopWaiting.abort();
    process.removeListener('SIGINT', onSigint);
    await runner.stop({ graceMs: 0 });
  }
  if (job.status !== 'done' || job.result === undefined) throw new JobFailedError(job);
  const result = job.result as JobResult;
  return { jobId, result, paths: out !== undefined ? writeJobFiles(result, out) : result.files.map((f) => f.path) };
}
