// The buttons: one entry per verb, with whether its answer is for the presser only, its label and
// style, where it shows, and what it does. The buttons under results and gallery posts, the
// dispatch of a press, and Discord's choice of a private or public answer all read this table, so
// a new verb is one entry here. An action id is "<verb>:<number>" (a job id; a post id for unpublish).
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { InputError } from '../engine/errors.js';
import type { GalleryPost, JobRow } from '../store/index.js';
import { jobCommandOf, type CommandContext, type JobCommand, type JobPlan } from './command.js';
import type { Attachment, OptionValue, Reply, ReplyAction } from './contract.js';

/** What an action may use to answer a press. */
export interface ActionEnv {
  /** The number in the action id. */
  readonly target: number;
  readonly ctx: CommandContext;
  /** Starts a job again as a new one (reroll, more steps): takes a turn of the rate limit, then follows it to its end. */
  rerun(command: JobCommand, plan: JobPlan): Promise<void>;
  /** Runs a request as if the presser had typed it, with every check a typed one gets. */
  handle(command: string, options: Record<string, OptionValue>): Promise<void>;
  reply(reply: Reply): Promise<void>;
}

interface ActionBase {
  readonly verb: string;
  /** Whether the answer is for the presser only (a confirmation); otherwise it starts a public job. */
  readonly private: boolean;
  run(env: ActionEnv): Promise<void>;
}

/** A button under a finished job's result. */
interface ResultAction extends ActionBase {
  readonly under: 'result';
  readonly label: string;
  readonly style: ReplyAction['style'];
  /** Whether this job gets the button; default yes. */
  offered?(command: JobCommand, params: Readonly<Record<string, unknown>>): boolean;
}

/** A button under a gallery post. */
interface PostAction extends ActionBase {
  readonly under: 'post';
  label(post: GalleryPost): string;
  readonly style: ReplyAction['style'];
  /** The number its id carries. */
  targetOf(post: GalleryPost): number;
  /** Whether the viewer gets the button (`mayRemove`: the author or an admin); default yes. */
  offered?(mayRemove: boolean): boolean;
}

/** No button: pressed another way (a Discord reaction taken back). */
interface HiddenAction extends ActionBase {
  readonly under: 'none';
}

export type Action = ResultAction | PostAction | HiddenAction;

function jobOf(env: ActionEnv): JobRow {
  const row = env.ctx.store.jobs.get(env.target);
  if (!row) throw new InputError(`there is no job #${env.target}`, undefined, 'not-found');
  return row;
}

function rerunnable(env: ActionEnv, row: JobRow): JobCommand {
  const c = jobCommandOf(env.ctx.commands, row.command);
  if (!c) throw new InputError(`job #${row.id} (/${row.command}) cannot be re-run from a button`);
  return c;
}

function planOf(row: JobRow, params: unknown, seed: number): JobPlan {
  return {
    params: params as Record<string, unknown>,
    seed,
    model: row.model ?? undefined,
    checkpointId: row.checkpointId ?? undefined,
    kind: row.kind,
  };
}

/** An artifact (a finished job's picture) as an upload, so variations go through /edit's checks. */
function artifactAttachment(path: string, bytes: number): Attachment {
  return { name: basename(path), contentType: 'image/png', size: bytes, fetch: async () => readFileSync(path) };
}

async function vote(env: ActionEnv, add: boolean): Promise<void> {
  const { store, who } = env.ctx;
  const post = store.gallery.getByJob(env.target);
  if (!post || post.removedAt !== null)
    throw new InputError(`job #${env.target} is not in the gallery`, 'publish it first', 'not-found');
  const changed = add ? store.gallery.react(post.id, who) : store.gallery.unreact(post.id, who);
  const votes = store.gallery.get(post.id)!.votes;
  const text = add
    ? changed
      ? `Voted for post #${post.id}`
      : `You had already voted for post #${post.id}`
    : `Vote taken back from post #${post.id}`;
  await env.reply({ type: 'info', text: `${text} (${votes} vote${votes === 1 ? '' : 's'}).`, private: true });
}

