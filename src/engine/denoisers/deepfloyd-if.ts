// DeepFloyd IF as Denoisers over onnxruntime, read from the operator's Hugging Face downloads as they are:
// stage I (a DeepFloyd/IF-I-*-v1.0 folder: unet/, text_encoder/, tokenizer/, scheduler/) gives the 64 px
// Denoiser and the T5 prompt encoder; stage II (an IF-II-*-v1.0 folder: unet/, scheduler/,
// image_noising_scheduler/) upscales ×4, conditioned on the noise-augmented stage I image, with stage I's
// T5 embeddings. The graphs are built from each config.json with the weights left in the safetensors.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Rng } from '../random.js';
import { MissingModelError, type SessionOptions } from '../runtime/onnx.js';
import { toFloat32 } from '../runtime/half.js';
import { scheduleByName, type NoiseSchedule } from '../schedules/noise-schedule.js';
import { addNoise } from '../sampling/forward.js';
import {
  clamp,
  concatChannels,
  randn,
  resizeBilinear,
  sliceChannels,
  takeBatch,
  tensor,
  type Tensor,
} from '../tensor.js';
import { checkBatch, type Conditioning, type Denoiser, type Prediction } from './denoiser.js';
import { T5TextEncoder } from './deepfloyd/t5-encoder.js';
import { ifPreprocess } from './deepfloyd/t5-tokenizer.js';
import { IfUnet } from './deepfloyd/unet.js';
import { textInputDim } from './deepfloyd/unet-config.js';
import {
  STAGE_I_PIECES,
  STAGE_II_PIECES,
  downloadCommand,
  readSchedulerConfig,
  repoOf,
  textEncoderId,
  textEncoderVariant,
  unetVariant,
  type IfSchedulerConfig,
  type Variant,
  type VariantChoice,
} from './deepfloyd-layout.js';

/** Where prompt embeddings persist between jobs (the store's SQLite cache); T5 then runs once per prompt. */
export interface EmbeddingCache {
  get(key: string): Float32Array | undefined | Promise<Float32Array | undefined>;
  set(key: string, embedding: Float32Array): void | Promise<void>;
}

export interface DeepFloydOptions extends SessionOptions {
  /** The stage I repo folder (model_index.json, unet/, text_encoder/, tokenizer/, scheduler/). */
  dir: string;
  /** The stage II repo folder (IF-II-L/M); without it stageII() refuses. */
  stageIIDir?: string | undefined;
  /** 'auto' (default): each component's fp32 weights when present, else its fp16 variant. */
  variant?: VariantChoice;
  cache?: EmbeddingCache | undefined;
  /** Stage I's image side (default 64, IF-I's sample_size; the tiny test models also run at 32). */
  size?: number;
}

/** Stage II's noise level for the upscaled stage I image: diffusers' IFSuperResolutionPipeline default. */
export const DEFAULT_NOISE_LEVEL = 250;
/** visual_anagrams' sample_stage_2 default: illusions keep more of the stage I image. */
export const ILLUSION_NOISE_LEVEL = 50;
/** IFSuperResolutionPipeline's guidance_scale default (stage I's write-up value is 7). */
export const SUPER_RESOLUTION_GUIDANCE = 4;

/** The preprocessing the cache key names: diffusers' _text_preprocessing without clean_caption. */
export const PROMPT_PREPROCESSING = 'lower+strip';

/** `<text encoder id>|lower+strip|<preprocessed prompt>`: embeddings of raw prompts or of another T5 never match. */
export function embeddingKey(textEncoderId: string, prompt: string): string {
  return `${textEncoderId}|${PROMPT_PREPROCESSING}|${ifPreprocess(prompt)}`;
}

class TextConditioning implements Conditioning {
  constructor(
    readonly prompts: readonly string[],
    /** One [77·D] embedding per row (shared, never mutated). */
    readonly rows: readonly Float32Array[],
    readonly image?: Tensor,
  ) {}

  take(rows: readonly number[]): TextConditioning {
    const pick = <T>(xs: readonly T[], r: number): T => {
      const v = xs[r];
      if (v === undefined) throw new RangeError(`conditioning row ${r} out of range for ${xs.length} rows`);
      return v;
    };
    return new TextConditioning(
      rows.map((r) => pick(this.prompts, r)),
      rows.map((r) => pick(this.rows, r)),
      this.image ? takeBatch(this.image, rows) : undefined,
    );
  }

  withImage(image: Tensor): TextConditioning {
    if (image.shape[0] !== this.prompts.length)
      throw new RangeError(`image has ${image.shape[0]} rows for ${this.prompts.length} prompts`);
    return new TextConditioning(this.prompts, this.rows, image);
  }
}

