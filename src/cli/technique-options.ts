// The Part A commands (imagine, denoise, edit, inpaint, anagram, hybrid) on the command line, made from
// their technique definitions (src/techniques): one flag per option (i_start → --i-start), checked by
// the same validation as chat, normalized by the same function, then run as a job in this process.
// CLI-only: --checkpoint (a file or run folder), --digit-index (an embedded MNIST digit as input), --out,
// --noise (a recorded noise stream replayed instead of the seed's draws, e.g. diffusers' to compare with it).
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { randomInt } from 'node:crypto';
import { Option, type Command } from 'commander';
import {
  checkpointModel,
  modelEntry,
  MODEL_IDS,
  parseModelId,
  preferredModel,
  type ModelEntry,
} from '../engine/models/registry.js';
import type { Attachment, CommandDefinition, OptionValue } from '../commands/contract.js';
import { techniqueDefinition } from '../commands/technique-command.js';
import { validateOptions } from '../commands/options.js';
import { takesImage, withInputs, type TechniqueInputs } from '../techniques/inputs.js';
import { describeDefault, type TechniqueOption } from '../techniques/options.js';
import type { Technique } from '../techniques/technique.js';
import { NoiseFileError, ReplayNoise } from '../engine/sampling/noise-file.js';
import { openCliStore, runCliJob, storeUpload } from './job-client.js';
import { parseIntOption } from './errors.js';
import { InputError } from '../engine/errors.js';

const VALUE_NAMES: Record<TechniqueOption['kind'], string> = {
  string: '<text>',
  integer: '<n>',
  number: '<x>',
  integers: '<list>',
  image: '<file>',
};

function flagOf(o: TechniqueOption): string {
  return `--${o.name.replace(/_/g, '-')}`;
}

function cliHelp(o: TechniqueOption): string {
  if (o.name === 'model')
    return `${MODEL_IDS.join(' | ')} (default ${describeDefault(o)}; with --checkpoint: ${checkpointModel().id})`;
  const range =
    o.kind === 'integers'
      ? `, each ${o.min}–${o.max}`
      : (o.kind === 'integer' || o.kind === 'number') && o.min !== undefined
        ? `, ${o.min}–${o.max}`
        : '';
  const d = describeDefault(o);
  const choices = o.choices ? `: ${o.choices.map((c) => c.value).join(', ')}` : '';
  return `${o.help}${range}${d !== undefined ? ` (default ${d})` : ''}${choices}`;
}

