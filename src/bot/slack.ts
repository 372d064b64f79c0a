// The Slack front end: a Bolt app (socket mode or HTTP with signature checks) that runs slash
// commands, Block Kit buttons and @-mentions carrying a sketch through the CommandService.
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { App, HTTPReceiver, LogLevel, type RespondFn, type types } from '@slack/bolt';
import type { WebClient } from '@slack/web-api';
import type {
  Attachment,
  CommandDefinition,
  CommandService,
  OptionValue,
  Reply,
  ReplyAction,
  ReplyFile,
  ReplySink,
  Requester,
} from '../commands/contract.js';
import { CommandTextError, parseCommandText, unescapeSlack } from './command-text.js';
import { fetchLimited } from './fetch-limited.js';

/** The umbrella command (`/illusionist digits 7`) for workspaces where `/digits` is taken. */
export const DEFAULT_UMBRELLA_COMMAND = 'illusionist';
/**
 * Bytes per request body in HTTP mode. Slack's slash commands, interactions and events are a few
 * KB (a message with blocks stays far under this); anything bigger is refused with 413 before it
 * is read in full or its signature checked.
 */
export const DEFAULT_SLACK_MAX_BODY_BYTES = 1024 * 1024;

export interface SlackFrontEndOptions {
  readonly service: CommandService;
  /** SLACK_BOT_TOKEN (xoxb-…); never logged. */
  readonly botToken: string;
  /** SLACK_APP_TOKEN (xapp-…): socket mode, no public URL needed. */
  readonly appToken?: string | undefined;
  /** SLACK_SIGNING_SECRET: HTTP mode; every request's signature is checked. */
  readonly signingSecret?: string | undefined;
  /** HTTP mode: where Slack's Request URL reaches the bot (SLACK_PORT, default 3000; 0 picks one). */
  readonly port?: number | undefined;
  /** HTTP mode: the interface to bind (SLACK_HOST); default all, since Slack must reach it. */
  readonly host?: string | undefined;
  /** Tests point the Web API at a fake. */
  readonly slackApiUrl?: string | undefined;
  readonly umbrellaCommand?: string | undefined;
  /** Least time between two chat.update calls of the status message. Default 1500. */
  readonly progressIntervalMs?: number | undefined;
  readonly log?: ((message: string) => void) | undefined;
  /** HTTP mode: bytes per request body (default 1 MiB); bigger requests get 413. */
  readonly maxBodyBytes?: number | undefined;
  /** Gives up connecting (the app is stopped) when it fires: a shutdown during the start. */
  readonly signal?: AbortSignal | undefined;
}

export interface SlackFrontEnd {
  readonly app: App;
  /** The HTTP port in HTTP mode. */
  readonly port?: number | undefined;
  stop(): Promise<void>;
}

type Block = types.KnownBlock;

/** Slack's mrkdwn needs &, < and > escaped in text that came from users (prompts). */
function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function clip(text: string, max = 3000): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

const slackButtonStyle: Record<ReplyAction['style'], 'primary' | 'danger' | undefined> = {
  primary: 'primary',
  success: 'primary',
  secondary: undefined,
  danger: 'danger',
};

/** Buttons as one actions block (Slack allows 25 elements); the action id comes back unchanged. */
export function actionsBlock(actions: readonly ReplyAction[]): Block[] {
  if (actions.length === 0) return [];
  return [
    {
      type: 'actions',
      elements: actions.slice(0, 25).map((a): types.Button => {
        const style = slackButtonStyle[a.style];
        return {
          type: 'button',
          action_id: a.id,
          value: a.id,
          text: { type: 'plain_text', text: a.label.slice(0, 75), emoji: true },
          ...(style ? { style } : {}),
        };
      }),
    },
  ];
}

function section(text: string): Block {
  return { type: 'section', text: { type: 'mrkdwn', text: clip(text) } };
}

function errorText(reply: Extract<Reply, { type: 'error' }>): string {
  return `:warning: ${reply.message}${reply.allowed ? `\nAllowed: ${reply.allowed}` : ''}`;
}