async function runUNet(
  unet: IfUnet,
  sample: Tensor,
  t: number,
  cond: TextConditioning,
  classLabel?: number,
): Promise<Prediction> {
  const n = sample.shape[0];
  const per = cond.rows[0]!.length;
  const ehs = new Float32Array(n * per);
  cond.rows.forEach((r, b) => {
    ehs.set(r, b * per);
  });
  const out = toFloat32(await unet.predict(sample, t, ehs, classLabel));
  const [, , h, w] = sample.shape;
  const c = out.length / (n * h * w);
  if (c !== 6) throw new Error(`the IF UNet must output 6 channels (ε ⊕ learned-range variance), got ${c}`);
  const y = tensor([n, c, h, w], out);
  return { eps: sliceChannels(y, 0, 3), varianceValues: sliceChannels(y, 3, 6) };
}

function missing(path: string, dir: string, stage: 'I' | 'II'): MissingModelError {
  const repo = repoOf(dir, stage);
  return new MissingModelError(
    path,
    `Download it as it is on Hugging Face (accept the licence there and \`huggingface-cli login\` first):\n  ${downloadCommand(repo, dir, stage === 'I' ? STAGE_I_PIECES : STAGE_II_PIECES)}`,
  );
}

/** The schedule a scheduler_config.json describes (only what the engine computes is accepted). */
function scheduleOf(config: IfSchedulerConfig): NoiseSchedule {
  return scheduleByName(config.betaSchedule, config.numTrainTimesteps);
}

function pickUnetVariant(dir: string, stage: 'I' | 'II', choice: VariantChoice): Variant {
  const unetDir = join(dir, 'unet');
  if (!existsSync(join(unetDir, 'config.json'))) throw missing(join(unetDir, 'config.json'), dir, stage);
  const v = unetVariant(unetDir, choice);
  if (!v)
    throw missing(
      join(
        unetDir,
        choice === 'fp32' ? 'diffusion_pytorch_model.safetensors' : 'diffusion_pytorch_model.fp16.safetensors',
      ),
      dir,
      stage,
    );
  return v;
}

/** Stage II's Denoiser, with the settings its references use. */
export interface StageII extends Denoiser {
  readonly noiseLevel: number;
  /** diffusers' super-resolution guidance (4). */
  readonly defaultGuidance: number;
  /** The noise-augmented upscaled image every row is conditioned on, [1, 3, size, size]. */
  readonly conditioningImage: Tensor;
}

export interface StageIIOptions {
  rng: Rng;
  /** Default by purpose: 50 for illusions (visual_anagrams), 250 for plain upscaling (diffusers). */
  noiseLevel?: number;
  purpose?: 'upscale' | 'illusion';
  size?: number;
  /** The noise of the conditioning image's augmentation (replaying a recorded run); default drawn from rng. */
  noise?: Tensor;
}

/** The loaded DeepFloyd IF models; `stageI` is the 64 px Denoiser, `stageII(image)` the upscaler. */
export class DeepFloydIF {
  readonly stageI: Denoiser;
  private readonly memo = new Map<string, Float32Array>();
  private unet2?: Promise<{ unet: IfUnet; schedule: NoiseSchedule; noising: NoiseSchedule; config: IfSchedulerConfig }>;

  private constructor(
    readonly dir: string,
    readonly stageIIDir: string | undefined,
    readonly text: T5TextEncoder,
    private readonly unet1: IfUnet,
    readonly schedule: NoiseSchedule,
    /** Stage I's scheduler_config.json (thresholding etc., for the samplers that honour it). */
    readonly schedulerConfig: IfSchedulerConfig,
    /** Names the T5 (config, weights, variant) in cache keys. */
    readonly textEncoderId: string,
    private readonly cache: EmbeddingCache | undefined,
    private readonly opts: SessionOptions & { variant: VariantChoice },
    size: number,
  ) {
    const self = this;
    this.stageI = {
      id: 'deepfloyd-if',
      imageShape: [3, size, size],
      schedule: this.schedule,
      encode: (prompts) => self.encode(prompts),
      async predict(xt, t, cond) {
        checkBatch(this, xt, cond);
        return runUNet(self.unet1, xt, t, asText(cond));
      },
    };
  }

