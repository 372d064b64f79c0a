// DeepFloyd IF as Denoisers over onnxruntime: stage I (64 px), stage II (×4 upscaler conditioned on the
// noise-augmented stage I image) and the T5 encoder, loaded from the folder scripts/export-deepfloyd-if.py writes.
import type { Rng } from '../random.js';
import { ModelFolder, type Feed, type FeedData, type OnnxSession, type SessionOptions } from '../runtime/onnx.js';
import { float16ToFloat32, float32ToFloat16 } from '../runtime/half.js';
import { cosineSchedule, type NoiseSchedule } from '../schedules/noise-schedule.js';
import { addNoise } from '../sampling/forward.js';
import { concatChannels, randn, resizeBilinear, sliceChannels, takeBatch, tensor, type Tensor } from '../tensor.js';
import { checkBatch, type Conditioning, type Denoiser, type Prediction } from './denoiser.js';
import { T5Prompts, TEXT_LENGTH } from './t5-prompt.js';

export const DEEPFLOYD_DIR = 'models/deepfloyd-if';

/** The folder layout (and I/O names) that scripts/export-deepfloyd-if.py writes. */
export const DEEPFLOYD_FILES = {
  tokenizer: 'tokenizer.json',
  /** input_ids [B, 77] int64, attention_mask [B, 77] int64 → last_hidden_state [B, 77, 4096]. */
  textEncoder: 'text-encoder.onnx',
  /** sample [B, 3, 64, 64], timestep [B], encoder_hidden_states [B, 77, 4096] → [B, 6, 64, 64]. */
  stageI: 'stage1-unet.onnx',
  /** sample [B, 6, 256, 256], timestep [B], encoder_hidden_states, class_labels [B] → [B, 6, 256, 256]. */
  stageII: 'stage2-unet.onnx',
} as const;

const UNET_INPUTS = ['sample', 'timestep', 'encoder_hidden_states'];

export const EXPORT_HINT =
  'Export DeepFloyd IF once on a machine with diffusers and the DeepFloyd licence accepted on Hugging Face:\n' +
  '  python scripts/export-deepfloyd-if.py --out models/deepfloyd-if   (see the script header for options)';

/** Where prompt embeddings persist between jobs (the store's SQLite cache); T5 then runs once per prompt. */
export interface EmbeddingCache {
  get(key: string): Float32Array | undefined | Promise<Float32Array | undefined>;
  set(key: string, embedding: Float32Array): void | Promise<void>;
}

export interface DeepFloydOptions extends SessionOptions {
  dir?: string;
  cache?: EmbeddingCache;
}

/** Stage II's noise level for the upscaled stage I image (diffusers' default; visual_anagrams uses 50). */
export const DEFAULT_NOISE_LEVEL = 250;

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
    if (image.shape[0] !== this.prompts.length) throw new RangeError(`image has ${image.shape[0]} rows for ${this.prompts.length} prompts`);
    return new TextConditioning(this.prompts, this.rows, image);
  }
}

/** A float input in the dtype the model declares (fp16 exports take Uint16Array). */
function floatFeed(session: OnnxSession, name: string, dims: number[], data: Float32Array): Feed {
  return session.inputType(name) === 'float16'
    ? { type: 'float16', dims, data: float32ToFloat16(data) }
    : { type: 'float32', dims, data };
}

/** timestep / class_labels: int64 in our exports, float accepted for other exporters. */
function scalarFeed(session: OnnxSession, name: string, value: number, batch: number): Feed {
  const type = session.inputType(name);
  if (type === 'int64') return { type: 'int64', dims: [batch], data: new BigInt64Array(batch).fill(BigInt(Math.round(value))) };
  if (type === 'int32') return { type: 'int32', dims: [batch], data: new Int32Array(batch).fill(Math.round(value)) };
  return floatFeed(session, name, [batch], new Float32Array(batch).fill(value));
}

function toFloat32(data: FeedData): Float32Array {
  if (data instanceof Float32Array) return data;
  if (data instanceof Uint16Array) return float16ToFloat32(data);
  throw new TypeError(`expected a float output, got ${data.constructor.name}`);
}

function checkInputs(session: OnnxSession, file: string, expected: readonly string[]): void {
  const missing = expected.filter((n) => !session.inputNames.includes(n));
  if (missing.length) {
    throw new Error(
      `${file} has inputs [${session.inputNames.join(', ')}] but needs [${expected.join(', ')}] (missing ${missing.join(', ')}).\n${EXPORT_HINT}`,
    );
  }
}

async function runUNet(session: OnnxSession, sample: Tensor, t: number, cond: TextConditioning, classLabel?: number): Promise<Prediction> {
  const n = sample.shape[0];
  const textDim = cond.rows[0]!.length / TEXT_LENGTH;
  const ehs = new Float32Array(n * TEXT_LENGTH * textDim);
  cond.rows.forEach((r, b) => ehs.set(r, b * r.length));
  const feeds: Record<string, Feed> = {
    sample: floatFeed(session, 'sample', [...sample.shape], sample.data),
    timestep: scalarFeed(session, 'timestep', t, n),
    encoder_hidden_states: floatFeed(session, 'encoder_hidden_states', [n, TEXT_LENGTH, textDim], ehs),
  };
  if (classLabel !== undefined) feeds.class_labels = scalarFeed(session, 'class_labels', classLabel, n);
  const out = (await session.run(feeds))[session.outputNames[0]!]!;
  const [, c, h, w] = out.dims as [number, number, number, number];
  if (c !== 6) throw new Error(`${session.name} must output 6 channels (ε ⊕ learned-range variance), got [${out.dims.join(', ')}]`);
  const y = tensor([n, c, h, w], toFloat32(out.data));
  return { eps: sliceChannels(y, 0, 3), varianceValues: sliceChannels(y, 3, 6) };
}