function readFileOption(flag: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new InputError(
      `cannot read ${flag} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
    );
  }
}

/** A file named on the command line as the chat's upload, so the same validation reads it. */
function fileAttachment(path: string, bytes: Buffer): Attachment {
  return { name: path, size: bytes.length, fetch: async () => bytes };
}

interface Flags {
  [attribute: string]: string | undefined;
}

/** `illusionist <technique>`: its flags, generated from the options list. */
export function registerTechnique(program: Command, t: Technique): void {
  const cmd = program.command(t.name).description(t.description);
  const flags = t.options.map((o) => ({
    o,
    flag: new Option(`${flagOf(o)} ${o.choices || o.name === 'model' ? '<name>' : VALUE_NAMES[o.kind]}`, cliHelp(o)),
  }));
  for (const { flag } of flags) cmd.addOption(flag);
  const checkpoints = checkpointModel();
  if (takesImage(t))
    cmd.option('--digit-index <n>', `${checkpoints.id} without --image: digit n of the embedded MNIST set (0–9999)`);
  cmd.option('--checkpoint <ref>', `${checkpoints.id}: committed model name, .safetensors file or training run folder`);
  if (t.name !== 'denoise')
    cmd.option(
      '--noise <file>',
      'replay recorded noise instead of the seed: a safetensors file of noise_000, noise_001, … in draw order (e.g. a diffusers run; with --thresholding dynamic to match its scheduler)',
    );
  cmd.requiredOption('--out <dir>', 'output folder');
  cmd.action(async (o: Flags) => {
    const raw: Record<string, OptionValue> = {};
    for (const { o: option, flag } of flags) {
      const v = o[flag.attributeName()];
      if (v === undefined) continue;
      raw[option.name] = option.kind === 'image' ? fileAttachment(v, readFileOption(flagOf(option), v)) : v;
    }
    await runTechnique(t, raw, { digitIndex: o.digitIndex, checkpoint: o.checkpoint, noise: o.noise, out: o.out! });
  });
}

/** The model asked for: --model, else the checkpoint model with --checkpoint, else the first installed. */
function cliModel(name: string | undefined, checkpoint: string | undefined): ModelEntry {
  if (name !== undefined) return modelEntry(parseModelId(name));
  if (checkpoint !== undefined) return checkpointModel();
  return preferredModel((m) => m.installed());
}

/**
 * Checks the options as chat does, resolves the model and checks it is there, stores the input files
 * as artifacts (so `jobs rerun` finds them), enqueues the normalized job, runs it and writes its
 * files and job.json to --out.
 */
export async function runTechnique(
  t: Technique,
  raw: Record<string, OptionValue>,
  cli: { digitIndex?: string | undefined; checkpoint?: string | undefined; noise?: string | undefined; out: string },
): Promise<void> {
  let definition: CommandDefinition = techniqueDefinition(t);
  if (takesImage(t)) {
    if (raw.image !== undefined && cli.digitIndex !== undefined)
      throw new InputError('give --image or --digit-index, not both');
    if (raw.image === undefined && cli.digitIndex === undefined) {
      throw new InputError(
        checkpointModel().supports.digitInputs
          ? 'give an input: --image FILE or --digit-index N (a digit of the embedded MNIST set)'
          : 'give an input image: --image FILE',
      );
    }
    // The embedded digit stands in for the required upload.
    definition = {
      ...definition,
      options: definition.options.map((d) => (d.name === 'image' ? { ...d, required: false } : d)),
    };
  }
  const values = validateOptions(definition, raw);
  const model = cliModel(typeof values.model === 'string' ? values.model : undefined, cli.checkpoint);
  const source = model.locate({ checkpoint: cli.checkpoint });
  const params = t.normalize(values, model);
  const digitIndex = cli.digitIndex !== undefined ? parseIntOption('digit-index', cli.digitIndex, 0, 9999) : undefined;
  if (digitIndex !== undefined && !model.supports.digitInputs)
    throw new InputError(
      `--digit-index picks an MNIST digit for --model ${checkpointModel().id}; with ${model.id} give --image`,
    );
  const seed = typeof values.seed === 'number' ? values.seed : randomInt(0, 2 ** 31);
  const noise = cli.noise === undefined ? undefined : checkedNoiseFile(cli.noise);
  const store = openCliStore();
  try {
    const upload = async (name: string): Promise<TechniqueInputs['mask']> => {
      const a = raw[name] as Attachment | undefined;
      return a ? storeUpload(store, await a.fetch(), a.name) : undefined;
    };
    const inputs: TechniqueInputs = {
      image: digitIndex !== undefined ? { digitIndex } : await upload('image'),
      mask: await upload('mask'),
    };
    const full = {
      ...withInputs(t, params, model, inputs),
      ...(model.supports.checkpoints ? { checkpointPath: source } : {}),
      ...(noise !== undefined ? { noise } : {}),
    };
    const { jobId, result, paths } = await runCliJob(
      store,
      { command: t.name, params: full, seed, model: model.id },
      cli.out,
    );
    const s = result.metrics.seconds;
    process.stdout.write(
      `${t.name} (${model.id}, seed ${seed})${s !== undefined ? ` in ${s.toFixed(2)} s` : ''} → ${paths.join(', ')} · job #${jobId}\n`,
    );
  } finally {
    store.close();
  }
}

/** The --noise file as an absolute path (the job runs in another process), its noise_NNN tensors checked now. */
function checkedNoiseFile(path: string): string {
  const abs = resolve(path);
  try {
    ReplayNoise.fromFile(abs);
  } catch (err) {
    if (err instanceof NoiseFileError) throw new InputError(`--noise: ${err.message}`);
    throw new InputError(`--noise ${path}: ${(err as Error).message}`);
  }
  return abs;
}
