// The CommandService every front end talks to: it checks a request on the server side (admin,
// options, prompt rules, rate limit, queue admission, uploads), enqueues it and streams its replies
// while the job runs; button presses go through the actions table. The parts live beside it:
// rate-limit.ts, prompt-checks.ts, uploads.ts, captions.ts, actions.ts, errors.ts, and
// src/jobs/follow-job.ts for following a job to its end.
import { randomInt } from 'node:crypto';
import { MAX_SEED } from '../engine/random.js';
import { InputError } from '../engine/errors.js';
import { enqueueAndFollow, type FollowUpdate, type QueueClient } from '../jobs/index.js';
import type { Store, Who } from '../store/index.js';
import { parseActionId, type ActionEnv } from './actions.js';
import { jobReply, jobSummary, resultReply } from './captions.js';
import {
  isJobCommand,
  defaultInputLimits,
  type Command,
  type CommandContext,
  type InputLimits,
  type JobCommand,
  type JobPlan,
} from './command.js';
import type { CommandDefinition, CommandRequest, CommandService, Reply, ReplySink, Requester } from './contract.js';
import { toErrorReply } from './errors.js';
import { createModelCatalog, type ModelCatalog } from './models.js';
import { validateOptions } from './options.js';
import { createPromptCheck } from './prompt-checks.js';
import { createRateLimiter, defaultRateLimit, type RateLimit } from './rate-limit.js';
import { createImageSaver } from './uploads.js';
import { loadCommands } from './registry.js';

export { defaultRateLimit, type RateLimit };

export interface ServiceOptions {
  readonly store: Store;
  readonly queue: QueueClient;
  /** Where training runs write their files. */
  readonly dataDir: string;
  readonly limits?: Partial<InputLimits> | undefined;
  /** Words (matched whole, any case) or `/regular expressions/` refused in prompts. */
  readonly blocklist?: readonly string[] | undefined;
  /** Requests (commands and buttons that start jobs) per window and person; admins are exempt. */
  readonly rateLimit?: RateLimit | undefined;
  readonly commands?: ReadonlyMap<string, Command> | undefined;
  readonly models?: ModelCatalog | undefined;
  /** Injected for tests; default crypto.randomInt. */
  readonly newSeed?: (() => number) | undefined;
  /** How often to look at the job row in case an event was missed (another process runs it). Default 5 s. */
  readonly pollMs?: number | undefined;
}