/** The loaded DeepFloyd IF models; `stageI` is the 64 px Denoiser, `stageII(image)` the upscaler. */
export class DeepFloydIF {
  readonly schedule: NoiseSchedule = cosineSchedule(1000);
  readonly stageI: Denoiser;
  private readonly memo = new Map<string, Float32Array>();

  private constructor(
    private readonly folder: ModelFolder,
    private readonly prompts: T5Prompts,
    private readonly text: OnnxSession,
    private readonly unet1: OnnxSession,
    private readonly cache: EmbeddingCache | undefined,
  ) {
    const self = this;
    this.stageI = {
      id: 'deepfloyd-if',
      imageShape: [3, 64, 64],
      schedule: this.schedule,
      encode: (prompts) => self.encode(prompts),
      async predict(xt, t, cond) {
        checkBatch(this, xt, cond);
        return runUNet(self.unet1, xt, t, asText(cond));
      },
    };
  }

  /** Loads tokenizer, T5 and stage I (stage II lazily); a missing file names its path and the export command. */
  static async load(opts: DeepFloydOptions = {}): Promise<DeepFloydIF> {
    const folder = new ModelFolder(opts.dir ?? DEEPFLOYD_DIR, { ...opts, howToProduce: EXPORT_HINT });
    for (const f of [DEEPFLOYD_FILES.tokenizer, DEEPFLOYD_FILES.textEncoder, DEEPFLOYD_FILES.stageI]) folder.require(f);
    const prompts = T5Prompts.fromFile(folder.pathOf(DEEPFLOYD_FILES.tokenizer));
    const text = await folder.session('t5', DEEPFLOYD_FILES.textEncoder);
    checkInputs(text, DEEPFLOYD_FILES.textEncoder, ['input_ids']);
    const unet1 = await folder.session('stage1', DEEPFLOYD_FILES.stageI);
    checkInputs(unet1, DEEPFLOYD_FILES.stageI, UNET_INPUTS);
    return new DeepFloydIF(folder, prompts, text, unet1, opts.cache);
  }

  get hasStageII(): boolean {
    return this.folder.has(DEEPFLOYD_FILES.stageII);
  }

  /** T5 embeddings [77·4096] per prompt, memoised and cached; '' is the unconditional embedding. */
  async encode(prompts: string[]): Promise<Conditioning> {
    const rows: Float32Array[] = [];
    const todo: string[] = [];
    for (const p of new Set(prompts)) {
      const hit = this.memo.get(p) ?? (await this.cache?.get(p));
      if (hit) this.memo.set(p, hit);
      else todo.push(p);
    }
    if (todo.length) {
      const { ids, attentionMask } = this.prompts.tokenize(todo);
      const feeds: Record<string, Feed> = { input_ids: { type: 'int64', dims: [todo.length, TEXT_LENGTH], data: ids } };
      if (this.text.inputNames.includes('attention_mask')) {
        feeds.attention_mask = { type: 'int64', dims: [todo.length, TEXT_LENGTH], data: attentionMask };
      }
      const out = (await this.text.run(feeds))[this.text.outputNames[0]!]!;
      const all = toFloat32(out.data);
      const per = all.length / todo.length;
      for (const [i, p] of todo.entries()) {
        const e = all.slice(i * per, (i + 1) * per);
        this.memo.set(p, e);
        await this.cache?.set(p, e);
      }
    }
    for (const p of prompts) rows.push(this.memo.get(p)!);
    return new TextConditioning(prompts, rows);
  }

  /**
   * Stage II for one stage I image [1, 3, 64, 64] in [−1, 1]: upscaled bilinearly (align_corners, as
   * diffusers), noised to `noiseLevel` with the same cosine schedule, and passed with every row.
   */
  async stageII(lowRes: Tensor, opts: { rng: Rng; noiseLevel?: number; size?: number }): Promise<Denoiser> {
    if (lowRes.shape[0] !== 1 || lowRes.shape[1] !== 3) throw new RangeError(`stage II upscales one RGB image [1, 3, h, w], got [${lowRes.shape.join(', ')}]`);
    const unet2 = await this.folder.session('stage2', DEEPFLOYD_FILES.stageII);
    checkInputs(unet2, DEEPFLOYD_FILES.stageII, [...UNET_INPUTS, 'class_labels']);
    const size = opts.size ?? 256;
    const noiseLevel = opts.noiseLevel ?? DEFAULT_NOISE_LEVEL;
    const up = resizeBilinear(lowRes, size, size, true);
    const augmented = addNoise(this.schedule, up, noiseLevel, randn(up.shape, opts.rng));
    const self = this;
    const denoiser: Denoiser = {
      id: 'deepfloyd-if-ii',
      imageShape: [3, size, size],
      schedule: this.schedule,
      async encode(prompts) {
        const c = asText(await self.encode(prompts));
        return c.withImage(takeBatch(augmented, prompts.map(() => 0)));
      },
      async predict(xt, t, cond) {
        checkBatch(this, xt, cond);
        const c = asText(cond);
        if (!c.image) throw new Error('stage II needs a conditioning from its own encode() (it carries the upscaled image)');
        return runUNet(unet2, concatChannels([xt, c.image]), t, c, noiseLevel);
      },
    };
    return denoiser;
  }

  async dispose(): Promise<void> {
    await this.folder.dispose();
  }
}

function asText(cond: Conditioning): TextConditioning {
  if (!(cond instanceof TextConditioning)) throw new TypeError('deepfloyd-if needs a conditioning from its own encode()');
  return cond;
}
