// The platform-neutral contract between front ends (Discord, Slack, the web console) and the
// commands: what a request looks like, the stream of replies it produces, and how each is shown.
//
// Flow: a front end turns a platform event into a `CommandRequest` and calls
// `service.handle(request, sink)`. The service validates it (privately answering any mistake with
// an `error` reply), enqueues a job, and then calls `sink.send` again and again: `queued` →
// `progress`… → `result` (or `failed`). The first `send` is the acknowledgement; every later one
// updates the same message. Buttons under a result come back through `service.handleAction`.
//
// How a front end maps the reply variants (the adapters own these details, not the service):
//
// | reply      | Discord (discord.js 14)                        | Slack (Bolt 4)                                  | web console            |
// | ---------- | ---------------------------------------------- | ----------------------------------------------- | ---------------------- |
// | (arrival)  | `deferReply({ ephemeral: def.replies === 'private' })` at once, before `handle` (3 s limit) | `ack()` at once, before `handle` (3 s limit) | POST returns a run id; events on SSE |
// | `error`    | public defer pending → `deleteReply()` then `followUp({ ephemeral: true })`; else `editReply` if the defer was ephemeral | `respond({ response_type: 'ephemeral' })` | SSE `error` event, shown beside the form |
// | `queued`   | `editReply` "queued #id, position n"           | `respond` (in_channel) or `chat.postMessage`, keep its ts | SSE event |
// | `progress` | `editReply` (the service already throttles to `sink.progressIntervalMs`), preview as attachment | `chat.update` of the kept message | SSE event, preview as data URL |
// | `result`   | `editReply({ files, components: buttons })`; after 15 min the token is dead: `channel.send` | `files.uploadV2` to channel/thread + a message with `actions` blocks | SSE event; files served by URL |
// | `failed`   | `editReply` with the message                   | `chat.update`                                   | SSE event |
// | `info`     | `editReply` (ephemeral when `private`)          | `respond` (ephemeral when `private`)            | JSON / SSE event |
// | `gallery`  | `editReply` with embeds (one image each) + vote buttons | blocks with image + vote buttons          | gallery grid |
//
// Buttons: `ReplyAction.id` is opaque, at most 100 characters (Discord's custom_id limit; Slack
// allows 255). Pass it back unchanged to `handleAction`; an action also begins with an
// acknowledgement (Discord `deferUpdate()` or `deferReply` for a new message, Slack `ack()`), and
// its replies start a new message unless the reply says otherwise. Reactions that count as gallery
// votes (Discord) go through the same door: `handleAction(voteActionId(jobId), …)` and
// `handleAction(unvoteActionId(jobId), …)` (src/commands/actions.ts, the table of every button verb)
// for the job whose result message was reacted to.

import type { InputErrorCode } from '../engine/errors.js';

/** Where a request came from; also the `platform` part of the store's `Who`. */
export type Platform = 'discord' | 'slack' | 'web' | 'cli';

/** The person who asked, and where to answer. Ids are the platform's own. */
export interface Requester {
  readonly platform: Platform;
  readonly userId: string;
  readonly displayName?: string | undefined;
  readonly channelId?: string | undefined;
  readonly threadId?: string | undefined;
}

export type OptionType = 'string' | 'integer' | 'number' | 'boolean' | 'attachment';

/** A fixed value an option may take; `name` is shown, `value` is sent. */
export interface OptionChoice {
  readonly name: string;
  readonly value: string | number;
}

/**
 * One option of a command. Front ends register these with the platform (Discord slash-command
 * options map one to one; `min`/`max` → min_value/max_value, `maxLength` → max_length); the
 * service checks them again on the server side, so a front end that cannot express a limit
 * (Slack's free text) loses nothing.
 */
export interface OptionDef {
  /** Lower-case, `[a-z0-9_]{1,32}` (Discord's rule). */
  readonly name: string;
  readonly type: OptionType;
  /** At most 100 characters (Discord's rule). */
  readonly description: string;
  readonly required?: boolean | undefined;
  /** At most 25 (Discord's rule); when present, only these values are accepted. */
  readonly choices?: readonly OptionChoice[] | undefined;
  /** For 'integer' and 'number'. */
  readonly min?: number | undefined;
  readonly max?: number | undefined;
  /** For 'string'. */
  readonly maxLength?: number | undefined;
  /**
   * For 'integer': the value must also be below another option's value (`default` when that one is
   * omitted), e.g. i_start below steps. The command's own check refuses it (with its own message);
   * the web form keeps its max in step with the other field from this.
   */
  readonly below?: { readonly option: string; readonly default: number } | undefined;
}

