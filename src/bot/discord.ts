// The Discord front end: a discord.js gateway client that answers slash commands and buttons
// through the CommandService, edits one reply as the job moves, and counts reactions as votes.
import {
  ActionRowBuilder,
  ButtonBuilder,
  ButtonStyle,
  Client,
  DiscordAPIError,
  Events,
  GatewayIntentBits,
  MessageFlags,
  Partials,
  type APIEmbed,
  type AttachmentPayload,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Message,
  type MessageReaction,
  type PartialMessageReaction,
  type PartialUser,
  type User,
} from 'discord.js';
import type {
  CommandDefinition,
  CommandService,
  Reply,
  ReplyAction,
  ReplyFile,
  ReplySink,
  Requester,
} from '../commands/contract.js';
import { isPrivateAction, unvoteActionId, voteActionId } from '../commands/actions.js';
import { optionsFromInteraction } from './discord-commands.js';
import { fitFiles } from './upload-limit.js';

export const DEFAULT_DISCORD_UPLOAD_LIMIT = 10 * 1024 * 1024;
/** Discord's interaction tokens last 15 minutes; stop trusting one a little before. */
export const INTERACTION_TOKEN_LIFETIME_MS = 15 * 60_000 - 30_000;
const CONTENT_LIMIT = 2000;
/** Discord's codes for a dead interaction token: Unknown Webhook, Invalid Webhook Token, Unknown Interaction. */
const DEAD_TOKEN_CODES = new Set([10015, 50027, 10062]);

export interface DiscordFrontEndOptions {
  readonly service: CommandService;
  /** From DISCORD_TOKEN; never logged. */
  readonly token: string;
  /** Base of the REST API, e.g. 'https://discord.com/api' (tests point it at a fake on loopback). */
  readonly restApi?: string | undefined;
  /** Bytes per message (DISCORD_UPLOAD_LIMIT); results over it are re-encoded or downscaled. */
  readonly uploadLimitBytes?: number | undefined;
  /** How long an interaction token is trusted; after it results go to the channel. */
  readonly tokenLifetimeMs?: number | undefined;
  /** Least time between two progress edits (Discord rate-limits webhook edits). Default 1500. */
  readonly progressIntervalMs?: number | undefined;
  /** Reactions that count as a gallery vote. Default ⭐. */
  readonly voteEmoji?: readonly string[] | undefined;
  readonly log?: ((message: string) => void) | undefined;
  /** Gives up connecting (the client is destroyed) when it fires: a shutdown during the start. */
  readonly signal?: AbortSignal | undefined;
}

export interface DiscordFrontEnd {
  readonly client: Client;
  stop(): Promise<void>;
}

/** What an error says without its request URL: webhook URLs carry interaction tokens. */
export function describeError(error: unknown): string {
  if (error instanceof DiscordAPIError)
    return `Discord API error ${error.code} (HTTP ${error.status}): ${error.message}`;
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}

const buttonStyles: Record<ReplyAction['style'], ButtonStyle> = {
  primary: ButtonStyle.Primary,
  secondary: ButtonStyle.Secondary,
  success: ButtonStyle.Success,
  danger: ButtonStyle.Danger,
};

/** Buttons in rows of five (Discord's limit), at most five rows. */
export function buttonRows(actions: readonly ReplyAction[]): ActionRowBuilder<ButtonBuilder>[] {
  const rows: ActionRowBuilder<ButtonBuilder>[] = [];
  for (let i = 0; i < Math.min(actions.length, 25); i += 5) {
    rows.push(
      new ActionRowBuilder<ButtonBuilder>().addComponents(
        actions
          .slice(i, i + 5)
          .map((a) =>
            new ButtonBuilder()
              .setCustomId(a.id.slice(0, 100))
              .setLabel(a.label.slice(0, 80))
              .setStyle(buttonStyles[a.style]),
          ),
      ),
    );
  }
  return rows;
}

function clip(text: string): string {
  return text.length <= CONTENT_LIMIT ? text : `${text.slice(0, CONTENT_LIMIT - 1)}…`;
}

function progressBar(step: number, total: number): string {
  const n = 12;
  const done = total > 0 ? Math.round((Math.min(step, total) / total) * n) : 0;
  return `${'▰'.repeat(done)}${'▱'.repeat(n - done)}`;
}

function attachments(files: readonly ReplyFile[]): AttachmentPayload[] {
  return files.map((f) => ({ attachment: f.data, name: f.name }));
}

function errorText(reply: Extract<Reply, { type: 'error' }>): string {
  return clip(`⚠️ ${reply.message}${reply.allowed ? `\nAllowed: ${reply.allowed}` : ''}`);
}

