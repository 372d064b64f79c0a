// The bot's configuration, read from the environment and an optional `.env` file in the working
// directory (git-ignored; the environment wins over it). Tokens are never logged; every variable
// is documented in .env.example.
import { existsSync, readFileSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { defaultInputLimits } from '../commands/command.js';
import { dataDir } from '../store/data-dir.js';
import { redisConnection } from '../jobs/redis-shared.js';

export interface BotConfig {
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  readonly accessToken: string | undefined;
  /** Web console accounts: WEB_USERS and WEB_USERS_FILE entries, and ACCESS_TOKEN as the account "shared". */
  readonly webAccounts: readonly { readonly name: string; readonly token: string }[];
  /** Signs the console's session cookies; unset = random per start (everyone signs in again after a restart). */
  readonly sessionSecret: string | undefined;
  /** `platform:userId` of admins. */
  readonly admins: readonly string[];
  readonly dailyQuota: number;
  readonly maxActiveJobs: number;
  readonly maxQueued: number;
  readonly ratePerMinute: number;
  readonly maxPromptLength: number;
  readonly maxUploadBytes: number;
  readonly maxUploadPixels: number;
  readonly jobTimeLimitMs: number | undefined;
  readonly blocklist: readonly string[];
  /** Redis mode: engine jobs go to `illusionist worker` processes through BullMQ (docs/scaling.md). */
  readonly redisUrl: string | undefined;
  readonly redisPrefix: string | undefined;
  /** The whole environment, for front-end starters (DISCORD_TOKEN, SLACK_BOT_TOKEN, …). */
  readonly env: Readonly<Record<string, string | undefined>>;
}

export class ConfigError extends Error {
  override name = 'ConfigError';
}

/**
 * Loads `path` (default `.env` in the working directory) into `process.env`, leaving every
 * variable the environment already sets as it is. Returns the absolute path read, or undefined
 * when there is no such file.
 */
export function loadEnvFile(path = '.env'): string | undefined {
  const file = resolve(path);
  if (!existsSync(file)) return undefined;
  if (!statSync(file).isFile()) throw new ConfigError(`${file} is not a file; .env holds VARIABLE=value lines`);
  try {
    // Node's own parser: VAR=value lines, # comments, quoted values; set variables are kept.
    process.loadEnvFile(file);
  } catch (error) {
    throw new ConfigError(`cannot read ${file}: ${(error as Error).message}`);
  }
  return file;
}

function int(
  env: Record<string, string | undefined>,
  name: string,
  fallback: number,
  min: number,
  max: number,
): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max)
    throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  return v;
}

function list(raw: string | undefined): string[] {
  return (raw ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** `name:token` entries; a name is what others see and what ADMINS names (web:<name>). */
function webAccounts(env: Readonly<Record<string, string | undefined>>): { name: string; token: string }[] {
  const entries: Array<[where: string, entry: string]> = list(env.WEB_USERS).map((e) => ['WEB_USERS', e]);
  const file = env.WEB_USERS_FILE?.trim();
  if (file) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new ConfigError(
        `WEB_USERS_FILE ${file} cannot be read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`,
      );
    }
    text.split('\n').forEach((line, i) => {
      const entry = line.trim();
      if (entry && !entry.startsWith('#')) entries.push([`WEB_USERS_FILE line ${i + 1}`, entry]);
    });
  }
  const accessToken = env.ACCESS_TOKEN?.trim();
  if (accessToken) entries.push(['ACCESS_TOKEN', `shared:${accessToken}`]);
  const accounts: { name: string; token: string }[] = [];
  for (const [where, entry] of entries) {
    const colon = entry.indexOf(':');
    const name = entry.slice(0, colon);
    const token = entry.slice(colon + 1);
    if (colon < 0 || !/^[a-z0-9_.-]{1,32}$/.test(name))
      throw new ConfigError(
        `${where}: entries look like alice:<token>, with a name of 1-32 lower-case letters, digits, . _ -; got "${entry.slice(0, 40)}"`,
      );
    if (token.length < 16)
      throw new ConfigError(
        `${where}: the token of ${name} has ${token.length} characters; use at least 16 (e.g. openssl rand -hex 16)`,
      );
    if (accounts.some((a) => a.name === name))
      throw new ConfigError(
        `${where}: the web account ${name} is given twice${name === 'shared' ? ' (ACCESS_TOKEN is the account "shared")' : ''}`,
      );
    if (accounts.some((a) => a.token === token))
      throw new ConfigError(`${where}: ${name} has the same token as another account; each person needs their own`);
    accounts.push({ name, token });
  }
  return accounts;
}

function redisUrl(value: string | undefined): string | undefined {
  const url = value?.trim();
  if (!url) return undefined;
  try {
    redisConnection(url);
  } catch (error) {
    throw new ConfigError((error as Error).message);
  }
  return url;
}

export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): BotConfig {
  const host = env.HOST?.trim() || '127.0.0.1';
  const admins = list(env.ADMINS);
  for (const a of admins)
    if (!/^[a-z]+:.+$/.test(a))
      throw new ConfigError(`ADMINS entries look like discord:1234 or slack:U123, got "${a}"`);
  const timeLimit = int(env, 'JOB_TIME_LIMIT_S', 0, 0, 7 * 86_400);
  return {
    dataDir: dataDir(env),
    host,
    port: int(env, 'PORT', 8080, 0, 65_535),
    accessToken: env.ACCESS_TOKEN?.trim() || undefined,
    webAccounts: webAccounts(env),
    sessionSecret: env.SESSION_SECRET?.trim() || undefined,
    admins,
    dailyQuota: int(env, 'DAILY_QUOTA', 200, 1, 1_000_000),
    maxActiveJobs: int(env, 'MAX_ACTIVE_JOBS', 3, 1, 1000),
    maxQueued: int(env, 'MAX_QUEUED', 100, 1, 100_000),
    ratePerMinute: int(env, 'RATE_LIMIT_PER_MINUTE', 10, 1, 10_000),
    maxPromptLength: int(env, 'MAX_PROMPT_LENGTH', 200, 1, 1000),
    maxUploadBytes: int(env, 'MAX_UPLOAD_BYTES', defaultInputLimits.maxUploadBytes, 1024, 512 * 1024 * 1024),
    maxUploadPixels: int(env, 'MAX_UPLOAD_PIXELS', defaultInputLimits.maxUploadPixels, 64, 268_435_456),
    jobTimeLimitMs: timeLimit > 0 ? timeLimit * 1000 : undefined,
    blocklist: list(env.PROMPT_BLOCKLIST),
    redisUrl: redisUrl(env.REDIS_URL),
    redisPrefix: env.REDIS_PREFIX?.trim() || undefined,
    env,
  };
}
