// What the six Part A techniques share: the model, steps, guidance and seed options, one limit each,
// and the prompt option.
import { MAX_SEED } from '../engine/random.js';
import { THRESHOLDING_MODES, type ThresholdingMode } from '../engine/sampling/thresholding.js';
import { MODEL_IDS, parseModelId, type ModelEntry } from '../engine/models/registry.js';
import { DEFAULT_NOISE_LEVEL, ILLUSION_NOISE_LEVEL } from '../engine/denoisers/deepfloyd-if.js';
import { InputError } from '../engine/errors.js';
import { DEFAULT_STEPS } from '../engine/techniques/timesteps.js';
import { DEFAULT_UPSCALE_GUIDANCE, requireStageII, type UpscaleJob } from '../engine/techniques/upscale.js';
import type { TechniqueParams } from '../jobs/technique-jobs.js';
import { flag, number, text, type OptionValues, type TechniqueOption } from './options.js';

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

/** model, steps, thresholding (when asked for) and, for guided techniques, guidance, as every Part A job carries them. */
export function commonParams(values: OptionValues, model: ModelEntry, guided: boolean): TechniqueParams {
  const steps = number(values, stepsOption, model)!;
  const mode = text(values, thresholdingOption, model) as ThresholdingMode | undefined;
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

export const upscaleOption: TechniqueOption = {
  name: 'upscale',
  kind: 'boolean',
  help: 'then stage II: the result ×4 (deepfloyd-if: 64 → 256 px; not mnist-flow)',
  defaultText: 'no',
};

export const upscaleStepsOption: TechniqueOption = {
  name: 'upscale_steps',
  kind: 'integer',
  min: STEPS.min,
  max: STEPS.max,
  default: STEPS.default,
  help: "with upscale: stage II's denoising steps",
};

/**
 * How much the upscaled stage I image is noised before it conditions stage II: diffusers' 250 for a
 * plain upscale, visual_anagrams' 50 for illusions (the views must survive).
 */
export function noiseLevelOption(purpose: 'upscale' | 'illusion'): TechniqueOption {
  return {
    name: 'noise_level',
    kind: 'integer',
    min: 0,
    max: 999,
    default: purpose === 'illusion' ? ILLUSION_NOISE_LEVEL : DEFAULT_NOISE_LEVEL,
    help: "with upscale: noise on the stage I image before stage II (diffusers' noise_level)",
  };
}

/** The three stage II options, in the order front ends list them. */
export function upscaleOptions(purpose: 'upscale' | 'illusion'): TechniqueOption[] {
  return [upscaleOption, upscaleStepsOption, noiseLevelOption(purpose)];
}

/** `upscale` with its defaults filled in, or nothing; refused where the model has no stage II. */
export function upscaleParams(
  values: OptionValues,
  model: ModelEntry,
  purpose: 'upscale' | 'illusion',
): { upscale?: UpscaleJob } {
  const level = noiseLevelOption(purpose);
  if (!flag(values, upscaleOption)) {
    const given = [upscaleStepsOption, level].filter((o) => values[o.name] !== undefined).map((o) => o.name);
    if (given.length)
      throw new InputError(
        `${given.join(' and ')} ${given.length > 1 ? 'are' : 'is'} for stage II, which runs only with upscale`,
        `give upscale:true (CLI --upscale) with ${given.join(' and ')}, or drop ${given.length > 1 ? 'them' : 'it'}`,
      );
    return {};
  }
  requireStageII(model);
  return {
    upscale: {
      steps: number(values, upscaleStepsOption, model)!,
      noiseLevel: number(values, level, model)!,
      guidance: DEFAULT_UPSCALE_GUIDANCE,
    },
  };
}

/** The caption's `upscale`: "×4 (33 steps, noise level 250)". */
export function upscaleCaption(params: Readonly<Record<string, unknown>>): Readonly<Record<string, unknown>> {
  const up = params.upscale as UpscaleJob | undefined;
  if (up === undefined) return params;
  return { ...params, upscale: `×4 (${up.steps} steps, noise level ${up.noiseLevel})` };
}