function infoText(reply: Extract<Reply, { type: 'info' }>): string {
  const fields = (reply.fields ?? []).map((f) => `**${f.name}:** ${f.value}`);
  return clip([reply.title ? `**${reply.title}**` : '', reply.text, ...fields].filter(Boolean).join('\n'));
}

function galleryMessage(reply: Extract<Reply, { type: 'gallery' }>): {
  content: string;
  embeds: APIEmbed[];
  files: AttachmentPayload[];
  components: ActionRowBuilder<ButtonBuilder>[];
} {
  // Five entries: one row of buttons each, and Discord allows five rows.
  const entries = reply.entries.slice(0, 5);
  const heading = `**Gallery · ${reply.filter}${reply.command ? ` · /${reply.command}` : ''}**`;
  if (entries.length === 0)
    return {
      content: `${heading}\nNothing here yet: publish a result with its button.`,
      embeds: [],
      files: [],
      components: [],
    };
  return {
    content:
      reply.entries.length > entries.length
        ? `${heading} (first ${entries.length} of ${reply.entries.length})`
        : heading,
    embeds: entries.map((e) => ({
      title: `#${e.postId} · /${e.command}`.slice(0, 256),
      description: e.prompt.slice(0, 4000) || undefined,
      fields: [
        { name: 'seed', value: String(e.seed), inline: true },
        { name: 'votes', value: String(e.votes), inline: true },
        {
          name: 'by',
          value: e.author.startsWith('discord:') ? `<@${e.author.slice('discord:'.length)}>` : e.author,
          inline: true,
        },
      ],
      ...(e.file ? { image: { url: `attachment://${e.file.name}` } } : {}),
    })),
    files: attachments(entries.flatMap((e) => (e.file ? [e.file] : []))),
    components: entries.map((e) => buttonRows(e.actions)[0]!).filter(Boolean),
  };
}

type Deferrable = ChatInputCommandInteraction | ButtonInteraction;

/**
 * The ReplySink of one interaction: its deferred reply is edited as the job moves. Private
 * answers to a public defer replace it with an ephemeral follow-up; once the interaction token
 * is too old (15 minutes), results are sent to the channel instead.
 */
class InteractionSink implements ReplySink {
  readonly progressIntervalMs: number;
  readonly previews = true;
  /** Whether the deferred reply shows something besides "thinking…". */
  private shown = false;
  private tokenDead = false;
  private readonly deferredAt = Date.now();

  constructor(
    private readonly interaction: Deferrable,
    private readonly ephemeral: boolean,
    private readonly front: Front,
  ) {
    this.progressIntervalMs = front.progressIntervalMs;
  }

  private expired(): boolean {
    return this.tokenDead || Date.now() - this.deferredAt > this.front.tokenLifetimeMs;
  }

  async send(reply: Reply): Promise<void> {
    try {
      await this.show(reply);
    } catch (error) {
      // The service logs what a sink throws; discord.js errors carry the webhook URL, whose path
      // is the interaction token. Pass on the message alone.
      throw new Error(describeError(error));
    }
  }

  private async show(reply: Reply): Promise<void> {
    switch (reply.type) {
      case 'error':
        return this.privately(errorText(reply));
      case 'queued': {
        const where = reply.position <= 1 ? 'starts next' : `position ${reply.position} in the queue`;
        await this.edit({
          content: clip(`⏳ ${reply.summary}\nQueued as job #${reply.jobId}, ${where}.`),
          attachments: [],
        });
        return;
      }
      case 'progress': {
        if (this.expired()) return; // progress is not worth a channel message
        const line = `🎨 job #${reply.jobId} ${progressBar(reply.step, reply.total)} ${reply.step}/${reply.total}${reply.message ? ` · ${reply.message}` : ''}`;
        await this.edit(reply.preview ? { content: line, files: attachments([reply.preview]) } : { content: line });
        return;
      }
      case 'result': {
        const fitted = await fitFiles(reply.files, this.front.uploadLimitBytes);
        const content = clip([reply.caption, ...fitted.notes.map((n) => `⚠️ ${n}`)].join('\n'));
        const message = await this.deliver({
          content,
          files: attachments(fitted.files),
          components: buttonRows(reply.actions),
          embeds: [],
        });
        if (message) this.front.rememberResult(message.id, reply.jobId);
        return;
      }
      case 'failed':
        await this.deliver({
          content: clip(`${reply.outcome === 'cancelled' ? '🚫' : '❌'} ${reply.message}`),
          attachments: [],
          components: [],
        });
        return;
      case 'info': {
        if (reply.deleteResultOf !== undefined) await this.deleteButtonMessage();
        const fitted = await fitFiles(reply.files ?? [], this.front.uploadLimitBytes);
        const payload = {
          content: clip([infoText(reply), ...fitted.notes.map((n) => `⚠️ ${n}`)].join('\n')),
          files: attachments(fitted.files),
          components: buttonRows(reply.actions ?? []),
        };
        if (reply.private && !this.ephemeral) return this.privately(payload);
        await this.deliver(payload);
        return;
      }
      case 'gallery': {
        const payload = galleryMessage(reply);
        if (reply.private && !this.ephemeral) return this.privately(payload);
        await this.deliver(payload);
        return;
      }
    }
  }

