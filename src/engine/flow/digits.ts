// Class-requested digits (or unconditional ones from the time model): the engine side of the
// `digits` command, from a checkpoint to PNG files, seeded and reproducible.
import { AUTOGUIDANCE_WEIGHT } from './autoguidance.js';
import {
  CHURN_TIMES,
  checkGuidanceInterval,
  eulerSample,
  EVERY_STEP,
  type FlowModel,
  type GuidanceInterval,
  type OdeSolver,
} from './euler.js';
import { digitGridPng, singleDigitPng, splitDigits } from './figures.js';
import { pixelRange } from './train-settings.js';
import type { UNetKind } from './unet.js';

export interface DigitsRequest {
  /** A single digit, or undefined for `perDigit` of each (class model) / `count` samples (time model). */
  digit?: number;
  count: number;
  guidance: number;
  steps: number;
  seed: number;
  /** Stochastic churn γ of the sampler (eulerSample); 0 or absent: the plain ODE. */
  churn?: number;
  /** Flow times where guidance (CFG, or a time model's guide) applies; absent: every step. */
  guidanceInterval?: GuidanceInterval;
  /** The ODE solver (eulerSample); absent: Euler. */
  solver?: OdeSolver;
  /** Flow times where churn applies (eulerSample); absent: from the start to CHURN_UNTIL. */
  churnInterval?: GuidanceInterval;
}

export interface DigitsResult {
  labels: Array<number | null>;
  /** B × 784 in [0, 1], white digit on black. */
  images: Float32Array;
  gridPng: Buffer;
  digitPngs: Array<{ name: string; png: Buffer }>;
  seconds: number;
}

export const MAX_DIGITS = 100;

/** The most sampler steps a digits request may ask for. */
export const DIGITS_MAX_STEPS = 300;

/** The write-up's classifier-free guidance scale γ for the class model (B.2.6): mnist-flow's default for Part A. */
export const CFG_SCALE = 5;

/**
 * The class model's default γ in `digits`, with the rest of DIGITS_DEFAULTS.class. γ 5 on every step
 * reads every digit but draws each one alike (Fréchet distance 18.6× real digits'); γ 3 from t = 0.3
 * on, with late churn, reads ≥ 98% with about 3× (models/mnist-class/card.md, the quality bench's judge).
 */
export const DIGITS_CFG_SCALE = 3;

/**
 * The guidance a digits request runs with, for the CLI and chat alike: the one asked for, else the
 * class model's γ, or a time model's guide weight when it has a guide (1, the model alone, when not);
 * and the guide it uses (none at weight 1).
 */
export function digitsGuidance(
  kind: 'class' | 'time',
  guidePath: string | undefined,
  asked: number | undefined,
): { guidance: number; guidePath: string | undefined } {
  const guidance = asked ?? (kind === 'class' ? DIGITS_CFG_SCALE : guidePath !== undefined ? AUTOGUIDANCE_WEIGHT : 1);
  return { guidance, guidePath: kind === 'time' && guidance !== 1 ? guidePath : undefined };
}

/**
 * The time model's default churn γ, chosen with the digit judge (models/mnist-time/card.md): the
 * re-noising mends strokes the unconditional model gets wrong.
 */
export const TIME_CHURN = 3;

/**
 * The class model's default churn γ, on CLASS_CHURN_INTERVAL only: once a digit's shape is set, the
 * re-noising mends its strokes (the 8s and 9s that guidance from t = 0.3 leaves unread) without
 * pulling every sample of a class toward the same picture, as churn from the start does.
 */
export const CLASS_CHURN = 1.5;

/** Where the class model churns by default: flow time 0.5 to 0.9. */
export const CLASS_CHURN_INTERVAL: GuidanceInterval = [0.5, 0.9];

/**
 * Where the class model is guided by default: no guidance while the sample is mostly noise, where
 * it pulls every sample of a class to one picture (Kynkäänniemi et al. 2024).
 */
export const CLASS_GUIDANCE_INTERVAL: GuidanceInterval = [0.3, 1];

/** The upper bound of the churn option: beyond it every step is mostly fresh noise. */
export const MAX_CHURN = 20;

/** What a digits request may choose of the sampler; anything left out takes the model kind's default. */
export interface SamplerChoice {
  churn?: number | undefined;
  guidanceInterval?: GuidanceInterval | undefined;
  churnInterval?: GuidanceInterval | undefined;
  steps?: number | undefined;
  solver?: OdeSolver | undefined;
}