function infoText(reply: Extract<Reply, { type: 'info' }>): string {
  const fields = (reply.fields ?? []).map((f) => `*${f.name}:* ${f.value}`);
  return [reply.title ? `*${reply.title}*` : '', reply.text, ...fields].filter(Boolean).join('\n');
}

function galleryBlocks(reply: Extract<Reply, { type: 'gallery' }>): Block[] {
  const heading = `*Gallery · ${reply.filter}${reply.command ? ` · /${reply.command}` : ''}*`;
  if (reply.entries.length === 0) return [section(`${heading}\nNothing here yet: publish a result with its button.`)];
  // 50 blocks per message: two per entry.
  return [
    section(heading),
    ...reply.entries
      .slice(0, 20)
      .flatMap((e) => [
        section(
          `*#${e.postId} · /${e.command}* ${escapeMrkdwn(e.prompt)}\nseed ${e.seed} · ${e.votes} vote${e.votes === 1 ? '' : 's'} · by ${e.author.startsWith('slack:') ? `<@${e.author.slice('slack:'.length)}>` : escapeMrkdwn(e.author)}`,
        ),
        ...actionsBlock(e.actions),
      ]),
  ];
}

/** Where a Slack reply goes and what is known about the conversation so far. */
interface SlackTarget {
  readonly channel: string;
  readonly user: string;
  /** Replies go into this thread (mentions in a thread, buttons under a threaded message). */
  readonly threadTs?: string | undefined;
  /** The slash command's or button's response_url, for ephemeral answers. */
  readonly respond?: RespondFn | undefined;
  /** The message a button sits on (the owner's delete removes it). */
  readonly buttonMessageTs?: string | undefined;
}

/**
 * The ReplySink of one Slack request: private answers are ephemeral (`respond`, or
 * `chat.postEphemeral` for mentions); a job gets one status message that `chat.update` moves
 * along, and its result is uploaded with `files.uploadV2` together with its buttons.
 */
class SlackSink implements ReplySink {
  readonly previews = false; // uploading a preview every 1.5 s would flood the channel's files
  private statusTs: string | undefined;

  constructor(
    private readonly client: WebClient,
    private readonly target: SlackTarget,
    readonly progressIntervalMs: number,
    private readonly log: (message: string) => void,
  ) {}

  async send(reply: Reply): Promise<void> {
    try {
      await this.show(reply);
    } catch (error) {
      // The service logs what a sink throws; HTTP client errors carry request details such as
      // the response_url. Pass on the message alone.
      throw new Error(error instanceof Error ? `${error.name}: ${error.message}` : String(error));
    }
  }

  private async show(reply: Reply): Promise<void> {
    switch (reply.type) {
      case 'error':
        return this.privately(errorText(reply));
      case 'queued': {
        const where = reply.position <= 1 ? 'starts next' : `position ${reply.position} in the queue`;
        return this.status(
          `:hourglass_flowing_sand: ${escapeMrkdwn(reply.summary)}\nQueued as job #${reply.jobId}, ${where}.`,
        );
      }
      case 'progress': {
        if (!this.statusTs) return;
        const n = 12;
        const done = reply.total > 0 ? Math.round((Math.min(reply.step, reply.total) / reply.total) * n) : 0;
        return this.status(
          `:art: job #${reply.jobId} ${'▰'.repeat(done)}${'▱'.repeat(n - done)} ${reply.step}/${reply.total}${reply.message ? ` · ${reply.message}` : ''}`,
        );
      }
      case 'result': {
        const blocks = [section(escapeMrkdwn(reply.caption)), ...actionsBlock(reply.actions)];
        if (reply.files.length > 0) {
          await this.upload(reply.files, blocks, reply.caption);
          // The status message said "queued"/"running"; the upload now tells the story.
          if (this.statusTs)
            await this.client.chat
              .delete({ channel: this.target.channel, ts: this.statusTs })
              .catch((e: unknown) => this.log(`chat.delete: ${String(e)}`));
          this.statusTs = undefined;
          return;
        }
        return this.status(reply.caption, blocks);
      }
      case 'failed':
        return this.status(
          `${reply.outcome === 'cancelled' ? ':no_entry_sign:' : ':x:'} ${escapeMrkdwn(reply.message)}`,
        );
      case 'info': {
        if (reply.deleteResultOf !== undefined && this.target.buttonMessageTs) {
          await this.client.chat
            .delete({ channel: this.target.channel, ts: this.target.buttonMessageTs })
            .catch((e: unknown) => this.log(`chat.delete: ${String(e)}`));
        }
        const text = infoText(reply);
        const blocks = [section(text), ...actionsBlock(reply.actions ?? [])];
        if (reply.private) return this.privately(text, blocks);
        if (reply.files?.length) return this.upload(reply.files, blocks, text);
        await this.client.chat.postMessage({
          channel: this.target.channel,
          thread_ts: this.target.threadTs,
          text: clip(text),
          blocks,
        });
        return;
      }
      case 'gallery': {
        const blocks = galleryBlocks(reply);
        const text = `Gallery · ${reply.filter}`;
        if (reply.private) return this.privately(text, blocks);
        await this.client.chat.postMessage({
          channel: this.target.channel,
          thread_ts: this.target.threadTs,
          text,
          blocks,
        });
        return;
      }
    }
  }