  /** Edits the deferred reply; a dead token is remembered so results go to the channel. */
  private async edit(payload: Parameters<Deferrable['editReply']>[0] & object): Promise<Message | undefined> {
    try {
      const message = await this.interaction.editReply(payload);
      this.shown = true;
      return message;
    } catch (error) {
      if (error instanceof DiscordAPIError && DEAD_TOKEN_CODES.has(Number(error.code))) {
        this.tokenDead = true;
        return undefined;
      }
      throw error;
    }
  }

  /** A final reply: an edit while the token lives, a channel message after. */
  private async deliver(payload: {
    content: string;
    files?: AttachmentPayload[];
    components?: ActionRowBuilder<ButtonBuilder>[];
    embeds?: APIEmbed[];
    attachments?: [];
  }): Promise<Message | undefined> {
    if (!this.expired()) {
      const message = await this.edit(payload);
      if (message || !this.tokenDead) return message;
    }
    if (this.ephemeral) {
      this.front.log(
        `interaction token of a private reply expired; the reply to ${this.interaction.user.id} was dropped`,
      );
      return undefined;
    }
    return this.front.sendToChannel(this.interaction.channelId, this.interaction.user.id, payload);
  }

  /** Private text for the requester: the ephemeral defer itself, or an ephemeral follow-up. */
  private async privately(
    payload:
      | string
      | {
          content: string;
          files?: AttachmentPayload[];
          components?: ActionRowBuilder<ButtonBuilder>[];
          embeds?: APIEmbed[];
        },
  ): Promise<void> {
    const body = typeof payload === 'string' ? { content: payload } : payload;
    if (this.expired()) {
      this.front.log(`interaction token expired; a private reply to ${this.interaction.user.id} was dropped`);
      return;
    }
    if (this.ephemeral) {
      await this.edit(body);
      return;
    }
    // A public "thinking…" that never showed anything would stay forever: remove it first.
    if (!this.shown)
      await this.interaction.deleteReply().catch((e: unknown) => this.front.log(`deleteReply: ${describeError(e)}`));
    await this.interaction.followUp({ ...body, flags: MessageFlags.Ephemeral });
  }

  private async deleteButtonMessage(): Promise<void> {
    if (!this.interaction.isButton()) return;
    await this.interaction.message
      .delete()
      .catch((e: unknown) => this.front.log(`deleting a result: ${describeError(e)}`));
  }
}

/** State shared by the sinks of one client. */
interface Front {
  readonly progressIntervalMs: number;
  readonly tokenLifetimeMs: number;
  readonly uploadLimitBytes: number;
  log(message: string): void;
  rememberResult(messageId: string, jobId: number): void;
  sendToChannel(
    channelId: string,
    userId: string,
    payload: {
      content: string;
      files?: AttachmentPayload[];
      components?: ActionRowBuilder<ButtonBuilder>[];
      embeds?: APIEmbed[];
    },
  ): Promise<Message | undefined>;
}

function requesterOf(interaction: Deferrable): Requester {
  return {
    platform: 'discord',
    userId: interaction.user.id,
    displayName: interaction.user.globalName ?? interaction.user.username,
    channelId: interaction.channelId,
    threadId: interaction.channel?.isThread() ? interaction.channelId : undefined,
  };
}

/**
 * Logs in with `token` and serves the service's commands until `stop()`. Commands must have
 * been registered once with the deploy script (`node dist/src/bot/deploy-discord.js`).
 *
 * @example
 * const discord = await startDiscord({ service, token: process.env.DISCORD_TOKEN! });
 */