export type SamplerSettings = { [K in keyof SamplerChoice]-?: Exclude<SamplerChoice[K], undefined> };

/**
 * Each kind's sampler (guidance aside, see digitsGuidance), chosen with the digit judge
 * (`npm run bench -- quality`; the model cards have the figures).
 */
export const DIGITS_DEFAULTS: Readonly<Record<'class' | 'time', SamplerSettings>> = {
  // 15 Euler steps: at 15–20 steps this sampler reads and varies as at 50 (and DPM-Solver++ as Euler).
  class: {
    churn: CLASS_CHURN,
    guidanceInterval: CLASS_GUIDANCE_INTERVAL,
    churnInterval: CLASS_CHURN_INTERVAL,
    steps: 15,
    solver: 'euler',
  },
  time: { churn: TIME_CHURN, guidanceInterval: EVERY_STEP, churnInterval: CHURN_TIMES, steps: 50, solver: 'euler' },
};

/** The sampler a digits request runs with, for the CLI, chat and benches alike: what it asked for, else the kind's default. */
export function digitsSampler(kind: 'class' | 'time', asked: SamplerChoice = {}): SamplerSettings {
  const d = DIGITS_DEFAULTS[kind];
  return {
    churn: asked.churn ?? d.churn,
    guidanceInterval: asked.guidanceInterval ?? d.guidanceInterval,
    churnInterval: asked.churnInterval ?? d.churnInterval,
    steps: asked.steps ?? d.steps,
    solver: asked.solver ?? d.solver,
  };
}

/** An interval as a user writes it, `LO,HI` (parseGuidanceInterval's input). */
export function formatInterval(i: readonly [number, number]): string {
  return `${i[0]},${i[1]}`;
}

/**
 * An interval of flow time as a user writes it, `LO,HI` (0 noise, 1 data), e.g. `0.2,1`; `what`
 * names it in the message. Throws a message naming what was wrong and what is allowed.
 */
export function parseGuidanceInterval(text: string, what = 'guidance interval'): GuidanceInterval {
  const parts = text.split(',').map((p) => p.trim());
  const nums = parts.map((p) => (/^\d*\.?\d+$/.test(p) ? Number(p) : Number.NaN));
  if (parts.length !== 2 || nums.some((v) => Number.isNaN(v))) {
    throw new Error(`${what} '${text}' is not two flow times LO,HI (numbers from 0 to 1, e.g. 0.2,1)`);
  }
  try {
    return checkGuidanceInterval(nums);
  } catch {
    throw new Error(`${what} '${text}' needs 0 ≤ LO ≤ HI ≤ 1 (flow time: 0 noise, 1 data), e.g. 0.2,1`);
  }
}

export function digitsLabels(kind: UNetKind, req: DigitsRequest): Array<number | null> {
  if (kind !== 'class') return Array.from({ length: req.count }, () => null);
  if (req.digit !== undefined) return Array.from({ length: req.count }, () => req.digit!);
  const labels: number[] = [];
  for (let r = 0; r < req.count; r++) for (let d = 0; d < 10; d++) labels.push(d); // each column one digit
  return labels;
}

export async function generateDigits(
  model: FlowModel,
  kind: UNetKind,
  req: DigitsRequest,
  onStep?: (i: number, n: number) => void,
): Promise<DigitsResult> {
  const started = performance.now();
  const labels = digitsLabels(kind, req);
  if (labels.length > MAX_DIGITS)
    throw new RangeError(`at most ${MAX_DIGITS} digits per request, asked for ${labels.length}`);
  const raw = await eulerSample(model, {
    labels,
    steps: req.steps,
    guidance: req.guidance,
    seed: req.seed,
    churn: req.churn,
    guidanceInterval: req.guidanceInterval,
    solver: req.solver,
    churnInterval: req.churnInterval,
    onStep: onStep ? (i, n) => onStep(i, n) : undefined,
  });
  const [lo, hi] = pixelRange(kind);
  const images = raw.map((v) => Math.min(1, Math.max(0, (v - lo) / (hi - lo))));
  const cols = kind === 'class' && req.digit === undefined ? 10 : Math.min(10, labels.length);
  const gridPng = await digitGridPng(images, { cols, range: [0, 1], scale: 2 });
  const digitPngs = await Promise.all(
    splitDigits(images).map(async (img, i) => ({
      name: `${i}_${labels[i] ?? 'any'}.png`,
      png: await singleDigitPng(img, [0, 1]),
    })),
  );
  return { labels, images, gridPng, digitPngs, seconds: (performance.now() - started) / 1000 };
}