async function safeSend(sink: ReplySink, reply: Reply): Promise<void> {
  try {
    await sink.send(reply);
  } catch (error) {
    console.error(`command service: a front end failed to show a ${reply.type} reply:`, error);
  }
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
  const checkPrompts = createPromptCheck(limits.maxPromptLength, options.blocklist ?? []);
  const rate = createRateLimiter(options.rateLimit ?? defaultRateLimit);
  const saveImage = createImageSaver(store, limits);
  const newSeed = options.newSeed ?? (() => randomInt(0, MAX_SEED));
  const pollMs = options.pollMs ?? 5000;

  const whoOf = (requester: Requester): Who => ({ platform: requester.platform, userId: requester.userId });

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
    const opts = c.definition.options.map((o) =>
      prompts.has(o.name) ? { ...o, maxLength: Math.min(o.maxLength ?? Infinity, limits.maxPromptLength) } : o,
    );
    return { ...c.definition, options: opts };
  }

  /** A job update as the reply that shows it. */
  function replyOf(command: JobCommand, plan: JobPlan, sink: ReplySink, update: FollowUpdate): Reply {
    const { jobId } = update;
    const name = command.definition.name;
    switch (update.type) {
      case 'queued':
        return {
          type: 'queued',
          jobId,
          command: name,
          position: update.position,
          summary: jobSummary(command, name, plan.params, plan.seed),
        };
      case 'started':
        return { type: 'progress', jobId, step: 0, total: 1, message: 'started' };
      case 'progress': {
        const p = update.preview;
        const preview =
          sink.previews && p
            ? { name: `job${jobId}-preview.${p.ext}`, data: Buffer.from(p.data), contentType: `image/${p.ext}` }
            : undefined;
        return { type: 'progress', jobId, step: update.step, total: update.total, message: update.message, preview };
      }
      case 'paused':
        return {
          type: 'progress',
          jobId,
          step: update.step,
          total: update.total,
          message: 'paused while other jobs run',
        };
      case 'done':
        return resultReply(store, command, jobId, update.result);
      case 'failed':
        return {
          type: 'failed',
          jobId,
          outcome: 'failed',
          message: `job #${jobId} failed${update.error ? `: ${update.error}` : ''}`,
        };
      case 'cancelled':
        return { type: 'failed', jobId, outcome: 'cancelled', message: `job #${jobId} was cancelled` };
    }
  }

  /** Enqueues and follows one job to its end, sending every reply on the way. */
  async function runJob(
    command: JobCommand,
    plan: JobPlan,
    requester: Requester,
    sink: ReplySink,
    rerunOf?: number,
  ): Promise<void> {
    const spec = {
      who: whoOf(requester),
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
    };
    await enqueueAndFollow(queue, spec, (update) => safeSend(sink, replyOf(command, plan, sink, update)), {
      progressIntervalMs: sink.progressIntervalMs ?? 1500,
      pollMs,
    });
  }

  async function handle(request: CommandRequest, sink: ReplySink): Promise<void> {
    try {
      const command = commands.get(request.command.replace(/^\//, ''));
      const ctx = contextFor(request.requester);
      if (!command) {
        const names = [...commands.values()]
          .filter((c) => !c.definition.adminOnly || ctx.isAdmin)
          .map((c) => c.definition.name);
        throw new InputError(
          `there is no command /${request.command}`,
          `commands: ${names.join(', ')}`,
          'unknown-command',
        );
      }
      if (command.definition.adminOnly && !ctx.isAdmin) {
        throw new InputError(
          `/${command.definition.name} is for admins only`,
          'ask an admin of this bot (ADMINS in its configuration)',
          'not-allowed',
        );
      }
      const values = validateOptions(command.definition, request.options);
      if (!isJobCommand(command)) return await safeSend(sink, await command.execute(values, ctx));
      // The cheap refusals first (prompts, rate, queue), so a refused request decodes and stores nothing.
      checkPrompts(command.promptOptions ?? [], values);
      const giveBack = rate.take(ctx.who, ctx.isAdmin);
      await queue.checkAdmission?.(ctx.who);
      let plan: JobPlan;
      try {
        plan = await command.parse(values, ctx);
      } catch (error) {
        giveBack(); // a typo (a bad value, an unreadable upload) should not cost a turn
        throw error;
      }
      await runJob(command, plan, request.requester, sink);
    } catch (error) {
      await safeSend(sink, toErrorReply(error));
    }
  }

  async function handleAction(actionId: string, requester: Requester, sink: ReplySink): Promise<void> {
    try {
      const { action, target } = parseActionId(actionId);
      const ctx = contextFor(requester);
      const env: ActionEnv = {
        target,
        ctx,
        rerun: async (command, plan) => {
          rate.take(ctx.who, ctx.isAdmin);
          await runJob(command, plan, requester, sink, target);
        },
        handle: (command, opts) => handle({ command, options: opts, requester }, sink),
        reply: (reply) => safeSend(sink, reply),
      };
      await action.run(env);
    } catch (error) {
      await safeSend(sink, toErrorReply(error));
    }
  }

  async function recentJobs(
    requester: Requester,
    opts: { limit?: number | undefined; beforeId?: number | undefined } = {},
  ): Promise<Reply[]> {
    const rows = store.jobs.list({
      who: whoOf(requester),
      limit: Math.min(Math.max(opts.limit ?? 20, 1), 50),
      beforeId: opts.beforeId,
    });
    return rows.map((row) => jobReply(store, commands, row));
  }

  return {
    definitions: (): readonly CommandDefinition[] => [...commands.values()].map(withServerLimits),
    handle,
    handleAction,
    recentJobs,
  };
}
