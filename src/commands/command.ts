// What a command module exports: its definition, and either `parse` (options → the job to
// enqueue) for generating commands or `execute` (options → one reply) for the others.
import type { JobKind, QueueClient } from '../jobs/index.js';
import type { Store, Who } from '../store/index.js';
import type { Attachment, CommandDefinition, OptionDef, OptionValue, Reply, Requester } from './contract.js';
import type { ModelCatalog } from './models.js';
import { toOptionDef, type ParsedOptions } from './options.js';
import { seedOption as techniqueSeedOption, STEPS } from '../techniques/common.js';
import { UPLOAD_LIMITS } from '../engine/techniques/inputs.js';

/** Limits on what users may send; configured by the operator (see .env.example). */
export interface InputLimits {
  /** Characters per prompt. */
  readonly maxPromptLength: number;
  /** Bytes per uploaded image. */
  readonly maxUploadBytes: number;
  /** Width × height per uploaded image (decompression bombs are refused from the header). */
  readonly maxUploadPixels: number;
}

export const defaultInputLimits: InputLimits = {
  maxPromptLength: 200,
  maxUploadBytes: UPLOAD_LIMITS.maxBytes,
  maxUploadPixels: UPLOAD_LIMITS.maxPixels,
};

/**
 * An uploaded image after checks: shrunk to the bot's working size (UPLOAD_WORKING_SIZE), re-encoded
 * as PNG and kept as an artifact the worker reads.
 */
export interface ImageRef {
  readonly sha256: string;
  /** Absolute path of the artifact file. */
  readonly path: string;
  /** Of the stored PNG. */
  readonly width: number;
  readonly height: number;
  /** Of the upload as the user sent it (what a box in "pixels of your image" refers to). */
  readonly sourceWidth: number;
  readonly sourceHeight: number;
}

export interface CommandContext {
  readonly requester: Requester;
  readonly who: Who;
  readonly isAdmin: boolean;
  readonly limits: InputLimits;
  readonly models: ModelCatalog;
  readonly store: Store;
  readonly queue: QueueClient;
  /** Every command, for /help. */
  readonly commands: ReadonlyMap<string, Command>;
  /** Where training runs write their checkpoints. */
  readonly dataDir: string;
  /** Fetches, checks (bytes, pixels, format) and stores an uploaded image. */
  saveImage(attachment: Attachment, option: string): Promise<ImageRef>;
  /** A fresh random seed. */
  newSeed(): number;
}

/** The job a generating command asks for. */
export interface JobPlan {
  readonly params: Readonly<Record<string, unknown>>;
  readonly seed: number;
  readonly model?: string | undefined;
  readonly checkpointId?: number | undefined;
  readonly kind?: JobKind | undefined;
  readonly timeLimitMs?: number | undefined;
}

export interface JobCommand {
  readonly definition: CommandDefinition;
  /** Options holding free text that the blocklist and the prompt length apply to. */
  readonly promptOptions?: readonly string[];
  parse(options: ParsedOptions, ctx: CommandContext): Promise<JobPlan>;
  /** The parameters worth showing in a caption, in order ("digit 7 · steps 50"). */
  describe(params: Readonly<Record<string, unknown>>): string;
  /** Parameters for "same seed, more steps"; undefined when the command has no steps to add. */
  moreSteps?(params: Readonly<Record<string, unknown>>): Record<string, unknown> | undefined;
  /**
   * The request that makes variations of the job's first picture (SDEdit of it, keeping its prompt
   * and model); absent when the first output is not a single picture that variations make sense of.
   */
  variation?(
    params: Readonly<Record<string, unknown>>,
    picture: Attachment,
  ): { readonly command: string; readonly options: Record<string, OptionValue> };
  /** What the job was asked to show, for captions, /job and the gallery ("a cat", "6 / 9", "digit 7"); '' for none. */
  promptOf?(params: Readonly<Record<string, unknown>>): string;
  /** Parameters kept from other people (server paths, upload hashes): not in a result's fields nor /job's text. */
  readonly hiddenParams?: readonly string[];
}

export interface ReplyCommand {
  readonly definition: CommandDefinition;
  execute(options: ParsedOptions, ctx: CommandContext): Promise<Reply>;
}

export type Command = JobCommand | ReplyCommand;

export function isJobCommand(command: Command): command is JobCommand {
  return 'parse' in command;
}

/** The generating command named `name`, if there is one (a job's row names its command). */
export function jobCommandOf(commands: ReadonlyMap<string, Command>, name: string): JobCommand | undefined {
  const c = commands.get(name);
  return c && isJobCommand(c) ? c : undefined;
}

/** The prompt a job of `name` was asked to show; '' when its command has none (or is gone). */
export function promptOfJob(commands: ReadonlyMap<string, Command>, name: string, params: unknown): string {
  return jobCommandOf(commands, name)?.promptOf?.((params ?? {}) as Record<string, unknown>) ?? '';
}

/**
 * The parameters of a job that anyone may see, and the hidden ones apart. A job whose command is
 * gone (renamed since) shows none: nothing says which of its parameters are safe to show.
 */
export function splitParams(
  command: JobCommand | undefined,
  params: unknown,
): { shown: Record<string, unknown>; hidden: Record<string, unknown> } {
  const shown: Record<string, unknown> = {};
  const hidden: Record<string, unknown> = {};
  const keep = new Set(command?.hiddenParams ?? []);
  for (const [k, v] of Object.entries((params ?? {}) as Record<string, unknown>))
    (!command || keep.has(k) ? hidden : shown)[k] = v;
  return { shown, hidden };
}

/** The seed option of every generating command, as the techniques define it. */
export const seedOption: OptionDef = toOptionDef(techniqueSeedOption);

/** The seed option's value or a fresh one. */
export function seedOf(options: ParsedOptions, ctx: CommandContext): number {
  const s = options.seed;
  return typeof s === 'number' ? s : ctx.newSeed();
}

/** "same seed, more steps": doubles `steps` up to the limit; undefined once at the limit. */
export function doubleSteps(
  params: Readonly<Record<string, unknown>>,
  fallback: number = STEPS.default,
  max: number = STEPS.max,
): Record<string, unknown> | undefined {
  const steps = typeof params.steps === 'number' ? params.steps : fallback;
  if (steps >= max) return undefined;
  return { ...params, steps: Math.min(max, steps * 2) };
}

/** "key value · key value" of the given keys that are present. */
export function describeParams(params: Readonly<Record<string, unknown>>, keys: readonly string[]): string {
  return keys
    .filter((k) => params[k] !== undefined && params[k] !== null)
    .map((k) => {
      const v = params[k];
      if (typeof v === 'string') return `${k} "${v}"`;
      if (Array.isArray(v)) return `${k} ${v.map((x) => (typeof x === 'string' ? `"${x}"` : String(x))).join(' / ')}`;
      return `${k} ${String(v)}`;
    })
    .join(' · ');
}
