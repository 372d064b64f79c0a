// Shared by the conformance tests: the golden files of ../shared/if-golden (README 2, 3.7–3.13), a Denoiser
// over the tiny IF UNets fed diffusers' own prompt embeddings, and teacher forcing (each step started from
// the golden latent before it, so one step's error is measured without the errors of the steps before).
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Conditioning, Denoiser, Prediction } from '../../../../src/engine/denoisers/denoiser.js';
import {
  readSafetensorsHeader,
  readTensor,
  type SafetensorInfo,
} from '../../../../src/engine/denoisers/deepfloyd/hf-safetensors.js';
import type { IfUnet } from '../../../../src/engine/denoisers/deepfloyd/unet.js';
import { cosineSchedule, type NoiseSchedule } from '../../../../src/engine/schedules/noise-schedule.js';
import {
  concatChannels,
  sliceChannels,
  takeBatch,
  tensor,
  type Shape,
  type Tensor,
} from '../../../../src/engine/tensor.js';

/** ../shared/if-golden beside the clone; a missing folder fails the suite (never skips it). */
export const GOLDEN = fileURLToPath(new URL('../../../../../../shared/if-golden/', import.meta.url));
assert.ok(
  existsSync(`${GOLDEN}README.md`),
  `IF golden fixtures missing: expected ${GOLDEN} (../shared/if-golden from the repository root)`,
);
export const UNET1 = `${GOLDEN}models/IF-I-tiny/unet`;
export const UNET2 = `${GOLDEN}models/IF-II-tiny/unet`;
export const quiet = { log: () => {} };

export interface GoldenFile {
  path: string;
  has(name: string): boolean;
  get(name: string): Tensor;
  /** Raw values of any-rank tensors (timesteps, threshold_s, 1-D tables). */
  values(name: string): Float32Array;
  count(prefix: string): number;
}

export function goldenFile(file: string): GoldenFile {
  const path = `${GOLDEN}golden/${file}`;
  assert.ok(existsSync(path), `golden ${path} missing`);
  const tensors = readSafetensorsHeader(path).tensors;
  const info = (name: string): SafetensorInfo => {
    const e = tensors.get(name);
    assert.ok(e, `${file} lacks ${name}`);
    return e;
  };
  return {
    path,
    has: (name) => tensors.has(name),
    get(name) {
      const e = info(name);
      assert.equal(e.shape.length, 4, `${file} ${name} is not 4-D`);
      return tensor(e.shape as unknown as Shape, readTensor(e));
    },
    values: (name) => readTensor(info(name)),
    count: (prefix) => [...tensors.keys()].filter((k) => new RegExp(`^${prefix}_\\d{3}$`).test(k)).length,
  };
}

export const pad3 = (k: number): string => String(k).padStart(3, '0');

export function maxAbsDiff(a: Tensor | Float32Array, b: Tensor | Float32Array): number {
  const x = 'data' in a ? a.data : a;
  const y = 'data' in b ? b.data : b;
  assert.equal(x.length, y.length, 'sizes differ');
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]! - y[i]!));
  return m;
}

export function maxAbs(a: Tensor): number {
  let m = 0;
  for (const v of a.data) m = Math.max(m, Math.abs(v));
  return m;
}

/** Embedding rows [L·D] by prompt; '' is the negative prompt (diffusers' default). */
export type Embeddings = ReadonlyMap<string, Float32Array>;

/** The rows of a golden [n, 77, D] embedding tensor, keyed by the prompts given for its rows. */
export function embeddingRows(g: GoldenFile, name: string, prompts: readonly string[]): Array<[string, Float32Array]> {
  const all = g.values(name);
  const per = all.length / prompts.length;
  assert.ok(Number.isInteger(per), `${name} does not split into ${prompts.length} rows`);
  return prompts.map((p, i) => [p, all.slice(i * per, (i + 1) * per)]);
}

class GoldenConditioning implements Conditioning {
  constructor(
    readonly prompts: readonly string[],
    readonly rows: readonly Float32Array[],
    readonly image?: Tensor,
  ) {}

  take(rows: readonly number[]): GoldenConditioning {
    return new GoldenConditioning(
      rows.map((r) => this.prompts[r]!),
      rows.map((r) => this.rows[r]!),
      this.image ? takeBatch(this.image, rows) : undefined,
    );
  }

  withImage(image: Tensor): GoldenConditioning {
    return new GoldenConditioning(this.prompts, this.rows, image);
  }
}

export interface GoldenDenoiserOptions {
  side: number;
  /** Stage II: the noise-augmented upscaled image [1, 3, side, side] and its noise level. */
  cond?: { image: Tensor; noiseLevel: number };
  schedule?: NoiseSchedule;
}

/**
 * The engine's Denoiser contract over an IF UNet, with the text side replaced by diffusers' embeddings
 * (so these tests isolate the loops; the T5 path has its own goldens).
 */
export function goldenDenoiser(unet: IfUnet, embeddings: Embeddings, opts: GoldenDenoiserOptions): Denoiser {
  const { side, cond } = opts;
  return {
    id: 'if-golden',
    imageShape: [3, side, side],
    schedule: opts.schedule ?? cosineSchedule(1000),
    async encode(prompts) {
      const rows = prompts.map((p) => {
        const e = embeddings.get(p);
        assert.ok(e, `no golden embedding for prompt "${p}"`);
        return e;
      });
      const c = new GoldenConditioning(prompts, rows);
      return cond
        ? c.withImage(
            takeBatch(
              cond.image,
              prompts.map(() => 0),
            ),
          )
        : c;
    },
    async predict(xt, t, c): Promise<Prediction> {
      const g = c as GoldenConditioning;
      const n = xt.shape[0];
      const ehs = new Float32Array(g.rows.reduce((s, r) => s + r.length, 0));
      g.rows.forEach((r, b) => {
        ehs.set(r, b * r.length);
      });
      const sample = g.image ? concatChannels([xt, g.image]) : xt;
      const out = await unet.predict(sample, t, ehs, cond ? new Array<number>(n).fill(cond.noiseLevel) : undefined);
      const y = tensor([n, 6, xt.shape[2], xt.shape[3]], out);
      return { eps: sliceChannels(y, 0, 3), varianceValues: sliceChannels(y, 3, 6) };
    },
  };
}

/**
 * A step hook for teacher forcing: measures each step's output against the golden latent_k and hands
 * the loop the golden latent instead, so the next step starts where diffusers' did.
 */
export function teacherForcing(
  g: GoldenFile,
  inner?: (x: Tensor, t: number) => Tensor,
): { hook: (x: Tensor, t: number) => Tensor; diffs: number[] } {
  const diffs: number[] = [];
  const hook = (x: Tensor, t: number): Tensor => {
    const y = inner ? inner(x, t) : x;
    const ref = g.get(`latent_${pad3(diffs.length)}`);
    diffs.push(maxAbsDiff(y, ref));
    return ref;
  };
  return { hook, diffs };
}

/** Per-step diffs of a free-running loop against latent_k (collected through onStep). */
export function latentTracker(g: GoldenFile): { onStep: (f: { x: Tensor }) => void; diffs: number[] } {
  const diffs: number[] = [];
  return { diffs, onStep: (f) => void diffs.push(maxAbsDiff(f.x, g.get(`latent_${pad3(diffs.length)}`))) };
}

export const fmt = (v: number): string => v.toExponential(2);
