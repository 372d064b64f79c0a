// The CommandService every front end talks to: checks a request on the server side (admin,
// options, prompt length, blocklist, rate limit, uploads), enqueues it, and streams its replies.
import { randomInt } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { decodeImage, encodePng, ImageDecodeError } from '../engine/images/encode.js';
import { UPLOAD_WORKING_SIZE } from '../engine/techniques/inputs.js';
import { MAX_SEED } from '../engine/random.js';
import { QueueRejectedError, type JobEvent, type JobResult, type QueueClient } from '../jobs/index.js';
import { GalleryError, isStorageFull, StorageFullError, type Store, type Who } from '../store/index.js';
import { isJobCommand, defaultInputLimits, type Command, type CommandContext, type ImageRef, type InputLimits, type JobCommand, type JobPlan } from './command.js';
import type { Attachment, CommandDefinition, CommandRequest, CommandService, ErrorCode, Reply, ReplyFile, ReplySink, Requester } from './contract.js';
import { CommandError } from './errors.js';
import { createModelCatalog, type ModelCatalog } from './models.js';
import { validateOptions } from './options.js';
import { fileFromArtifact, resultActions } from './presentation.js';
import { loadCommands } from './registry.js';

export interface RateLimit {
  /** Requests (commands and buttons that start jobs) per window and person; admins are exempt. */
  readonly max: number;
  readonly windowMs: number;
}

export interface ServiceOptions {
  readonly store: Store;
  readonly queue: QueueClient;
  /** Where training runs write their files. */
  readonly dataDir: string;
  readonly limits?: Partial<InputLimits> | undefined;
  /** Words (matched whole, any case) or `/regular expressions/` refused in prompts. */
  readonly blocklist?: readonly string[] | undefined;
  readonly rateLimit?: RateLimit | undefined;
  readonly commands?: ReadonlyMap<string, Command> | undefined;
  readonly models?: ModelCatalog | undefined;
  /** Injected for tests; default crypto.randomInt. */
  readonly newSeed?: (() => number) | undefined;
  /** How often to look at the job row in case an event was missed (another process runs it). Default 5 s. */
  readonly pollMs?: number | undefined;
}

export const defaultRateLimit: RateLimit = { max: 10, windowMs: 60_000 };

/**
 * Uploads decoded at once: each holds the file's bytes and sharp's working memory (libuv has four
 * threads by default), so more would only add memory, not speed.
 */
const MAX_DECODES = 2;

/** At most `n` of the tasks run at once; the others wait in order. */
function semaphore(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async (task) => {
    if (running >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    else running += 1;
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running -= 1;
    }
  };
}

/** i_start of the "variations" button: noisy enough to change, close enough to keep the picture. */
const VARIATION_I_START = 10;

const rejectionCodes: Record<string, ErrorCode> = {
  'queue-full': 'queue-full',
  'user-limit': 'rate-limited',
  quota: 'quota',
  banned: 'banned',
  'not-allowed': 'not-allowed',
  'not-found': 'not-found',
  unavailable: 'unavailable',
};

function compileBlocklist(entries: readonly string[]): RegExp[] {
  return entries
    .map((e) => e.trim())
    .filter(Boolean)
    .map((e) => {
      const re = /^\/(.*)\/([a-z]*)$/.exec(e);
      if (re) return new RegExp(re[1]!, re[2]!.includes('i') ? re[2]! : `${re[2]!}i`);
      return new RegExp(`(^|[^\\p{L}\\p{N}])${e.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}($|[^\\p{L}\\p{N}])`, 'iu');
    });
}

function toErrorReply(error: unknown): Reply {
  if (error instanceof CommandError) return error.toReply();
  if (error instanceof QueueRejectedError) {
    const allowed = error.code === 'queue-full' ? 'try again in a few minutes' : error.code === 'user-limit' ? 'wait for a job to finish, or /cancel one' : undefined;
    return { type: 'error', code: rejectionCodes[error.code] ?? 'not-allowed', message: error.message, allowed };
  }
  if (error instanceof GalleryError) {
    return { type: 'error', code: error.code === 'not-found' || error.code === 'not-done' ? 'not-found' : 'not-allowed', message: error.message };
  }
  if (error instanceof StorageFullError || isStorageFull(error)) {
    // The operator reads the path in the log; the person is told what happened to their request.
    console.error('command service: the data folder\'s disk is full:', (error as Error).message);
    return { type: 'error', code: 'queue-full', message: 'the bot\'s disk is full, so your request was not queued', allowed: 'try again later; the operator has been told in the log' };
  }
  console.error('command service:', error);
  return { type: 'error', code: 'internal', message: 'something went wrong on the bot\'s side (it was logged); please try again', allowed: undefined };
}