  /** Posts the status message once, then edits it. */
  private async status(text: string, blocks?: Block[]): Promise<void> {
    const body = { channel: this.target.channel, text: clip(text), blocks: blocks ?? [section(text)] };
    if (this.statusTs) {
      await this.client.chat.update({ ...body, ts: this.statusTs });
      return;
    }
    try {
      const posted = await this.client.chat.postMessage({ ...body, thread_ts: this.target.threadTs });
      this.statusTs = posted.ts;
    } catch (error) {
      if (isSlackError(error, 'not_in_channel') || isSlackError(error, 'channel_not_found')) {
        // The job still runs; say privately why nothing shows in the channel.
        await this.privately(
          `${text}\n_I am not in this channel, so I cannot post here: invite me with \`/invite @illusionist\`._`,
        );
        return;
      }
      throw error;
    }
  }

  private async upload(files: readonly ReplyFile[], blocks: Block[], text: string): Promise<void> {
    try {
      await this.client.files.uploadV2({
        channel_id: this.target.channel,
        ...(this.target.threadTs ? { thread_ts: this.target.threadTs } : {}),
        blocks,
        file_uploads: files.map((f) => ({ file: f.data, filename: f.name, title: f.name })),
      });
    } catch (error) {
      if (isSlackError(error, 'not_in_channel') || isSlackError(error, 'channel_not_found')) {
        await this.privately(
          `${text}\n_I could not upload the pictures: invite me to this channel with \`/invite @illusionist\` and press Reroll, or use /job._`,
        );
        return;
      }
      throw error;
    }
  }

  private async privately(text: string, blocks?: Block[]): Promise<void> {
    const body = { text: clip(text), ...(blocks ? { blocks } : {}) };
    if (this.target.respond) {
      await this.target.respond({ ...body, response_type: 'ephemeral', replace_original: false });
      return;
    }
    await this.client.chat.postEphemeral({
      ...body,
      channel: this.target.channel,
      user: this.target.user,
      thread_ts: this.target.threadTs,
    });
  }
}

function isSlackError(error: unknown, code: string): boolean {
  return typeof error === 'object' && error !== null && (error as { data?: { error?: string } }).data?.error === code;
}

/** A file of a Slack message as the service's lazy upload, downloaded with the bot token. */
interface SlackFile {
  name?: string;
  mimetype?: string;
  size?: number;
  original_w?: number;
  original_h?: number;
  url_private_download?: string;
  url_private?: string;
}

function slackAttachment(file: SlackFile, botToken: string): Attachment {
  const url = file.url_private_download ?? file.url_private;
  const size = file.size ?? 0;
  return {
    name: file.name ?? 'upload',
    contentType: file.mimetype,
    size,
    width: file.original_w,
    height: file.original_h,
    fetch: async () => {
      if (!url) throw new Error('Slack gave no download URL for the file');
      // Slack's private file URLs need the bot token (files:read).
      return fetchLimited(url, { maxBytes: size + 1024, headers: { Authorization: `Bearer ${botToken}` } });
    },
  };
}

/**
 * Splits a command's text into the command name and its options; the files of a message fill the
 * command's attachment options in order (`@illusionist edit prompt:7 i_start:10` with a sketch).
 */
