// What the six Part A techniques share: the model, steps, guidance and seed options, one limit each,
// and the prompt option.
import { MAX_SEED } from '../engine/random.js';
import { THRESHOLDING_MODES, type ThresholdingMode } from '../engine/sampling/thresholding.js';
import { MODEL_IDS, parseModelId, type ModelEntry } from '../engine/models/registry.js';
import { DEFAULT_STEPS } from '../engine/techniques/timesteps.js';
import type { TechniqueParams } from '../jobs/technique-jobs.js';
import { number, text, type OptionValues, type TechniqueOption } from './options.js';

/**
 * Steps a user may ask for. 200 is six times the write-up's 33 (stride 30), plenty to see the
 * difference, and still inside the chat's job time limit on DeepFloyd IF; the schedule itself could
 * take 990.
 */
export const STEPS = { min: 1, max: 200, default: DEFAULT_STEPS } as const;

/** Longest prompt any definition accepts; the chat operator's (lower) limit is checked by the service. */
export const PROMPT_CEILING = 1000;

export const modelOption: TechniqueOption = {
  name: 'model',
  kind: 'string',
  maxLength: 64,
  help: `${MODEL_IDS.join(', ')} or a /checkpoints name`,
  defaultText: 'the first installed',
};

export const guidanceOption: TechniqueOption = {
  name: 'guidance',
  kind: 'number',
  min: 0,
  max: 30,
  help: 'classifier-free guidance scale γ',
  default: (m) => m.defaultGuidance,
};

export const stepsOption: TechniqueOption = {
  name: 'steps',
  kind: 'integer',
  min: STEPS.min,
  max: STEPS.max,
  default: STEPS.default,
  help: "denoising steps from t = 990 to 0 (33: the write-up's stride of 30)",
};

export const thresholdingOption: TechniqueOption = {
  name: 'thresholding',
  kind: 'string',
  choices: THRESHOLDING_MODES.map((m) => ({ name: m, value: m })),
  help: "x̂0 each step: none (the write-up) or dynamic/clip (diffusers' IF scheduler)",
  defaultText: 'none',
};

export const seedOption: TechniqueOption = {
  name: 'seed',
  kind: 'integer',
  min: 0,
  max: MAX_SEED,
  help: 'random seed (same seed + same options = same image)',
  defaultText: 'a new one',
};

export function promptOption(name: string, help: string, required: boolean, defaultNeutral = false): TechniqueOption {
  return {
    name,
    kind: 'string',
    help,
    required,
    maxLength: PROMPT_CEILING,
    prompt: true,
    ...(defaultNeutral
      ? { default: (m: ModelEntry) => m.neutralPrompt, defaultText: "the model's neutral prompt" }
      : {}),
  };
}

/** model, steps and (for guided techniques) guidance, as every Part A job carries them. */
export function commonParams(values: OptionValues, model: ModelEntry, guided: boolean): TechniqueParams {
  const steps = number(values, stepsOption, model)!;
  const mode = guided ? (text(values, thresholdingOption, model) as ThresholdingMode | undefined) : undefined;
  return {
    model: parseModelId(model.id),
    steps,
    ...(guided ? { guidance: number(values, guidanceOption, model)! } : {}),
    ...(mode !== undefined && mode !== 'none' ? { thresholding: mode } : {}),
  };
}

/** Checks each prompt against the model (mnist-flow: digits only). */
export function checkPrompts(model: ModelEntry, prompts: readonly (readonly [option: string, text: string])[]): void {
  for (const [option, t] of prompts) model.checkPrompt(t, option);
}
