// denoise: noise the input to each t and take it back by Gaussian blur, one model step and iterative
// denoising (write-up A.1.2–A.1.4); `i_start` names the one t as an index into the step list instead.
import {
  checkDenoise,
  DEFAULT_DENOISE_TS,
  DENOISE_METHODS,
  MAX_TS,
  type DenoiseMethod,
} from '../engine/techniques/denoise.js';
import { InputError } from '../engine/errors.js';
import { checkIStarts, timestepsForSteps } from '../engine/techniques/timesteps.js';
import type { DenoiseParams } from '../jobs/technique-jobs.js';
import { checkPrompts, commonParams, modelOption, promptOption, seedOption, STEPS, stepsOption } from './common.js';
import { integers, number, text, type TechniqueOption } from './options.js';
import { defineTechnique } from './technique.js';

const image: TechniqueOption = { name: 'image', kind: 'image', required: true, help: 'the image to noise and denoise' };
const t: TechniqueOption = {
  name: 't',
  kind: 'integers',
  min: 1,
  max: 999,
  maxItems: MAX_TS,
  default: DEFAULT_DENOISE_TS,
  help: 'noise levels, comma-separated, one row each',
};
const iStart: TechniqueOption = {
  name: 'i_start',
  kind: 'integer',
  min: 0,
  max: STEPS.max - 1,
  below: { option: 'steps', default: STEPS.default },
  help: 'instead of t: the one t = timesteps[i_start] of the steps',
};
const method: TechniqueOption = {
  name: 'method',
  kind: 'string',
  default: 'all',
  help: 'denoising methods shown',
  choices: ['all', ...DENOISE_METHODS].map((m) => ({ name: m, value: m })),
};
const prompt = promptOption('prompt', 'what the image shows (mnist-flow: the digit)', false, true);

export const denoise = defineTechnique<DenoiseParams>({
  name: 'denoise',
  description: 'add noise to your image, then remove it: blur vs one-step vs iterative denoising',
  options: [image, t, iStart, method, prompt, modelOption, stepsOption, seedOption],
  variations: false,
  describeKeys: ['prompt', 'ts', 'methods', 'model', 'steps'],
  normalize(values, model) {
    const p = text(values, prompt, model)!;
    checkPrompts(model, [['prompt', p]]);
    const common = commonParams(values, model, false);
    const i = number(values, iStart, model);
    if (i !== undefined && values[t.name] !== undefined)
      throw new InputError(
        'give t or i_start, not both',
        "t: noise levels 1–999; i_start: an index into the steps' timesteps",
      );
    let ts: number[];
    if (i !== undefined) {
      const timesteps = timestepsForSteps(common.steps);
      checkIStarts([i], timesteps);
      ts = [timesteps[i]!];
    } else ts = integers(values, t, model)!;
    const m = text(values, method, model)!;
    const methods: DenoiseMethod[] = m === 'all' ? [...DENOISE_METHODS] : [m as DenoiseMethod];
    const params: DenoiseParams = { ...common, prompt: p, ts, methods };
    checkDenoise(model, { ...params, ts, methods, seed: 0 });
    return params;
  },
});