  /**
   * Loads tokenizer, T5 and the stage I UNet (stage II lazily). A missing file is a MissingModelError
   * naming it and the `huggingface-cli download` command; an unsupported config is refused by name.
   */
  static async load(opts: DeepFloydOptions): Promise<DeepFloydIF> {
    const dir = resolve(opts.dir);
    const choice = opts.variant ?? 'auto';
    const { dir: _d, stageIIDir, variant: _v, cache, size = 64, ...session } = opts;
    if (!Number.isInteger(size) || size < 8 || size % 8 !== 0)
      throw new RangeError(`stage I size must be a multiple of 8 (IF-I: 64), got ${size}`);
    const schedPath = join(dir, 'scheduler', 'scheduler_config.json');
    if (!existsSync(schedPath)) throw missing(schedPath, dir, 'I');
    const schedulerConfig = readSchedulerConfig(schedPath);
    const schedule = scheduleOf(schedulerConfig);
    const encDir = join(dir, 'text_encoder');
    if (!existsSync(join(encDir, 'config.json'))) throw missing(join(encDir, 'config.json'), dir, 'I');
    const encVariant = textEncoderVariant(encDir, choice);
    if (!encVariant)
      throw missing(
        join(encDir, choice === 'fp32' ? 'model.safetensors.index.json' : 'model.safetensors.index.fp16.json'),
        dir,
        'I',
      );
    if (!existsSync(join(dir, 'tokenizer', 'spiece.model')))
      throw missing(join(dir, 'tokenizer', 'spiece.model'), dir, 'I');
    const unetVar = pickUnetVariant(dir, 'I', choice);
    const text = await T5TextEncoder.load(dir, { ...session, variant: encVariant });
    let unet1: IfUnet;
    try {
      unet1 = await IfUnet.load(join(dir, 'unet'), {
        ...session,
        ...(unetVar === 'fp16' ? { variant: 'fp16' as const } : {}),
      });
    } catch (err) {
      await text.dispose();
      throw err;
    }
    const d = textInputDim(unet1.config);
    const problem =
      unet1.needsClassLabels || unet1.config.inChannels !== 3
        ? `${join(dir, 'unet')} is a stage II UNet (${unet1.config.inChannels} input channels${unet1.needsClassLabels ? ', a noise-level class embedding' : ''}); stage I takes 3`
        : d !== text.dModel
          ? `${join(dir, 'unet')} reads ${d}-wide text states but ${encDir} gives ${text.dModel}: the folders are from different models`
          : undefined;
    if (problem) {
      await Promise.all([text.dispose(), unet1.dispose()]);
      throw new Error(problem);
    }
    return new DeepFloydIF(
      dir,
      stageIIDir === undefined ? undefined : resolve(stageIIDir),
      text,
      unet1,
      schedule,
      schedulerConfig,
      textEncoderId(encDir, encVariant),
      cache,
      { ...session, variant: choice },
      size,
    );
  }

  get hasStageII(): boolean {
    return this.stageIIDir !== undefined && existsSync(join(this.stageIIDir, 'unet', 'config.json'));
  }

  /** The embedding cache key of a prompt: the text encoder, the preprocessing and the preprocessed text. */
  cacheKey(prompt: string): string {
    return embeddingKey(this.textEncoderId, prompt);
  }

  /** The id `load` would give the text encoder of a stage I folder, without loading it (undefined: no weights). */
  static textEncoderIdOf(dir: string, variant: VariantChoice = 'auto'): string | undefined {
    const encDir = join(resolve(dir), 'text_encoder');
    const v = existsSync(join(encDir, 'config.json')) ? textEncoderVariant(encDir, variant) : undefined;
    return v === undefined ? undefined : textEncoderId(encDir, v);
  }

  /** T5 embeddings [77·D] per prompt, preprocessed as diffusers does, memoised and cached; '' is the unconditional one. */
  async encode(prompts: string[]): Promise<Conditioning> {
    const todo = new Map<string, string>();
    for (const p of prompts) {
      const key = this.cacheKey(p);
      if (this.memo.has(key) || todo.has(key)) continue;
      const hit = await this.cache?.get(key);
      if (hit) this.memo.set(key, hit);
      else todo.set(key, ifPreprocess(p));
    }
    if (todo.size) {
      const keys = [...todo.keys()];
      // Already preprocessed: encode must not lower-case twice (it is idempotent, but say what runs).
      const all = toFloat32(await this.text.encode([...todo.values()], { preprocess: false }));
      const per = all.length / keys.length;
      for (const [i, key] of keys.entries()) {
        const e = all.slice(i * per, (i + 1) * per);
        this.memo.set(key, e);
        await this.cache?.set(key, e);
      }
    }
    return new TextConditioning(
      prompts,
      prompts.map((p) => this.memo.get(this.cacheKey(p))!),
    );
  }