/** A command as every front end shows it; `/help` and Discord's deploy script read these. */
export interface CommandDefinition {
  /** Lower-case, no slash: 'imagine'. */
  readonly name: string;
  /** At most 100 characters. */
  readonly description: string;
  /** Required options first (Discord's rule). */
  readonly options: readonly OptionDef[];
  /** Checked on the server side; front ends may also hide the command (Discord default_member_permissions). */
  readonly adminOnly?: boolean | undefined;
  /**
   * Whether the answer is for the requester only ('private': /job, /queue, /help, /checkpoints,
   * /cancel) or for the channel ('public': generations). Lets Discord choose the kind of defer.
   * Errors are private whatever this says.
   */
  readonly replies: 'public' | 'private';
}

/**
 * An uploaded file, read lazily: the service checks `size` (and `contentType`, `width`/`height`
 * when the platform reports them) before fetching, then decodes with its own limits.
 */
export interface Attachment {
  readonly name: string;
  readonly contentType?: string | undefined;
  /** Bytes, as the platform reports it. */
  readonly size: number;
  readonly width?: number | undefined;
  readonly height?: number | undefined;
  fetch(): Promise<Buffer>;
}

export type OptionValue = string | number | boolean | Attachment;

/**
 * One invocation. Option values are what the platform gave: typed when the platform types them
 * (Discord), strings when it does not (Slack text, web forms); the service coerces and checks.
 */
export interface CommandRequest {
  readonly command: string;
  readonly options: Readonly<Record<string, OptionValue>>;
  readonly requester: Requester;
}

/** A file to deliver. Front ends downscale or re-encode when a platform's upload limit is lower. */
export interface ReplyFile {
  readonly name: string;
  readonly data: Buffer;
  readonly contentType: string;
  /** Content hash (the store's artifact id): lets the web console link instead of inlining. */
  readonly sha256?: string | undefined;
}

/** A button under a reply. */
export interface ReplyAction {
  /** Opaque, ≤ 100 characters; give it back to `CommandService.handleAction`. */
  readonly id: string;
  readonly label: string;
  /** Discord: Primary / Secondary / Success / Danger; Slack: primary / (default) / danger. */
  readonly style: 'primary' | 'secondary' | 'success' | 'danger';
}

/** Why a request was refused (InputError's codes, and 'internal' for a bug); front ends may pick an icon or wording per code. */
export type ErrorCode = InputErrorCode | 'internal';

/** A user mistake or refusal. Always private (ephemeral): only the requester sees it. */
export interface ErrorReply {
  readonly type: 'error';
  readonly code: ErrorCode;
  /** What was wrong, for the requester: "view 'spin' is not a view". */
  readonly message: string;
  /** What is allowed instead: "views: identity, flip, rotate_cw, …". */
  readonly allowed?: string | undefined;
}

/** The job is in the queue. Public (in the channel) unless the command's replies are private. */
export interface QueuedReply {
  readonly type: 'queued';
  readonly jobId: number;
  readonly command: string;
  /** 1 = starts next. */
  readonly position: number;
  /** One line of what was asked ("/digits digit:7 count:8 seed:123"). */
  readonly summary: string;
}

/** The job runs; sent at most once per `sink.progressIntervalMs` (the last step always). */
export interface ProgressReply {
  readonly type: 'progress';
  readonly jobId: number;
  readonly step: number;
  readonly total: number;
  readonly message?: string | undefined;
  /** A small PNG of the current state, when the engine gives one and `sink.previews` is true. */
  readonly preview?: ReplyFile | undefined;
}