function requestOptions(
  def: CommandDefinition | undefined,
  text: string,
  files: readonly Attachment[],
): Record<string, OptionValue> {
  if (!def) return {};
  const options: Record<string, OptionValue> = parseCommandText(def, text);
  const slots = def.options.filter((o) => o.type === 'attachment');
  files.forEach((file, i) => {
    const slot = slots[i];
    if (slot && !(slot.name in options)) options[slot.name] = file;
  });
  return options;
}

/**
 * Starts the Bolt app: socket mode when `appToken` is given, otherwise an HTTP server on `port`
 * whose requests must carry a valid signature (`signingSecret`).
 *
 * @example
 * const slack = await startSlack({ service, botToken: process.env.SLACK_BOT_TOKEN!, appToken: process.env.SLACK_APP_TOKEN });
 */
export async function startSlack(options: SlackFrontEndOptions): Promise<SlackFrontEnd> {
  const { service, botToken } = options;
  const log = options.log ?? ((m: string) => console.log(`slack: ${m}`));
  if (!options.appToken && !options.signingSecret)
    throw new Error('Slack needs SLACK_APP_TOKEN (socket mode) or SLACK_SIGNING_SECRET (HTTP mode)');
  const definitions = new Map<string, CommandDefinition>(service.definitions().map((d) => [d.name, d]));
  const umbrella = options.umbrellaCommand ?? DEFAULT_UMBRELLA_COMMAND;
  const interval = options.progressIntervalMs ?? 1500;
  const clientOptions = options.slackApiUrl ? { slackApiUrl: options.slackApiUrl } : {};
  // HTTP mode's receiver refuses oversized bodies. Both apps are initialised by hand (`init`,
  // below) so that a refused token fails the start instead of surfacing at the first event.
  const receiver = options.appToken
    ? undefined
    : limitBodies(
        new HTTPReceiver({ signingSecret: options.signingSecret!, logLevel: LogLevel.WARN }),
        options.maxBodyBytes ?? DEFAULT_SLACK_MAX_BODY_BYTES,
      );
  const app = options.appToken
    ? new App({
        token: botToken,
        appToken: options.appToken,
        socketMode: true,
        logLevel: LogLevel.WARN,
        clientOptions,
        installerOptions: { clientOptions },
        deferInitialization: true,
      })
    : new App({ token: botToken, receiver, logLevel: LogLevel.WARN, clientOptions, deferInitialization: true });

  /** Runs one typed command; `name` may be the umbrella command, whose first word names the real one. */
  async function run(
    name: string,
    text: string,
    files: readonly Attachment[],
    requester: Requester,
    sink: ReplySink,
  ): Promise<void> {
    let command = name.replace(/^\//, '').toLowerCase();
    let rest = text.trim();
    if (command === umbrella) {
      const m = /^\/?(\S+)\s*([\s\S]*)$/.exec(rest);
      command = (m?.[1] ?? 'help').toLowerCase();
      rest = m?.[2] ?? '';
    }
    let commandOptions: Record<string, OptionValue>;
    try {
      commandOptions = requestOptions(definitions.get(command), rest, files);
    } catch (error) {
      if (!(error instanceof CommandTextError)) throw error;
      await sink.send({ type: 'error', code: 'invalid-option', message: error.message, allowed: error.allowed });
      return;
    }
    await service.handle({ command, options: commandOptions, requester }, sink);
  }

  app.command(/^\/[\w-]+$/, async ({ command, ack, respond, client }) => {
    // Within Slack's 3 s, before any work. Slash commands cannot be used in threads (Slack's rule).
    await ack();
    const requester: Requester = {
      platform: 'slack',
      userId: command.user_id,
      displayName: command.user_name,
      channelId: command.channel_id,
    };
    const sink = new SlackSink(client, { channel: command.channel_id, user: command.user_id, respond }, interval, log);
    await run(command.command, command.text, [], requester, sink);
  });

  app.action(/.*/, async ({ ack, body, action, respond, client }) => {
    await ack();
    if (body.type !== 'block_actions' || action.type !== 'button' || !('action_id' in action)) return;
    const channel = body.channel?.id ?? body.container?.channel_id;
    if (!channel) return;
    const message = body.message as { ts?: string; thread_ts?: string } | undefined;
    const requester: Requester = {
      platform: 'slack',
      userId: body.user.id,
      displayName: body.user.name,
      channelId: channel,
      threadId: message?.thread_ts,
    };
    const sink = new SlackSink(
      client,
      { channel, user: body.user.id, respond, threadTs: message?.thread_ts, buttonMessageTs: message?.ts },
      interval,
      log,
    );
    await service.handleAction(action.action_id, requester, sink);
  });

  // Sketch upload: a message with an image that mentions the bot with a command. It also lets
  // people use commands inside threads, which Slack's slash commands cannot.
  app.event('app_mention', async ({ event, client }) => {
    const text = unescapeSlack(event.text.replace(/<@[A-Z0-9]+(\|[^>]*)?>/g, ' ')).trim();
    const files = ((event as { files?: SlackFile[] }).files ?? []).map((f) => slackAttachment(f, botToken));
    const threadTs = event.thread_ts ?? event.ts;
    const user = event.user ?? '';
    const requester: Requester = { platform: 'slack', userId: user, channelId: event.channel, threadId: threadTs };
    const sink = new SlackSink(client, { channel: event.channel, user, threadTs }, interval, log);
    await run(umbrella, text, files, requester, sink);
  });

  app.error(async (error) => log(`${error.name}: ${error.message}`));

  const { signal } = options;
  const onAbort = (): void => void Promise.resolve(app.stop()).catch(() => {});
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    try {
      // auth.test with the bot token: a wrong or revoked token is an error now, not at the first event.
      await app.init();
    } catch (error) {
      const code = (error as { data?: { error?: unknown } })?.data?.error;
      if (typeof code === 'string') throw new Error(`Slack refused SLACK_BOT_TOKEN (auth.test: ${code})`);
      throw new Error(
        `Slack's Web API did not answer auth.test: ${error instanceof Error ? error.message : String(error)}`,
      );
    }
    if (options.appToken) {
      await app.start();
      log('connected in socket mode');
      return { app, stop: async () => void (await app.stop()) };
    }
    const port0 = options.port ?? 3000;
    const server = (await app.start(options.host ? { port: port0, host: options.host } : port0)) as Server;
    const port = (server.address() as AddressInfo).port;
    log(`listening for Slack requests on port ${port} (POST /slack/events)`);
    return { app, port, stop: async () => void (await app.stop()) };
  } finally {
    signal?.removeEventListener('abort', onAbort);
  }
}

