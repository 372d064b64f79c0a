// The project's class-conditioned flow-matching MNIST model exposed as a DDPM ε-predictor, so that
// every Part A technique runs on it. The velocity network itself is injected (ONNX in production).
import { cosineSchedule, alphaBarAt, type NoiseSchedule } from '../schedules/noise-schedule.js';
import { axpby, scale, tensor, type Tensor } from '../tensor.js';
import { checkBatch, type Conditioning, type Denoiser, type Prediction } from './denoiser.js';

/** A flow-matching velocity field u(x_s, s, c) on MNIST-shaped images. */
export interface VelocityModel {
  /**
   * @param x [B, 1, 28, 28], pixel range [−1, 1]
   * @param s [B] flow time, 0 = noise, 1 = data (x_s = (1 − s)·ε + s·x1)
   * @param classes [B] digit 0–9, or −1 for the null class (CFG's unconditional)
   * @returns u ≈ E[x1 − ε | x_s], shape of x
   */
  velocity(x: Tensor, s: Float32Array, classes: Int32Array): Promise<Tensor>;
}

export const NULL_CLASS = -1;
const DIGIT_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

/** '7', 'seven', 'a 7', 'the digit seven' → 7; '' → NULL_CLASS; anything else throws listing what is allowed. */
export function parseDigitPrompt(prompt: string): number {
  const p = prompt
    .trim()
    .toLowerCase()
    .replace(/[.!]+$/, '');
  if (p === '') return NULL_CLASS;
  const m = /^(?:(?:a|an|the)\s+)?(?:(?:digit|number)\s+)?([a-z0-9]+)$/.exec(p);
  const word = m?.[1];
  if (word !== undefined) {
    if (/^[0-9]$/.test(word)) return Number(word);
    const i = DIGIT_WORDS.indexOf(word);
    if (i >= 0) return i;
  }
  throw new RangeError(
    `mnist-flow draws digits only; prompt "${prompt}" is not one. Allowed: a digit 0–9 or its word ` +
      `(${DIGIT_WORDS.join(', ')}), optionally as "a 7" or "the digit seven"; "" for unconditional`,
  );
}

class DigitConditioning implements Conditioning {
  constructor(
    readonly prompts: readonly string[],
    readonly classes: Int32Array,
  ) {}
  take(rows: readonly number[]): DigitConditioning {
    return new DigitConditioning(
      rows.map((r) => this.prompts[r] ?? badRow(r, this.prompts.length)),
      Int32Array.from(rows, (r) => this.classes[r]!),
    );
  }
}

function badRow(r: number, n: number): never {
  throw new RangeError(`conditioning row ${r} out of range for ${n} rows`);
}

/** Flow time s and input scale k for DDPM timestep t (see the derivation on MnistFlowDenoiser). */
export function flowTimeFor(alphaBar: number): { s: number; k: number } {
  const a = Math.sqrt(alphaBar);
  const b = Math.sqrt(1 - alphaBar);
  return { s: a / (a + b), k: a + b };
}

/**
 * DDPM view of a flow model. With x_t = a·x0 + b·ε (a = √ᾱ, b = √(1−ᾱ)) and the flow path
 * x_s = (1−s)·ε + s·x0, put k = a + b: x_t/k = (a/k)·x0 + (b/k)·ε, which is x_s for s = a/k
 * (and 1 − s = b/k). The velocity is u = x0 − ε, so x_s + (1−s)·u = x0 and x_s − s·u = ε exactly;
 * for the learned u ≈ E[x0 − ε | x_s] both are the posterior means, i.e. x̂0 and ε̂. Consistency
 * check with the DDPM one-step formula: (x_t − b·ε̂)/a = (k·x_s − b·x_s + b·s·u)/a = x_s + (b/k)·u
 * = x_s + (1−s)·u = x̂0. The mapping in docs/architecture.md is therefore right as written.
 */
export class MnistFlowDenoiser implements Denoiser {
  readonly id = 'mnist-flow';
  readonly imageShape = [1, 28, 28] as const;

  constructor(
    private readonly model: VelocityModel,
    readonly schedule: NoiseSchedule = cosineSchedule(1000),
  ) {}

  async encode(prompts: string[]): Promise<Conditioning> {
    return new DigitConditioning([...prompts], Int32Array.from(prompts, parseDigitPrompt));
  }

  async predict(xt: Tensor, t: number, cond: Conditioning): Promise<Prediction> {
    checkBatch(this, xt, cond);
    if (!(cond instanceof DigitConditioning))
      throw new TypeError('mnist-flow needs a conditioning from its own encode()');
    const { s, k } = flowTimeFor(alphaBarAt(this.schedule, t));
    const xs = scale(xt, 1 / k);
    const v = await this.model.velocity(xs, new Float32Array(xt.shape[0]).fill(s), cond.classes);
    if (v.data.length !== xs.data.length) {
      throw new RangeError(`velocity model returned [${v.shape.join(', ')}] for input [${xs.shape.join(', ')}]`);
    }
    return { eps: axpby(1, xs, -s, tensor(xs.shape, v.data)) };
  }
}
