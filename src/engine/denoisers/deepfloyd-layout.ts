// Where an operator's DeepFloyd IF downloads are and what they hold: the Hugging Face repo folders
// (DeepFloyd/IF-I-XL-v1.0 etc.) as `huggingface-cli download` leaves them, read in place. Finds the
// stage I / stage II folders, picks the weight variant per component, reads the scheduler configs
// (refusing what the engine does not compute) and says, per missing piece, the download command.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { basename, dirname, join, resolve } from 'node:path';
import { SafetensorsFolder } from './deepfloyd/hf-safetensors.js';
import { parseT5Config } from './deepfloyd/t5-encoder.js';
import { parseUnetConfig } from './deepfloyd/unet-config.js';

/** Published repos, largest first: the order a folder scan prefers. */
export const STAGE_I_REPOS = ['IF-I-XL-v1.0', 'IF-I-L-v1.0', 'IF-I-M-v1.0'] as const;
export const STAGE_II_REPOS = ['IF-II-L-v1.0', 'IF-II-M-v1.0'] as const;

export type Variant = 'fp32' | 'fp16';
export type VariantChoice = 'auto' | Variant;

export const VARIANT_CHOICES: readonly VariantChoice[] = ['auto', 'fp32', 'fp16'];

export function parseVariant(value: string | undefined, source: string): VariantChoice {
  if (value === undefined || value === '') return 'auto';
  if ((VARIANT_CHOICES as readonly string[]).includes(value)) return value as VariantChoice;
  throw new RangeError(`${source} is "${value}"; allowed: ${VARIANT_CHOICES.join(', ')}`);
}

/** The files of one component an `--include` downloads, per variant (the repos also carry .bin and 8bit files). */
const INCLUDES = {
  modelIndex: () => ['model_index.json'],
  scheduler: () => ['scheduler/*'],
  imageNoisingScheduler: () => ['image_noising_scheduler/*'],
  tokenizer: () => ['tokenizer/*'],
  unet: (v: Variant) => [
    'unet/config.json',
    v === 'fp16' ? 'unet/diffusion_pytorch_model.fp16.safetensors' : 'unet/diffusion_pytorch_model.safetensors',
  ],
  textEncoder: (v: Variant) =>
    v === 'fp16'
      ? [
          'text_encoder/config.json',
          'text_encoder/model.safetensors.index.fp16.json',
          'text_encoder/model.fp16*.safetensors',
        ]
      : ['text_encoder/config.json', 'text_encoder/model.safetensors.index.json', 'text_encoder/model-*.safetensors'],
} as const;

export type Piece = keyof typeof INCLUDES;

/** `huggingface-cli download DeepFloyd/<repo> --include … --local-dir <dir>` for the given pieces. */
export function downloadCommand(
  repo: string,
  dir: string,
  pieces: readonly Piece[],
  variant: Variant = 'fp16',
): string {
  const include = pieces.flatMap((p) => INCLUDES[p](variant)).map((f) => `"${f}"`);
  return `huggingface-cli download DeepFloyd/${repo} --include ${include.join(' ')} --local-dir ${dir}`;
}

export const STAGE_I_PIECES: readonly Piece[] = ['modelIndex', 'scheduler', 'tokenizer', 'unet', 'textEncoder'];
export const STAGE_II_PIECES: readonly Piece[] = ['modelIndex', 'scheduler', 'imageNoisingScheduler', 'unet'];

/** The repo a folder was downloaded from, by its name (the tiny test folders fall back to the largest). */
export function repoOf(dir: string, stage: 'I' | 'II'): string {
  const name = basename(resolve(dir));
  const known: readonly string[] = stage === 'I' ? STAGE_I_REPOS : STAGE_II_REPOS;
  return known.includes(name) ? name : known[0]!;
}

function readJson(path: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`${path}: not valid JSON (${(err as Error).message})`);
  }
  if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error(`${path}: expected a JSON object`);
  return v as Record<string, unknown>;
}

/** model_index.json's pipeline class ('IFPipeline', 'IFSuperResolutionPipeline'), or undefined. */
export function pipelineClass(dir: string): string | undefined {
  const p = join(dir, 'model_index.json');
  if (!existsSync(p)) return undefined;
  const c = readJson(p)._class_name;
  return typeof c === 'string' ? c : undefined;
}

/**
 * The stage I and stage II folders under `parent` (e.g. ILLUSIONIST_MODELS/deepfloyd-if): sub-folders
 * whose model_index.json names IFPipeline / IFSuperResolutionPipeline, the published repo names
 * first (XL, L, M), then the others by name.
 */