export const ACTIONS: readonly Action[] = [
  {
    verb: 'reroll',
    private: false,
    under: 'result',
    label: 'Reroll',
    style: 'primary',
    async run(env) {
      const row = jobOf(env);
      const command = rerunnable(env, row);
      if (command.definition.adminOnly && !env.ctx.isAdmin)
        throw new InputError(`/${row.command} is for admins only`, undefined, 'not-allowed');
      await env.rerun(command, planOf(row, row.params, env.ctx.newSeed()));
    },
  },
  {
    verb: 'more',
    private: false,
    under: 'result',
    label: 'Same seed, more steps',
    style: 'secondary',
    offered: (command, params) => command.moreSteps?.(params) !== undefined,
    async run(env) {
      const row = jobOf(env);
      const command = rerunnable(env, row);
      const params = command.moreSteps?.((row.params ?? {}) as Record<string, unknown>);
      if (!params) throw new InputError(`job #${row.id} already uses the most steps allowed`, 'reroll instead');
      await env.rerun(command, planOf(row, params, row.seed));
    },
  },
  {
    verb: 'vary',
    private: false,
    under: 'result',
    label: 'Variations',
    style: 'secondary',
    offered: (command) => command.variation !== undefined,
    async run(env) {
      const row = jobOf(env);
      const first = env.ctx.store.artifacts.listForJob(row.id).find((o) => o.ext === 'png');
      if (row.status !== 'done' || !first)
        throw new InputError(`job #${row.id} has no finished picture to vary`, undefined, 'not-found');
      const command = rerunnable(env, row);
      if (!command.variation)
        throw new InputError(
          `job #${row.id} (/${row.command}) has no variations`,
          'vary a job of a command that shows a Variations button',
        );
      const request = command.variation(
        (row.params ?? {}) as Record<string, unknown>,
        artifactAttachment(first.path, first.bytes),
      );
      await env.handle(request.command, request.options);
    },
  },
  {
    verb: 'publish',
    private: true,
    under: 'result',
    label: 'Publish to gallery',
    style: 'success',
    async run(env) {
      const post = env.ctx.store.gallery.publish(env.target, env.ctx.who, { isAdmin: env.ctx.isAdmin });
      await env.reply({
        type: 'info',
        text: `Job #${env.target} is in the gallery as post #${post.id}.`,
        private: true,
      });
    },
  },
  {
    verb: 'delete',
    private: true,
    under: 'result',
    label: 'Delete',
    style: 'danger',
    async run(env) {
      const { store, who, isAdmin } = env.ctx;
      const row = jobOf(env);
      const id = row.id;
      const isOwner = row.platform === who.platform && row.userId === who.userId;
      if (!isOwner && !isAdmin)
        throw new InputError(`only the author of job #${id} can delete it`, undefined, 'not-allowed');
      if (row.kind === 'training')
        throw new InputError(
          `job #${id} is a training run; it is kept because its checkpoints refer to it`,
          undefined,
          'not-allowed',
        );
      if (row.status === 'queued' || row.status === 'running')
        throw new InputError(`job #${id} is still ${row.status}`, `/cancel id:${id} first, then delete it`);
      // The row, its gallery post and votes go; files go too unless another job made the same bytes.
      const referenced = store.jobs.deleteFinished(id);
      if (referenced === undefined) throw new InputError(`there is no finished job #${id}`, undefined, 'not-found');
      store.artifacts.removeUnreferenced(referenced);
      await env.reply({ type: 'info', text: `Job #${id} deleted.`, private: true, deleteResultOf: id });
    },
  },
  {
    verb: 'vote',
    private: true,
    under: 'post',
    label: (post) => `▲ ${post.votes}`,
    style: 'secondary',
    targetOf: (post) => post.jobId,
    run: (env) => vote(env, true),
  },
  { verb: 'unvote', private: true, under: 'none', run: (env) => vote(env, false) },
  {
    verb: 'unpublish',
    private: true,
    under: 'post',
    label: () => 'Remove',
    style: 'danger',
    targetOf: (post) => post.id,
    offered: (mayRemove) => mayRemove,
    async run(env) {
      const post = env.ctx.store.gallery.remove(env.target, env.ctx.who, { isAdmin: env.ctx.isAdmin });
      await env.reply({ type: 'info', text: `Post #${post.id} was removed from the gallery.`, private: true });
    },
  },
];

const BY_VERB = new Map(ACTIONS.map((a) => [a.verb, a]));

export function actionId(verb: string, target: number): string {
  return `${verb}:${target}`;
}

/** The action and number an id names; an 'invalid-option' InputError for anything else. */
export function parseActionId(id: string): { action: Action; target: number } {
  const m = /^([a-z]+):(\d+)$/.exec(id);
  if (!m) throw new InputError(`unknown button "${id.slice(0, 40)}"`);
  const action = BY_VERB.get(m[1]!);
  if (!action) throw new InputError(`unknown button "${m[1]!}"`);
  return { action, target: Number(m[2]) };
}

/** Whether a press of this id is answered for the presser only (Discord defers it ephemeral). */
export function isPrivateAction(id: string): boolean {
  return BY_VERB.get(id.split(':')[0] ?? '')?.private === true;
}

/** The buttons under a finished job, in the table's order. */
export function resultButtons(
  jobId: number,
  command: JobCommand,
  params: Readonly<Record<string, unknown>>,
): ReplyAction[] {
  return ACTIONS.filter((a): a is ResultAction => a.under === 'result' && (a.offered?.(command, params) ?? true)).map(
    (a) => ({ id: actionId(a.verb, jobId), label: a.label, style: a.style }),
  );
}

/** The buttons under a gallery post for this viewer. */
export function postButtons(post: GalleryPost, mayRemove: boolean): ReplyAction[] {
  return ACTIONS.filter((a): a is PostAction => a.under === 'post' && (a.offered?.(mayRemove) ?? true)).map((a) => ({
    id: actionId(a.verb, a.targetOf(post)),
    label: a.label(post),
    style: a.style,
  }));
}

/** The id of a gallery vote for a job's published post (Discord counts a reaction as one). */
export function voteActionId(jobId: number): string {
  return actionId('vote', jobId);
}

/** The id that takes a gallery vote back (a removed reaction). */
export function unvoteActionId(jobId: number): string {
  return actionId('unvote', jobId);
}
