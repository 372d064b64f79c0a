// The bot's configuration, read from the environment and an optional `.env` file in the working
// directory (git-ignored; the environment wins over it). Tokens are never logged; every variable
// is documented in .env.example.
import { existsSync, statSync } from 'node:fs';
import { resolve } from 'node:path';
import { dataDir } from '../store/data-dir.js';

export interface BotConfig {
  readonly dataDir: string;
  readonly host: string;
  readonly port: number;
  readonly accessToken: string | undefined;
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

function int(env: Record<string, string | undefined>, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name];
  if (raw === undefined || raw.trim() === '') return fallback;
  const v = Number(raw);
  if (!Number.isInteger(v) || v < min || v > max) throw new ConfigError(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
  return v;
}

function list(raw: string | undefined): string[] {
  return (raw ?? '').split(',').map((s) => s.trim()).filter(Boolean);
}

export function loadConfig(env: Readonly<Record<string, string | undefined>> = process.env): BotConfig {
  const host = env.HOST?.trim() || '127.0.0.1';
  const admins = list(env.ADMINS);
  for (const a of admins) if (!/^[a-z]+:.+$/.test(a)) throw new ConfigError(`ADMINS entries look like discord:1234 or slack:U123, got "${a}"`);
  const timeLimit = int(env, 'JOB_TIME_LIMIT_S', 0, 0, 7 * 86_400);
  return {
    dataDir: dataDir(env),
    host,
    port: int(env, 'PORT', 8080, 0, 65_535),
    accessToken: env.ACCESS_TOKEN?.trim() || undefined,
    admins,
    dailyQuota: int(env, 'DAILY_QUOTA', 200, 1, 1_000_000),
    maxActiveJobs: int(env, 'MAX_ACTIVE_JOBS', 3, 1, 1000),
    maxQueued: int(env, 'MAX_QUEUED', 100, 1, 100_000),
    ratePerMinute: int(env, 'RATE_LIMIT_PER_MINUTE', 10, 1, 10_000),
    maxPromptLength: int(env, 'MAX_PROMPT_LENGTH', 200, 1, 1000),
    maxUploadBytes: int(env, 'MAX_UPLOAD_BYTES', 8 * 1024 * 1024, 1024, 512 * 1024 * 1024),
    maxUploadPixels: int(env, 'MAX_UPLOAD_PIXELS', 4096 * 4096, 64, 268_435_456),
    jobTimeLimitMs: timeLimit > 0 ? timeLimit * 1000 : undefined,
    blocklist: list(env.PROMPT_BLOCKLIST),
    env,
  };
}