export function scanFolders(parent: string): { stageI: string[]; stageII: string[] } {
  const found = { stageI: [] as string[], stageII: [] as string[] };
  if (!existsSync(parent) || !statSync(parent).isDirectory()) return found;
  const rank = (name: string, known: readonly string[]): number =>
    known.includes(name) ? known.indexOf(name) : known.length;
  const names = readdirSync(parent).sort();
  for (const name of names) {
    const dir = join(parent, name);
    let cls: string | undefined;
    try {
      cls = statSync(dir).isDirectory() ? pipelineClass(dir) : undefined;
    } catch {
      cls = undefined;
    }
    if (cls === 'IFPipeline') found.stageI.push(dir);
    else if (cls === 'IFSuperResolutionPipeline') found.stageII.push(dir);
  }
  found.stageI.sort((a, b) => rank(basename(a), STAGE_I_REPOS) - rank(basename(b), STAGE_I_REPOS));
  found.stageII.sort((a, b) => rank(basename(a), STAGE_II_REPOS) - rank(basename(b), STAGE_II_REPOS));
  return found;
}

const UNET_FILES: Record<Variant, string> = {
  fp32: 'diffusion_pytorch_model.safetensors',
  fp16: 'diffusion_pytorch_model.fp16.safetensors',
};

/** The UNet weights to load: fp32 when present (or asked for), else fp16; undefined when neither is there. */
export function unetVariant(unetDir: string, choice: VariantChoice = 'auto'): Variant | undefined {
  const order: Variant[] = choice === 'auto' ? ['fp32', 'fp16'] : [choice];
  return order.find((v) => existsSync(join(unetDir, UNET_FILES[v])));
}

export function unetWeightsFile(unetDir: string, variant: Variant): string {
  return join(unetDir, UNET_FILES[variant]);
}

/** The text encoder weights to load, by the same rule; undefined when neither variant's files are there. */
export function textEncoderVariant(encDir: string, choice: VariantChoice = 'auto'): Variant | undefined {
  const order: Variant[] = choice === 'auto' ? ['fp32', 'fp16'] : [choice];
  return order.find((v) =>
    SafetensorsFolder.candidates('model', v === 'fp16' ? 'fp16' : undefined).some((f) => existsSync(join(encDir, f))),
  );
}

/**
 * Names the text encoder for the embedding cache: its config, its weight index (or file header size)
 * and variant, hashed, so embeddings of another T5 (or of its fp16 rounding) are never reused.
 */
export function textEncoderId(encDir: string, variant: Variant): string {
  const h = createHash('sha256');
  h.update(readFileSync(join(encDir, 'config.json')));
  for (const f of SafetensorsFolder.candidates('model', variant === 'fp16' ? 'fp16' : undefined)) {
    const p = join(encDir, f);
    if (!existsSync(p)) continue;
    h.update(f);
    h.update(f.endsWith('.json') ? readFileSync(p) : String(statSync(p).size));
    break;
  }
  return `t5-${variant}-${h.digest('hex').slice(0, 12)}`;
}

/** What the engine's DDPM loop computes; anything else in scheduler_config.json is refused. */
export interface IfSchedulerConfig {
  numTrainTimesteps: number;
  betaSchedule: 'squaredcos_cap_v2';
  varianceType: 'learned_range';
  predictionType: 'epsilon';
  /** diffusers' dynamic thresholding (IF's own setting; the write-up's loop leaves it off). */
  thresholding: boolean;
  dynamicThresholdingRatio: number;
  sampleMaxValue: number;
  clipSample: boolean;
  clipSampleRange: number;
}

/**
 * Reads a DDPMScheduler config. `learnedRange` false: a noising-only scheduler (stage II's
 * image_noising_scheduler), whose variance and prediction settings are never used.
 */
export function readSchedulerConfig(path: string, opts: { learnedRange?: boolean } = {}): IfSchedulerConfig {
  const j = readJson(path);
  const refuse = (key: string, allowed: string): never => {
    throw new Error(
      `${path}: ${key} is ${JSON.stringify(j[key])}; this engine computes only ${allowed} (DeepFloyd IF's own settings)`,
    );
  };
  if (j._class_name !== undefined && j._class_name !== 'DDPMScheduler') refuse('_class_name', '"DDPMScheduler"');
  if (j.beta_schedule !== 'squaredcos_cap_v2') refuse('beta_schedule', '"squaredcos_cap_v2"');
  if (j.trained_betas !== undefined && j.trained_betas !== null) refuse('trained_betas', 'null');
  if (j.rescale_betas_zero_snr === true) refuse('rescale_betas_zero_snr', 'false');
  const T = j.num_train_timesteps ?? 1000;
  if (typeof T !== 'number' || !Number.isInteger(T) || T < 2) refuse('num_train_timesteps', 'a whole number ≥ 2');
  if (opts.learnedRange ?? true) {
    if (j.variance_type !== 'learned_range') refuse('variance_type', '"learned_range"');
    if ((j.prediction_type ?? 'epsilon') !== 'epsilon') refuse('prediction_type', '"epsilon"');
  }
  const num = (key: string, fallback: number): number => {
    const v = j[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) refuse(key, 'a positive number');
    return v as number;
  };
  const bool = (key: string, fallback: boolean): boolean => {
    const v = j[key] ?? fallback;
    if (typeof v !== 'boolean') refuse(key, 'true or false');
    return v as boolean;
  };
  return {
    numTrainTimesteps: T as number,
    betaSchedule: 'squaredcos_cap_v2',
    varianceType: 'learned_range',
    predictionType: 'epsilon',
    thresholding: bool('thresholding', false),
    dynamicThresholdingRatio: num('dynamic_thresholding_ratio', 0.995),
    sampleMaxValue: num('sample_max_value', 1),
    clipSample: bool('clip_sample', true),
    clipSampleRange: num('clip_sample_range', 1),
  };
}

