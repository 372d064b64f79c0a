// A training run's settings: the write-up's defaults and the ranges every setting must lie in, defined
// once here (the trainer checks them; the CLI's flags and chat's /train options are declared from them).
import type { UNetKind } from './unet.js';

export interface TrainSettings {
  kind: UNetKind;
  epochs: number;
  hidden: number;
  batch: number;
  lr: number;
  /** ExponentialLR with γ = 0.1^(1/epochs), stepped per epoch (flow models); false = constant lr. */
  scheduler: boolean;
  /**
   * Epochs over which ExponentialLR falls tenfold (γ = 0.1^(1/lrDecayEpochs)); unset = `epochs`.
   * Set when a finished run is extended, so the schedule keeps its γ (as PyTorch's would).
   */
  lrDecayEpochs?: number;
  /** Denoiser: noise level of z = x + σε. */
  sigma: number;
  /** Denoiser variant whose input is pure noise (collapses to the mean digit). */
  pureNoise: boolean;
  /** Class model: probability of dropping the one-hot to zeros (CFG's null class). */
  pUncond: number;
  seed: number;
  /** Folder of IDX files, or null for the embedded 10,000 digits. */
  data: string | null;
  /** Digits of each class in the per-epoch sample grid, Euler steps and CFG scale used for it. */
  sampleSteps: number;
  guidance: number;
  /**
   * Decay of an exponential moving average of the trained weights (0 = none). With it, sample
   * grids, exports and sampling use the average; the live weights keep training.
   */
  ema?: number;
  /** Checkpoint the run's weights started from (a fine-tuning run), as given to --init. */
  init?: string;
}

/** The write-up's hyper-parameters (Part B; docs/training-engine.md). */
export function defaultSettings(kind: UNetKind): TrainSettings {
  const common = {
    kind,
    sigma: 0.5,
    pureNoise: false,
    pUncond: 0.1,
    seed: 0,
    data: null,
    sampleSteps: 50,
    guidance: 5,
  };
  if (kind === 'denoiser') return { ...common, epochs: 5, hidden: 128, batch: 256, lr: 1e-4, scheduler: false };
  return { ...common, epochs: 10, hidden: 64, batch: 64, lr: 1e-2, scheduler: true };
}

export interface SettingLimit {
  readonly min: number;
  readonly max: number;
  readonly integer: boolean;
}

/** Inclusive ranges of the settings a user chooses, by setting name. */
export const TRAIN_LIMITS = {
  epochs: { min: 1, max: 1000, integer: true },
  hidden: { min: 1, max: 512, integer: true },
  batch: { min: 2, max: 4096, integer: true },
  lr: { min: 1e-10, max: 10, integer: false },
  sigma: { min: 0, max: 10, integer: false },
  ema: { min: 0, max: 0.99999, integer: false },
} as const satisfies Record<string, SettingLimit>;

export type LimitedSetting = keyof typeof TRAIN_LIMITS;

/** Whether `value` lies in the setting's range (and is an integer where it must be). */
export function withinLimit(name: LimitedSetting, value: number): boolean {
  const l: SettingLimit = TRAIN_LIMITS[name];
  return Number.isFinite(value) && (!l.integer || Number.isInteger(value)) && value >= l.min && value <= l.max;
}

/** 'an integer from 1 to 1000', as the refusals say it. */
export function describeLimit(name: LimitedSetting): string {
  const l: SettingLimit = TRAIN_LIMITS[name];
  return `${l.integer ? 'an integer' : 'a number'} from ${l.min} to ${l.max}`;
}

/** Refuses settings outside TRAIN_LIMITS (and a p_uncond outside [0, 1)), naming the flag and its range. */
export function validateSettings(s: TrainSettings): void {
  for (const name of Object.keys(TRAIN_LIMITS) as LimitedSetting[]) {
    const value = name === 'ema' ? s.ema : s[name];
    if (value !== undefined && !withinLimit(name, value))
      throw new Error(`--${name} must be ${describeLimit(name)}, got ${value}`);
  }
  if (!(s.pUncond >= 0 && s.pUncond < 1)) throw new Error(`p_uncond must be in [0, 1), got ${s.pUncond}`);
}

/** Pixel range the model is trained in: flow models use [-1, 1] so that negation is a valid view. */
export function pixelRange(kind: UNetKind): [number, number] {
  return kind === 'denoiser' ? [0, 1] : [-1, 1];
}
