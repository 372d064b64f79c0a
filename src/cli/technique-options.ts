// Options every Part A command shares (--model, --checkpoint, --seed, --out, sampling settings,
// input images) and the one runner that enqueues the job, runs it in the engine worker and writes the files.
import { readFileSync } from 'node:fs';
import { randomInt } from 'node:crypto';
import type { Command } from 'commander';
import { MAX_SEED } from '../engine/random.js';
import type { ImageSource } from '../engine/techniques/inputs.js';
import { locateModel, MODEL_IDS, parseModelId, type ModelId } from '../engine/techniques/models.js';
import type { PartACommand } from '../jobs/part-a-jobs.js';
import { openCliStore, runCliJob, storeUpload } from './job-client.js';
import { DEFAULT_STEPS, MAX_STEPS } from '../engine/techniques/timesteps.js';
import { UsageError, parseFloatOption, parseIntOption } from './errors.js';

export interface CommonCliOptions {
  model: string;
  checkpoint?: string;
  seed?: string;
  out: string;
}

export interface SamplingCliOptions {
  steps: string;
  guidance: string;
}

export function addCommonOptions(cmd: Command): Command {
  return cmd
    .option('--model <name>', `denoiser: ${MODEL_IDS.join(' | ')}`, 'mnist-flow')
    .option('--checkpoint <ref>', 'mnist-flow: committed model name, .safetensors file or training run folder')
    .option('--seed <n>', 'random seed (default: a new one, printed and recorded in job.json)')
    .requiredOption('--out <dir>', 'output folder');
}

export function addSamplingOptions(cmd: Command, guidance = true): Command {
  cmd.option('--steps <n>', `denoising steps from t = 990 to 0 (${DEFAULT_STEPS} = the seed's stride of 30)`, String(DEFAULT_STEPS));
  if (guidance) cmd.option('--guidance <g>', 'classifier-free guidance scale γ', '7');
  return cmd;
}

export function addImageOptions(cmd: Command): Command {
  return cmd
    .option('--image <file>', 'input image (PNG, JPEG, WebP, GIF, TIFF or AVIF)')
    .option('--digit-index <n>', 'mnist-flow without --image: digit n of the embedded MNIST set (0–9999)');
}

export function parseSeed(text: string | undefined): number {
  return text === undefined ? randomInt(0, 2 ** 31) : parseIntOption('seed', text, 0, MAX_SEED);
}

export function parseSampling(o: SamplingCliOptions): { steps: number; guidance: number } {
  return { steps: parseIntOption('steps', o.steps, 1, MAX_STEPS), guidance: parseFloatOption('guidance', o.guidance, 0, 50) };
}

/** "1,3,5" → [1, 3, 5], each checked against [min, max]. */
export function parseIntList(name: string, text: string, min: number, max: number): number[] {
  const parts = text.split(',').map((s) => s.trim());
  if (parts.some((p) => p === '')) throw new UsageError(`--${name} must be a comma-separated list of integers from ${min} to ${max}, got '${text}'`);
  return parts.map((p) => parseIntOption(name, p, min, max));
}

export function readFileOption(name: string, path: string): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new UsageError(`cannot read --${name} ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** --image, or for mnist-flow --digit-index; one of them is required (no silent default input). */
export function parseImageSource(model: ModelId, o: { image?: string; digitIndex?: string }): ImageSource {
  if (o.image !== undefined && o.digitIndex !== undefined) throw new UsageError('give --image or --digit-index, not both');
  if (o.image !== undefined) return { bytes: readFileOption('image', o.image), name: o.image };
  if (o.digitIndex !== undefined) {
    if (model !== 'mnist-flow') throw new UsageError('--digit-index picks an MNIST digit for --model mnist-flow; with deepfloyd-if give --image');
    return { digitIndex: parseIntOption('digit-index', o.digitIndex, 0, 9999) };
  }
  throw new UsageError(model === 'mnist-flow' ? 'give an input: --image FILE or --digit-index N (a digit of the embedded MNIST set)' : 'give an input image: --image FILE');
}

export function parseModelOption(o: CommonCliOptions): ModelId {
  return parseModelId(o.model);
}

/** The picture and mask files a job reads, as given on the command line. */
export interface CliInputs {
  image?: ImageSource;
  mask?: { bytes: Buffer; name?: string };
}

/**
 * Runs a Part A command as a job: checks the model is there, stores the input files as artifacts
 * (so `jobs rerun` finds them), enqueues the job with the resolved checkpoint, runs it, and writes
 * its files and job.json to --out.
 */
export async function runTechnique(command: PartACommand, model: ModelId, o: CommonCliOptions, seed: number, params: Record<string, unknown>, inputs: CliInputs = {}): Promise<void> {
  const source = locateModel(model, o.checkpoint !== undefined ? { checkpoint: o.checkpoint } : {});
  const store = openCliStore();
  try {
    const files: Record<string, unknown> = {};
    const { image, mask } = inputs;
    if (image && 'digitIndex' in image) files.digitIndex = image.digitIndex;
    else if (image) files.image = await storeUpload(store, image.bytes, image.name ?? 'image');
    if (mask) files.mask = await storeUpload(store, mask.bytes, mask.name ?? 'mask');
    const full = { ...params, ...files, model, ...(model === 'mnist-flow' ? { checkpointPath: source } : {}) };
    const { jobId, result, paths } = await runCliJob(store, { command, params: full, seed, model }, o.out);
    const s = result.metrics.seconds;
    process.stdout.write(`${command} (${model}, seed ${seed})${s !== undefined ? ` in ${s.toFixed(2)} s` : ''} → ${paths.join(', ')} · job #${jobId}\n`);
  } finally {
    store.close();
  }
}