/** One component of a folder as the check command reports it. */
export interface ComponentReport {
  name: string;
  path: string;
  ok: boolean;
  /** Key facts of its config, or why it cannot be used. */
  facts: string[];
  variant?: Variant;
  parameters?: number;
  weightBytes?: number;
  /** The download command that fetches what is missing. */
  fix?: string;
}

export interface FolderReport {
  stage: 'I' | 'II';
  dir: string;
  repo: string;
  components: ComponentReport[];
  /** Every component this stage needs is there and reads. */
  ok: boolean;
}

function tensorTotals(folder: SafetensorsFolder): { parameters: number; bytes: number } {
  let parameters = 0;
  let bytes = 0;
  for (const n of folder.names) {
    const t = folder.info(n);
    parameters += t.shape.reduce((a, b) => a * b, 1);
    bytes += t.byteLength;
  }
  return { parameters, bytes };
}

function probe(c: ComponentReport, run: () => void): ComponentReport {
  try {
    run();
  } catch (err) {
    c.ok = false;
    c.facts.push((err as Error).message.split('\n')[0]!);
  }
  return c;
}

function unetReport(dir: string, repo: string, choice: VariantChoice, stageII: boolean): ComponentReport {
  const path = join(dir, 'unet');
  const c: ComponentReport = { name: 'unet', path, ok: true, facts: [] };
  return probe(c, () => {
    const cfgPath = join(path, 'config.json');
    const variant = existsSync(cfgPath) ? unetVariant(path, choice) : undefined;
    if (!existsSync(cfgPath) || !variant) {
      c.ok = false;
      c.facts.push(
        !existsSync(cfgPath)
          ? 'config.json missing'
          : `no ${choice === 'auto' ? 'diffusion_pytorch_model(.fp16).safetensors' : UNET_FILES[choice]}`,
      );
      c.fix = downloadCommand(repo, dir, ['unet'], choice === 'fp32' ? 'fp32' : 'fp16');
      return;
    }
    const cfg = readJson(cfgPath);
    // The graph builder's own reader: a config it would refuse is reported here, before any load.
    parseUnetConfig(cfg);
    const wantIn = stageII ? 6 : 3;
    c.facts.push(
      `in ${String(cfg.in_channels)} → out ${String(cfg.out_channels)} channels`,
      `block_out_channels [${String(cfg.block_out_channels)}]`,
      `sample_size ${String(cfg.sample_size)}`,
      `class_embed_type ${String(cfg.class_embed_type ?? null)}`,
      `encoder_hid_dim ${String(cfg.encoder_hid_dim ?? cfg.cross_attention_dim)}`,
    );
    if (cfg.in_channels !== wantIn || cfg.out_channels !== 6) {
      c.ok = false;
      c.facts.push(`a stage ${stageII ? 'II' : 'I'} UNet takes ${wantIn} channels and gives 6`);
    }
    c.variant = variant;
    const totals = tensorTotals(SafetensorsFolder.file(unetWeightsFile(path, variant)));
    c.parameters = totals.parameters;
    c.weightBytes = totals.bytes;
  });
}

function schedulerReport(dir: string, repo: string, sub: 'scheduler' | 'image_noising_scheduler'): ComponentReport {
  const path = join(dir, sub, 'scheduler_config.json');
  const c: ComponentReport = { name: sub, path, ok: true, facts: [] };
  return probe(c, () => {
    if (!existsSync(path)) {
      c.ok = false;
      c.facts.push('scheduler_config.json missing');
      c.fix = downloadCommand(repo, dir, [sub === 'scheduler' ? 'scheduler' : 'imageNoisingScheduler']);
      return;
    }
    const s = readSchedulerConfig(path, { learnedRange: sub === 'scheduler' });
    c.facts.push(`${s.betaSchedule}, ${s.numTrainTimesteps} steps`);
    if (sub === 'scheduler')
      c.facts.push(
        `variance ${s.varianceType}`,
        s.thresholding ? `thresholding ${s.dynamicThresholdingRatio} / max ${s.sampleMaxValue}` : 'no thresholding',
      );
  });
}