export async function startDiscord(options: DiscordFrontEndOptions): Promise<DiscordFrontEnd> {
  const { service } = options;
  const log = options.log ?? ((m: string) => console.log(`discord: ${m}`));
  const voteEmoji = new Set(options.voteEmoji ?? ['⭐']);
  const definitions = new Map<string, CommandDefinition>(service.definitions().map((d) => [d.name, d]));
  const client = new Client({
    intents: [GatewayIntentBits.Guilds, GatewayIntentBits.GuildMessageReactions],
    // Reactions on messages sent before a restart arrive as partials.
    partials: [Partials.Message, Partials.Reaction, Partials.User],
    rest: options.restApi ? { api: options.restApi } : {},
  });
  const results = new Map<string, number>();
  const front: Front = {
    progressIntervalMs: options.progressIntervalMs ?? 1500,
    tokenLifetimeMs: options.tokenLifetimeMs ?? INTERACTION_TOKEN_LIFETIME_MS,
    uploadLimitBytes: options.uploadLimitBytes ?? DEFAULT_DISCORD_UPLOAD_LIMIT,
    log,
    rememberResult(messageId, jobId) {
      results.set(messageId, jobId);
      // A bounded memory; older results are found again from the "job #n" in their text.
      if (results.size > 5000) results.delete(results.keys().next().value!);
    },
    async sendToChannel(channelId, userId, payload) {
      const channel = await client.channels.fetch(channelId);
      if (!channel?.isSendable()) {
        log(`cannot post a late result in channel ${channelId}`);
        return undefined;
      }
      return channel.send({
        ...payload,
        content: clip(`<@${userId}> ${payload.content}`),
        allowedMentions: { users: [userId] },
      });
    },
  };

  async function onCommand(interaction: ChatInputCommandInteraction): Promise<void> {
    const def = definitions.get(interaction.commandName);
    const ephemeral = !def || def.replies === 'private';
    // Within Discord's 3 s, before any work.
    await interaction.deferReply(ephemeral ? { flags: MessageFlags.Ephemeral } : {});
    const sink = new InteractionSink(interaction, ephemeral, front);
    await service.handle(
      {
        command: interaction.commandName,
        options: optionsFromInteraction(interaction.options.data),
        requester: requesterOf(interaction),
      },
      sink,
    );
  }

  async function onButton(interaction: ButtonInteraction): Promise<void> {
    // Confirmations are for the presser only; the other buttons start a public job.
    const ephemeral = isPrivateAction(interaction.customId);
    await interaction.deferReply(ephemeral ? { flags: MessageFlags.Ephemeral } : {});
    await service.handleAction(
      interaction.customId,
      requesterOf(interaction),
      new InteractionSink(interaction, ephemeral, front),
    );
  }

  async function onReaction(
    reaction: MessageReaction | PartialMessageReaction,
    user: User | PartialUser,
    added: boolean,
  ): Promise<void> {
    if (user.bot || !reaction.emoji.name || !voteEmoji.has(reaction.emoji.name)) return;
    let jobId = results.get(reaction.message.id);
    if (jobId === undefined) {
      const message = reaction.message.partial ? await reaction.message.fetch() : reaction.message;
      if (message.author?.id !== client.user?.id) return;
      // The last "job #n": the caption ends with it, and a prompt could contain the words too.
      const m = [...(message.content ?? '').matchAll(/job #(\d+)/g)].at(-1);
      if (!m) return;
      jobId = Number(m[1]);
    }
    const requester: Requester = {
      platform: 'discord',
      userId: user.id,
      displayName: user.username ?? undefined,
      channelId: reaction.message.channelId,
    };
    // A reaction has no reply channel: confirmations and refusals (not published yet) are only logged.
    const sink: ReplySink = {
      send: async (r) => void (r.type === 'error' ? log(`vote on job #${jobId}: ${r.message}`) : undefined),
    };
    await service.handleAction(added ? voteActionId(jobId) : unvoteActionId(jobId), requester, sink);
  }

  client.on(Events.InteractionCreate, (interaction) => {
    const work = interaction.isChatInputCommand()
      ? onCommand(interaction)
      : interaction.isButton()
        ? onButton(interaction)
        : undefined;
    work?.catch((error: unknown) => log(`interaction ${interaction.id}: ${describeError(error)}`));
  });
  client.on(
    Events.MessageReactionAdd,
    (reaction, user) =>
      void onReaction(reaction, user, true).catch((e: unknown) => log(`reaction: ${describeError(e)}`)),
  );
  client.on(
    Events.MessageReactionRemove,
    (reaction, user) =>
      void onReaction(reaction, user, false).catch((e: unknown) => log(`reaction: ${describeError(e)}`)),
  );
  client.on(Events.Error, (error) => log(describeError(error)));

  const ready = new Promise<void>((resolve) => client.once(Events.ClientReady, () => resolve()));
  const giveUp = (): void => void client.destroy().catch(() => {});
  options.signal?.addEventListener('abort', giveUp, { once: true });
  try {
    await client.login(options.token);
    await ready;
  } finally {
    options.signal?.removeEventListener('abort', giveUp);
  }
  log(`connected as ${client.user?.tag ?? 'the bot'}`);
  return {
    client,
    async stop() {
      await client.destroy();
    },
  };
}