/**
 * Makes `receiver` refuse request bodies over `maxBytes` with 413, by Content-Length before
 * reading anything, or as soon as a chunked body passes the limit. Bodies under it are buffered
 * here and handed on as Bolt's BufferedIncomingMessage (`rawBody`), which Bolt reads as is.
 */
function limitBodies(receiver: HTTPReceiver, maxBytes: number): HTTPReceiver {
  const next = receiver.requestListener;
  const tooLarge = (res: ServerResponse): void => {
    res.writeHead(413, { 'content-type': 'text/plain; charset=utf-8', connection: 'close' });
    res.end(`Request body over ${maxBytes} bytes: Slack's requests are far smaller.\n`);
  };
  receiver.requestListener = (req: IncomingMessage, res: ServerResponse) => {
    if (req.method !== 'POST') return next(req, res);
    const declared = Number(req.headers['content-length'] ?? NaN);
    if (declared > maxBytes) {
      // Not reading the body: the connection closes after the answer.
      tooLarge(res);
      req.socket.end();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let refused = false;
    req.on('data', (chunk: Buffer) => {
      if (refused) return;
      size += chunk.length;
      if (size > maxBytes) {
        refused = true;
        chunks.length = 0;
        tooLarge(res);
        req.socket.end();
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (refused) return;
      (req as IncomingMessage & { rawBody?: Buffer }).rawBody = Buffer.concat(chunks);
      try {
        next(req, res);
      } catch {
        // Bolt throws for a path it does not serve (its own server answers 404 then).
        if (!res.headersSent) res.writeHead(404).end();
      }
    });
    req.on('error', () => res.destroy());
  };
  return receiver;
}