/** What a stage I folder holds, component by component, without building anything. */
export function inspectStageI(dir: string, choice: VariantChoice = 'auto'): FolderReport {
  dir = resolve(dir);
  const repo = repoOf(dir, 'I');
  const components: ComponentReport[] = [];
  const index: ComponentReport = { name: 'model_index.json', path: join(dir, 'model_index.json'), ok: true, facts: [] };
  components.push(
    probe(index, () => {
      const cls = pipelineClass(dir);
      if (cls === undefined) {
        index.ok = false;
        index.facts.push(existsSync(index.path) ? 'no _class_name' : 'missing');
        index.fix = downloadCommand(repo, dir, ['modelIndex']);
      } else if (cls !== 'IFPipeline') {
        index.ok = false;
        index.facts.push(`${cls}: not a stage I folder (IFPipeline)`);
      } else index.facts.push(cls);
    }),
  );
  components.push(unetReport(dir, repo, choice, false));
  const encDir = join(dir, 'text_encoder');
  const enc: ComponentReport = { name: 'text_encoder', path: encDir, ok: true, facts: [] };
  components.push(
    probe(enc, () => {
      const variant = existsSync(join(encDir, 'config.json')) ? textEncoderVariant(encDir, choice) : undefined;
      if (!variant) {
        enc.ok = false;
        enc.facts.push(
          existsSync(join(encDir, 'config.json')) ? 'no model(.fp16) safetensors or index' : 'config.json missing',
        );
        enc.fix = downloadCommand(repo, dir, ['textEncoder'], choice === 'fp32' ? 'fp32' : 'fp16');
        return;
      }
      const cfg = readJson(join(encDir, 'config.json'));
      parseT5Config(cfg, join(encDir, 'config.json'));
      enc.facts.push(
        `d_model ${String(cfg.d_model)}, ${String(cfg.num_layers)} layers, ${String(cfg.num_heads)} heads, ${String(cfg.feed_forward_proj)}`,
      );
      const folder = SafetensorsFolder.open(encDir, 'model', variant === 'fp16' ? 'fp16' : undefined)!;
      enc.facts.push(`${folder.files.length} shard${folder.files.length === 1 ? '' : 's'}`);
      enc.variant = variant;
      const totals = tensorTotals(folder);
      enc.parameters = totals.parameters;
      enc.weightBytes = totals.bytes;
    }),
  );
  const tokPath = join(dir, 'tokenizer', 'spiece.model');
  const tok: ComponentReport = { name: 'tokenizer', path: tokPath, ok: existsSync(tokPath), facts: [] };
  if (tok.ok) tok.facts.push(`spiece.model ${statSync(tokPath).size} bytes`);
  else {
    tok.facts.push('spiece.model missing');
    tok.fix = downloadCommand(repo, dir, ['tokenizer']);
  }
  components.push(tok);
  components.push(schedulerReport(dir, repo, 'scheduler'));
  return { stage: 'I', dir, repo, components, ok: components.every((c) => c.ok) };
}

/** What a stage II folder holds (its prompts are encoded by stage I's T5). */
export function inspectStageII(dir: string, choice: VariantChoice = 'auto'): FolderReport {
  dir = resolve(dir);
  const repo = repoOf(dir, 'II');
  const components: ComponentReport[] = [];
  const index: ComponentReport = { name: 'model_index.json', path: join(dir, 'model_index.json'), ok: true, facts: [] };
  components.push(
    probe(index, () => {
      const cls = pipelineClass(dir);
      if (cls !== 'IFSuperResolutionPipeline') {
        index.ok = false;
        index.facts.push(cls === undefined ? 'missing' : `${cls}: not a stage II folder (IFSuperResolutionPipeline)`);
        if (cls === undefined) index.fix = downloadCommand(repo, dir, ['modelIndex']);
      } else index.facts.push(cls);
    }),
  );
  components.push(unetReport(dir, repo, choice, true));
  components.push(schedulerReport(dir, repo, 'scheduler'));
  components.push(schedulerReport(dir, repo, 'image_noising_scheduler'));
  return { stage: 'II', dir, repo, components, ok: components.every((c) => c.ok) };
}

/** The parent folder of the default layout: <models>/deepfloyd-if. */
export function defaultParent(modelsDir: string): string {
  return join(modelsDir, 'deepfloyd-if');
}

/** Where stage II is looked for beside a stage I folder: the env var, else a sibling folder. */
export function siblingStageII(stageIDir: string): string | undefined {
  return scanFolders(dirname(resolve(stageIDir))).stageII[0];
}