  private loadStageII(): Promise<{
    unet: IfUnet;
    schedule: NoiseSchedule;
    noising: NoiseSchedule;
    config: IfSchedulerConfig;
  }> {
    const dir = this.stageIIDir;
    if (dir === undefined) {
      return Promise.reject(
        new MissingModelError(
          join(this.dir, '..', 'IF-II-L-v1.0'),
          `no stage II folder was given; download one beside stage I:\n  ${downloadCommand('IF-II-L-v1.0', join(this.dir, '..', 'IF-II-L-v1.0'), STAGE_II_PIECES)}`,
        ),
      );
    }
    this.unet2 ??= (async () => {
      const schedPath = join(dir, 'scheduler', 'scheduler_config.json');
      if (!existsSync(schedPath)) throw missing(schedPath, dir, 'II');
      const config = readSchedulerConfig(schedPath);
      const noisePath = join(dir, 'image_noising_scheduler', 'scheduler_config.json');
      if (!existsSync(noisePath)) throw missing(noisePath, dir, 'II');
      const noising = scheduleOf(readSchedulerConfig(noisePath, { learnedRange: false }));
      const variant = pickUnetVariant(dir, 'II', this.opts.variant);
      const { variant: _v, ...session } = this.opts;
      const unet = await IfUnet.load(join(dir, 'unet'), {
        ...session,
        ...(variant === 'fp16' ? { variant: 'fp16' as const } : {}),
      });
      const problem =
        !unet.needsClassLabels || unet.config.inChannels !== 6
          ? `${join(dir, 'unet')} is not a stage II UNet (it takes ${unet.config.inChannels} channels${unet.needsClassLabels ? '' : ', no noise-level class embedding'}; stage II takes 6 and the noise level)`
          : textInputDim(unet.config) !== this.text.dModel
            ? `${join(dir, 'unet')} reads ${textInputDim(unet.config)}-wide text states but stage I's T5 gives ${this.text.dModel}`
            : undefined;
      if (problem) {
        await unet.dispose();
        throw new Error(problem);
      }
      return { unet, schedule: scheduleOf(config), noising, config };
    })();
    this.unet2.catch(() => (this.unet2 = undefined));
    return this.unet2;
  }

  /**
   * Stage II for one stage I image [1, 3, h, w]: clamped to [−1, 1] (stage I without thresholding can
   * overshoot; IF-II only saw images in range), upscaled bilinearly (align_corners, as diffusers),
   * noised to the noise level by image_noising_scheduler, and passed with every row.
   */
  async stageII(lowRes: Tensor, opts: StageIIOptions): Promise<StageII> {
    if (lowRes.shape[0] !== 1 || lowRes.shape[1] !== 3)
      throw new RangeError(`stage II upscales one RGB image [1, 3, h, w], got [${lowRes.shape.join(', ')}]`);
    const size = opts.size ?? 256;
    const noiseLevel = opts.noiseLevel ?? (opts.purpose === 'illusion' ? ILLUSION_NOISE_LEVEL : DEFAULT_NOISE_LEVEL);
    const s2 = await this.loadStageII();
    if (!Number.isInteger(noiseLevel) || noiseLevel < 0 || noiseLevel >= s2.noising.numTrainTimesteps) {
      throw new RangeError(
        `stage II noise level must be a whole number from 0 to ${s2.noising.numTrainTimesteps - 1}, got ${noiseLevel}`,
      );
    }
    const up = resizeBilinear(clamp(lowRes, -1, 1), size, size, true);
    const noise = opts.noise ?? randn(up.shape, opts.rng);
    if (noise.shape.join() !== up.shape.join())
      throw new RangeError(
        `stage II conditioning noise must be [${up.shape.join(', ')}], got [${noise.shape.join(', ')}]`,
      );
    const augmented = addNoise(s2.noising, up, noiseLevel, noise);
    const self = this;
    const denoiser: StageII = {
      id: 'deepfloyd-if-ii',
      imageShape: [3, size, size],
      schedule: s2.schedule,
      noiseLevel,
      defaultGuidance: SUPER_RESOLUTION_GUIDANCE,
      conditioningImage: augmented,
      async encode(prompts) {
        const c = asText(await self.encode(prompts));
        return c.withImage(
          takeBatch(
            augmented,
            prompts.map(() => 0),
          ),
        );
      },
      async predict(xt, t, cond) {
        checkBatch(this, xt, cond);
        const c = asText(cond);
        if (!c.image)
          throw new Error('stage II needs a conditioning from its own encode() (it carries the upscaled image)');
        return runUNet(s2.unet, concatChannels([xt, c.image]), t, c, noiseLevel);
      },
    };
    return denoiser;
  }

  async dispose(): Promise<void> {
    const s2 = this.unet2;
    this.unet2 = undefined;
    await Promise.all([
      this.text.dispose(),
      this.unet1.dispose(),
      s2?.then(
        (s) => s.unet.dispose(),
        () => undefined,
      ),
    ]);
  }
}

function asText(cond: Conditioning): TextConditioning {
  if (!(cond instanceof TextConditioning))
    throw new TypeError('deepfloyd-if needs a conditioning from its own encode()');
  return cond;
}
