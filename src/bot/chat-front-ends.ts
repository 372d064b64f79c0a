// The Discord and Slack starters that src/bot/main.ts runs when their tokens are in the
// environment; each SDK is imported only when used, so `npm start` without tokens stays light.
import type { CommandService } from '../commands/contract.js';
import type { DiscordFrontEndOptions } from './discord.js';
import type { FrontEndStarter } from './main.js';
import type { SlackFrontEndOptions } from './slack.js';

type Env = Readonly<Record<string, string | undefined>>;

export class ChatConfigError extends Error {
  override readonly name = 'ChatConfigError';
}

/** An http(s) base URL from `name`, for pointing an SDK at a proxy or a test fake; unset = the SDK's default. */
function baseUrl(env: Env, name: string): string | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ChatConfigError(`${name} must be an http(s) URL, got "${raw}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:')
    throw new ChatConfigError(`${name} must be an http(s) URL, got "${raw}"`);
  return raw;
}

function positiveInt(env: Env, name: string): number | undefined {
  const raw = env[name]?.trim();
  if (!raw) return undefined;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < 1) throw new ChatConfigError(`${name} must be a positive integer, got "${raw}"`);
  return v;
}

/** Discord's options from DISCORD_* variables (DISCORD_TOKEN must be set). */
export function discordOptionsFromEnv(env: Env, service: CommandService): DiscordFrontEndOptions {
  const token = env.DISCORD_TOKEN?.trim();
  if (!token) throw new ChatConfigError('DISCORD_TOKEN is not set');
  const emoji = (env.DISCORD_VOTE_EMOJI ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  return {
    service,
    token,
    restApi: baseUrl(env, 'DISCORD_API_URL'),
    uploadLimitBytes: positiveInt(env, 'DISCORD_UPLOAD_LIMIT'),
    voteEmoji: emoji.length ? emoji : undefined,
  };
}

/** Slack's options from SLACK_* variables: socket mode with an app token, else signed HTTP. */
export function slackOptionsFromEnv(env: Env, service: CommandService): SlackFrontEndOptions {
  const botToken = env.SLACK_BOT_TOKEN?.trim();
  if (!botToken) throw new ChatConfigError('SLACK_BOT_TOKEN is not set');
  const appToken = env.SLACK_APP_TOKEN?.trim() || undefined;
  const signingSecret = env.SLACK_SIGNING_SECRET?.trim() || undefined;
  if (!appToken && !signingSecret) {
    throw new ChatConfigError(
      'SLACK_BOT_TOKEN is set but neither SLACK_APP_TOKEN (socket mode) nor SLACK_SIGNING_SECRET (HTTP mode) is',
    );
  }
  const port = env.SLACK_PORT?.trim() ? Number(env.SLACK_PORT) : undefined;
  if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65_535))
    throw new ChatConfigError(`SLACK_PORT must be a port number, got "${env.SLACK_PORT}"`);
  return {
    service,
    botToken,
    appToken,
    signingSecret,
    port,
    host: env.SLACK_HOST?.trim() || undefined,
    slackApiUrl: baseUrl(env, 'SLACK_API_URL'),
    umbrellaCommand: env.SLACK_COMMAND?.trim().replace(/^\//, '') || undefined,
  };
}

export const discordFrontEnd: FrontEndStarter = {
  name: 'discord',
  enabled: (env) => Boolean(env.DISCORD_TOKEN?.trim()),
  async start({ service, config, signal }) {
    const { startDiscord } = await import('./discord.js');
    return startDiscord({ ...discordOptionsFromEnv(config.env, service), signal });
  },
};

export const slackFrontEnd: FrontEndStarter = {
  name: 'slack',
  // Enabled by the bot token alone, so a missing app token or signing secret is an error, not silence.
  enabled: (env) => Boolean(env.SLACK_BOT_TOKEN?.trim()),
  async start({ service, config, signal }) {
    const { startSlack } = await import('./slack.js');
    return startSlack({ ...slackOptionsFromEnv(config.env, service), signal });
  },
};