/** An artifact (a finished job's picture) as an upload, so variations go through /edit's checks. */
function artifactAttachment(path: string, bytes: number, name: string): Attachment {
  return { name, contentType: 'image/png', size: bytes, fetch: async () => readFileSync(path) };
}

/**
 * Builds the service over a store and a queue.
 *
 * @example
 * const service = createCommandService({ store, queue, dataDir: 'data' });
 * await service.handle({ command: 'digits', options: { digit: 7 }, requester }, { send: async (r) => console.log(r.type) });
 */
export function createCommandService(options: ServiceOptions): CommandService {
  const { store, queue } = options;
  const commands = options.commands ?? loadCommands();
  const models = options.models ?? createModelCatalog(store);
  const limits: InputLimits = { ...defaultInputLimits, ...options.limits };
  const blocklist = compileBlocklist(options.blocklist ?? []);
  const rateLimit = options.rateLimit ?? defaultRateLimit;
  const newSeed = options.newSeed ?? (() => randomInt(0, MAX_SEED));
  const pollMs = options.pollMs ?? 5000;
  const recent = new Map<string, number[]>();
  const decoding = semaphore(MAX_DECODES);

  function whoOf(requester: Requester): Who {
    return { platform: requester.platform, userId: requester.userId };
  }

  /** Takes one of the person's turns (or refuses); the returned function gives it back. */
  function checkRate(who: Who, isAdmin: boolean): () => void {
    if (isAdmin) return () => {};
    const key = `${who.platform}:${who.userId}`;
    const now = Date.now();
    const times = (recent.get(key) ?? []).filter((t) => now - t < rateLimit.windowMs);
    if (times.length >= rateLimit.max) {
      const waitS = Math.ceil((rateLimit.windowMs - (now - times[0]!)) / 1000);
      recent.set(key, times);
      throw new CommandError(
        'rate-limited',
        `you sent ${times.length} requests in the last ${Math.round(rateLimit.windowMs / 1000)} s; the limit is ${rateLimit.max}`,
        `try again in ${waitS} s`,
      );
    }
    times.push(now);
    recent.set(key, times);
    return () => {
      const list = recent.get(key);
      const at = list?.lastIndexOf(now) ?? -1;
      if (at >= 0) list!.splice(at, 1);
    };
  }

  function checkPrompts(command: JobCommand, values: Readonly<Record<string, unknown>>): void {
    for (const name of command.promptOptions ?? []) {
      const text = values[name];
      if (typeof text !== 'string') continue;
      if (text.length > limits.maxPromptLength) {
        throw new CommandError('prompt-too-long', `${name} is ${text.length} characters long; the limit here is ${limits.maxPromptLength}`, `${name}: at most ${limits.maxPromptLength} characters`);
      }
      if (blocklist.some((re) => re.test(text))) {
        throw new CommandError('blocked-prompt', `${name} contains a word this server does not allow`, 'rephrase the prompt without it');
      }
    }
  }

  async function saveImage(attachment: Attachment, option: string): Promise<ImageRef> {
    const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;
    const allowed = `an image (PNG, JPEG, WebP, GIF) of at most ${mib(limits.maxUploadBytes)} and ${limits.maxUploadPixels.toLocaleString('en')} pixels`;
    if (attachment.size > limits.maxUploadBytes) {
      throw new CommandError('too-large', `${option} (${attachment.name}) is ${mib(attachment.size)}; the limit is ${mib(limits.maxUploadBytes)}`, `${option}: ${allowed}`);
    }
    if (attachment.contentType && !attachment.contentType.startsWith('image/')) {
      throw new CommandError('not-an-image', `${option} (${attachment.name}) is ${attachment.contentType}, not an image`, `${option}: ${allowed}`);
    }
    if (attachment.width && attachment.height && attachment.width * attachment.height > limits.maxUploadPixels) {
      throw new CommandError('too-large', `${option} (${attachment.name}) is ${attachment.width}×${attachment.height} pixels; the limit is ${limits.maxUploadPixels.toLocaleString('en')}`, `${option}: ${allowed}`);
    }
    return decoding(async () => {
      const bytes = await attachment.fetch();
      let raster;
      try {
        // Shrunk inside sharp: the full-size picture never becomes a JS array on this thread.
        raster = await decodeImage(bytes, { maxBytes: limits.maxUploadBytes, maxPixels: limits.maxUploadPixels }, { fitInside: UPLOAD_WORKING_SIZE });
      } catch (error) {
        if (error instanceof ImageDecodeError) {
          const code: ErrorCode = error.code === 'not-an-image' ? 'not-an-image' : 'too-large';
          throw new CommandError(code, `${option} (${attachment.name}): ${error.message}`, `${option}: ${allowed}`);
        }
        throw error;
      }
      // Re-encoded, so the worker only ever reads a PNG this process has already decoded.
      const png = await encodePng(raster.data, raster.width, raster.height, raster.channels);
      const artifact = store.artifacts.save(png, 'png');
      return { sha256: artifact.sha256, path: artifact.path, width: raster.width, height: raster.height, sourceWidth: raster.sourceWidth, sourceHeight: raster.sourceHeight };
    });
  }

  function contextFor(requester: Requester): CommandContext {
    const who = whoOf(requester);
    store.users.ensure(who, requester.displayName);
    return {
      requester,
      who,
      isAdmin: store.users.isAdmin(who),
      limits,
      models,
      store,
      queue,
      commands,
      dataDir: options.dataDir,
      saveImage,
      newSeed,
    };
  }

  /** A command's definition with this server's prompt limit, so forms and Discord refuse what the service would. */
  function withServerLimits(c: Command): CommandDefinition {
    const prompts = new Set(isJobCommand(c) ? (c.promptOptions ?? []) : []);
    if (prompts.size === 0) return c.definition;
    const options = c.definition.options.map((o) => (prompts.has(o.name) ? { ...o, maxLength: Math.min(o.maxLength ?? Infinity, limits.maxPromptLength) } : o));
    return { ...c.definition, options };
  }

  async function safeSend(sink: ReplySink, reply: Reply): Promise<void> {
    try {
      await sink.send(reply);
    } catch (error) {
      console.error(`command service: a front end failed to show a ${reply.type} reply:`, error);
    }
  }

  function resultReply(command: JobCommand, jobId: number, result: JobResult): Reply {
    const job = store.jobs.get(jobId)!;
    const params = (job.params ?? {}) as Record<string, unknown>;
    const files: ReplyFile[] = [];
    // Only captioned files are meant for a chat reply; the rest (native sizes, job.json) stay in the store.
    result.files.forEach((f) => {
      if (f.caption === null) return;
      const name = `job${jobId}-${f.caption}.${f.ext}`;
      const file = fileFromArtifact(store, f.sha256, name);
      if (file) files.push(file);
    });
    const seconds = (result.timings.totalMs / 1000).toFixed(1);
    const described = command.describe(params);
    const caption = `/${job.command}${described ? ` · ${described}` : ''} · seed ${job.seed} · job #${jobId} · ${seconds} s`;
    const { checkpointPath: _p, storePath: _s, dataDir: _d, image: _i, mask: _m, ...shown } = params;
    return {
      type: 'result',
      jobId,
      command: job.command,
      files,
      caption,
      seed: job.seed,
      params: shown,
      model: job.model ?? undefined,
      actions: job.kind === 'training' ? [] : resultActions(jobId, { moreSteps: command.moreSteps?.(params) !== undefined, variations: command.variations === true }),
    };
  }

  /** Enqueues and follows one job to its end, sending every reply on the way. */
  async function runJob(command: JobCommand, plan: JobPlan, requester: Requester, sink: ReplySink, rerunOf?: number): Promise<void> {
    const who = whoOf(requester);
    const buffer: JobEvent[] = [];
    let wake: (() => void) | undefined;
    // Subscribed before enqueue so no event of this job can be missed.
    const unsubscribe = queue.subscribe((event) => {
      buffer.push(event);
      wake?.();
    });
    try {
      const receipt = await queue.enqueue({
        who,
        channelId: requester.channelId,
        threadId: requester.threadId,
        command: command.definition.name,
        params: plan.params,
        seed: plan.seed,
        model: plan.model,
        checkpointId: plan.checkpointId,
        kind: plan.kind,
        timeLimitMs: plan.timeLimitMs,
        rerunOf,
      });
      const { jobId } = receipt;
      const described = command.describe(plan.params);
      const summary = `/${command.definition.name}${described ? ` ${described}` : ''} · seed ${plan.seed}`;
      let position = receipt.position;
      await safeSend(sink, { type: 'queued', jobId, command: command.definition.name, position, summary });
      const interval = sink.progressIntervalMs ?? 1500;
      let lastUpdate = Date.now();
      let started = false;
      let pendingProgress: Extract<JobEvent, { type: 'progress' }> | undefined;
      for (;;) {
        const events = buffer.splice(0);
        let positionMayChange = false;
        for (const event of events) {
          if (event.jobId !== jobId) {
            positionMayChange ||= event.type === 'started' || event.type === 'done' || event.type === 'failed' || event.type === 'cancelled';
            continue;
          }
          switch (event.type) {
            case 'started':
              started = true;
              await safeSend(sink, { type: 'progress', jobId, step: 0, total: 1, message: 'started' });
              lastUpdate = Date.now();
              break;
            case 'progress':
              pendingProgress = event;
              break;
            case 'paused':
              await safeSend(sink, { type: 'progress', jobId, step: pendingProgress?.step ?? 0, total: pendingProgress?.total ?? 1, message: 'paused while other jobs run' });
              break;
            case 'done':
              await safeSend(sink, resultReply(command, jobId, event.result));
              return;
            case 'failed':
              await safeSend(sink, { type: 'failed', jobId, outcome: 'failed', message: `job #${jobId} failed: ${event.error}` });
              return;
            case 'cancelled':
              await safeSend(sink, { type: 'failed', jobId, outcome: 'cancelled', message: `job #${jobId} was cancelled` });
              return;
            default:
              break;
          }
        }
        const now = Date.now();
        if (pendingProgress && (now - lastUpdate >= interval || pendingProgress.step === pendingProgress.total)) {
          const p = pendingProgress;
          pendingProgress = undefined;
          lastUpdate = now;
          const preview = sink.previews && p.preview ? { name: `job${jobId}-preview.${p.preview.ext}`, data: Buffer.from(p.preview.data), contentType: `image/${p.preview.ext}` } : undefined;
          await safeSend(sink, { type: 'progress', jobId, step: p.step, total: p.total, message: p.message, preview });
        }
        if (positionMayChange && !started && now - lastUpdate >= interval) {
          const next = await queue.position(jobId);
          if (next !== undefined && next !== position) {
            position = next;
            lastUpdate = now;
            await safeSend(sink, { type: 'queued', jobId, command: command.definition.name, position, summary });
          }
        }
        if (buffer.length > 0) continue;
        const waitMs = pendingProgress ? Math.max(1, interval - (Date.now() - lastUpdate)) : pollMs;
        const woke = await new Promise<boolean>((resolve) => {
          const timer = setTimeout(() => resolve(false), waitMs);
          wake = () => {
            clearTimeout(timer);
            resolve(true);
          };
        });
        wake = undefined;
        if (!woke && !pendingProgress) {
          // Nothing heard for a while: the job may be run by another process (a CLI).
          const view = await queue.get(jobId);
          if (view && (view.status === 'done' || view.status === 'failed' || view.status === 'cancelled')) {
            if (view.status === 'done') await safeSend(sink, resultReply(command, jobId, view.result as JobResult));
            else await safeSend(sink, { type: 'failed', jobId, outcome: view.status, message: `job #${jobId} ${view.status}${view.error ? `: ${view.error}` : ''}` });
            return;
          }
        }
      }
    } finally {
      unsubscribe();
    }
  }

  async function handle(request: CommandRequest, sink: ReplySink): Promise<void> {
    try {
      const command = commands.get(request.command.replace(/^\//, ''));
      const ctx = contextFor(request.requester);
      if (!command) {
        const names = [...commands.values()].filter((c) => !c.definition.adminOnly || ctx.isAdmin).map((c) => c.definition.name);
        throw new CommandError('unknown-command', `there is no command /${request.command}`, `commands: ${names.join(', ')}`);
      }
      if (command.definition.adminOnly && !ctx.isAdmin) {
        throw new CommandError('not-allowed', `/${command.definition.name} is for admins only`, 'ask an admin of this bot (ADMINS in its configuration)');
      }
      const values = validateOptions(command.definition, request.options);
      if (isJobCommand(command)) {
        // The cheap refusals first (prompts, rate, queue), so a refused request decodes and stores nothing.
        checkPrompts(command, values);
        const giveBack = checkRate(ctx.who, ctx.isAdmin);
        await queue.checkAdmission?.(ctx.who);
        let plan: JobPlan;
        try {
          plan = await command.parse(values, ctx);
        } catch (error) {
          giveBack(); // a typo (a bad value, an unreadable upload) should not cost a turn
          throw error;
        }
        await runJob(command, plan, request.requester, sink);
      } else {
        await safeSend(sink, await command.execute(values, ctx));
      }
    } catch (error) {
      await safeSend(sink, toErrorReply(error));
    }
  }

  async function handleAction(actionId: string, requester: Requester, sink: ReplySink): Promise<void> {
    try {
      const m = /^([a-z]+):(\d+)$/.exec(actionId);
      if (!m) throw new CommandError('invalid-option', `unknown button "${actionId.slice(0, 40)}"`);
      const verb = m[1]!;
      const id = Number(m[2]);
      const ctx = contextFor(requester);
      const job = (): NonNullable<ReturnType<typeof store.jobs.get>> => {
        const row = store.jobs.get(id);
        if (!row) throw new CommandError('not-found', `there is no job #${id}`);
        return row;
      };
      const jobCommand = (name: string): JobCommand => {
        const c = commands.get(name);
        if (!c || !isJobCommand(c)) throw new CommandError('invalid-option', `job #${id} (/${name}) cannot be re-run from a button`);
        return c;
      };
      const planOf = (row: ReturnType<typeof job>, params: unknown, seed: number): JobPlan => ({
        params: params as Record<string, unknown>,
        seed,
        model: row.model ?? undefined,
        checkpointId: row.checkpointId ?? undefined,
        kind: row.kind,
      });
      switch (verb) {
        case 'reroll': {
          const row = job();
          const command = jobCommand(row.command);
          if (command.definition.adminOnly && !ctx.isAdmin) throw new CommandError('not-allowed', `/${row.command} is for admins only`);
          checkRate(ctx.who, ctx.isAdmin);
          return await runJob(command, planOf(row, row.params, newSeed()), requester, sink, id);
        }
        case 'more': {
          const row = job();
          const command = jobCommand(row.command);
          const params = command.moreSteps?.((row.params ?? {}) as Record<string, unknown>);
          if (!params) throw new CommandError('invalid-option', `job #${id} already uses the most steps allowed`, 'reroll instead');
          checkRate(ctx.who, ctx.isAdmin);
          return await runJob(command, planOf(row, params, row.seed), requester, sink, id);
        }
        case 'vary': {
          const row = job();
          const first = store.artifacts.listForJob(id).find((o) => o.ext === 'png');
          if (row.status !== 'done' || !first) throw new CommandError('not-found', `job #${id} has no finished picture to vary`);
          const params = (row.params ?? {}) as Record<string, unknown>;
          const options: Record<string, string | number | Attachment> = {
            image: artifactAttachment(first.path, first.bytes, basename(first.path)),
            i_start: VARIATION_I_START,
          };
          if (typeof params.prompt === 'string' && params.prompt) options.prompt = params.prompt;
          if (typeof params.checkpoint === 'string') options.model = params.checkpoint;
          else if (typeof params.model === 'string') options.model = params.model;
          return await handle({ command: 'edit', options, requester }, sink);
        }
        case 'publish': {
          const post = store.gallery.publish(id, ctx.who, { isAdmin: ctx.isAdmin });
          return await safeSend(sink, { type: 'info', text: `Job #${id} is in the gallery as post #${post.id}.`, private: true });
        }
        case 'delete': {
          const row = job();
          const isOwner = row.platform === ctx.who.platform && row.userId === ctx.who.userId;
          if (!isOwner && !ctx.isAdmin) throw new CommandError('not-allowed', `only the author of job #${id} can delete it`);
          if (row.kind === 'training') throw new CommandError('not-allowed', `job #${id} is a training run; it is kept because its checkpoints refer to it`);
          if (row.status === 'queued' || row.status === 'running') throw new CommandError('invalid-option', `job #${id} is still ${row.status}`, `/cancel id:${id} first, then delete it`);
          // The row, its gallery post and votes go; files go too unless another job made the same bytes.
          const referenced = store.jobs.deleteFinished(id);
          if (referenced === undefined) throw new CommandError('not-found', `there is no finished job #${id}`);
          store.artifacts.removeUnreferenced(referenced);
          return await safeSend(sink, { type: 'info', text: `Job #${id} deleted.`, private: true, deleteResultOf: id });
        }
        case 'vote':
        case 'unvote': {
          const post = store.gallery.getByJob(id);
          if (!post || post.removedAt !== null) throw new CommandError('not-found', `job #${id} is not in the gallery`, 'publish it first');
          const changed = verb === 'vote' ? store.gallery.react(post.id, ctx.who) : store.gallery.unreact(post.id, ctx.who);
          const votes = store.gallery.get(post.id)!.votes;
          const text = verb === 'vote' ? (changed ? `Voted for post #${post.id}` : `You had already voted for post #${post.id}`) : `Vote taken back from post #${post.id}`;
          return await safeSend(sink, { type: 'info', text: `${text} (${votes} vote${votes === 1 ? '' : 's'}).`, private: true });
        }
        case 'unpublish': {
          const post = store.gallery.remove(id, ctx.who, { isAdmin: ctx.isAdmin });
          return await safeSend(sink, { type: 'info', text: `Post #${post.id} was removed from the gallery.`, private: true });
        }
        default:
          throw new CommandError('invalid-option', `unknown button "${verb}"`);
      }
    } catch (error) {
      await safeSend(sink, toErrorReply(error));
    }
  }

  async function recentJobs(requester: Requester, opts: { limit?: number | undefined; beforeId?: number | undefined } = {}): Promise<Reply[]> {
    const rows = store.jobs.list({ who: whoOf(requester), limit: Math.min(Math.max(opts.limit ?? 20, 1), 50), beforeId: opts.beforeId });
    return rows.map((row): Reply => {
      const command = commands.get(row.command);
      const params = (row.params ?? {}) as Record<string, unknown>;
      if (row.status === 'done' && command && isJobCommand(command) && row.result) return resultReply(command, row.id, row.result as JobResult);
      if (row.status === 'done' || row.status === 'failed' || row.status === 'cancelled') {
        const outcome = row.status === 'cancelled' ? 'cancelled' : 'failed';
        return { type: 'failed', jobId: row.id, outcome, message: `job #${row.id} (/${row.command}) ${row.status}${row.error ? `: ${row.error}` : ''}` };
      }
      if (row.status === 'running') {
        return { type: 'progress', jobId: row.id, step: row.progressStep ?? 0, total: row.progressTotal ?? 1, message: row.progressMessage ?? 'running' };
      }
      const described = command && isJobCommand(command) ? command.describe(params) : '';
      const summary = `/${row.command}${described ? ` ${described}` : ''} · seed ${row.seed}`;
      return { type: 'queued', jobId: row.id, command: row.command, position: store.jobs.position(row.id) ?? 1, summary };
    });
  }

  return {
    definitions: (): readonly CommandDefinition[] => [...commands.values()].map(withServerLimits),
    handle,
    handleAction,
    recentJobs,
  };
}