/** The finished job: its files, a caption with the seed and parameters, and buttons. */
export interface ResultReply {
  readonly type: 'result';
  readonly jobId: number;
  readonly command: string;
  readonly files: readonly ReplyFile[];
  /** Human-readable: "/digits 7 · seed 123 · steps 50 · guidance 5 · 1.2 s". Always shows the seed. */
  readonly caption: string;
  readonly seed: number;
  /** The parsed parameters the job ran with (for display as fields). */
  readonly params: Readonly<Record<string, unknown>>;
  readonly model?: string | undefined;
  readonly actions: readonly ReplyAction[];
}

/** The job did not produce a result. Replaces the public queued/progress message. */
export interface FailedReply {
  readonly type: 'failed';
  readonly jobId: number;
  readonly outcome: 'failed' | 'cancelled';
  readonly message: string;
}

/** A plain answer: /help, /queue, /job, /checkpoints, confirmations of actions. */
export interface InfoReply {
  readonly type: 'info';
  readonly title?: string | undefined;
  /** Plain text with line breaks; no platform markup. */
  readonly text: string;
  readonly fields?: readonly { readonly name: string; readonly value: string }[] | undefined;
  readonly files?: readonly ReplyFile[] | undefined;
  readonly actions?: readonly ReplyAction[] | undefined;
  /** Only the requester sees it (ephemeral). */
  readonly private: boolean;
  /**
   * Set by the owner's "delete" button: the front end removes the result message of this job
   * (Discord: delete the message the button sits on; Slack: chat.delete; web: drop the card).
   */
  readonly deleteResultOf?: number | undefined;
}

export interface GalleryEntry {
  readonly postId: number;
  readonly jobId: number;
  readonly command: string;
  /** The prompt(s) or digit, for display. */
  readonly prompt: string;
  readonly seed: number;
  readonly votes: number;
  /** `platform:userId` of the author, for chat platforms to mention them; the web console does not pass it on. */
  readonly author: string;
  /** The author's display name (never an id), for front ends that show it to other people. */
  readonly authorName: string;
  readonly publishedAt: number;
  /** The first output (thumbnail); absent if the file is gone. */
  readonly file?: ReplyFile | undefined;
  /** vote, and remove when the requester is the author or an admin. */
  readonly actions: readonly ReplyAction[];
}

/** A page of the community gallery (/gallery). */
export interface GalleryReply {
  readonly type: 'gallery';
  readonly filter: 'top' | 'recent' | 'mine';
  readonly command?: string | undefined;
  readonly entries: readonly GalleryEntry[];
  readonly private: boolean;
}

export type Reply = ErrorReply | QueuedReply | ProgressReply | ResultReply | FailedReply | InfoReply | GalleryReply;

/**
 * Where replies go. The service calls `send` first to acknowledge and later to update; it awaits
 * each call, so a sink may be slow (rate-limited edits) without replies overtaking each other.
 * A rejected `send` is logged and does not stop the job.
 */
export interface ReplySink {
  send(reply: Reply): Promise<void>;
  /** Least time between two progress replies. Discord/Slack: ~1500 ms (edit rate limits); web: ~100. Default 1500. */
  readonly progressIntervalMs?: number | undefined;
  /** Whether to attach preview PNGs to progress replies. Default false. */
  readonly previews?: boolean | undefined;
}

/**
 * What every front end talks to.
 *
 * @example
 * // Discord (sketch)
 * await interaction.deferReply({ ephemeral: def.replies === 'private' });
 * await service.handle({ command: interaction.commandName, options, requester }, discordSink(interaction));
 */
export interface CommandService {
  /** Every command, for registration (Discord deploy) and forms (web console). */
  definitions(): readonly CommandDefinition[];
  /**
   * Runs one request to its end: resolves after the final reply (`error`, `result`, `failed`,
   * `info` or `gallery`) was sent. Never rejects for user mistakes; they become `error` replies.
   */
  handle(request: CommandRequest, sink: ReplySink): Promise<void>;
  /** A button press (`ReplyAction.id`); same reply stream and same guarantees as `handle`. */
  handleAction(actionId: string, requester: Requester, sink: ReplySink): Promise<void>;
  /**
   * The requester's own recent jobs, newest first, each as the reply that shows it now: `result`
   * (finished), `failed`, or `queued`/`progress` (still waiting or running). For a page's history.
   */
  recentJobs(
    requester: Requester,
    options?: { limit?: number | undefined; beforeId?: number | undefined },
  ): Promise<Reply[]>;
}
