// imagine: text to image with classifier-free guidance (write-up A.1.5–A.1.6).
import type { ImagineParams } from '../jobs/technique-jobs.js';
import { checkImagine } from '../engine/techniques/imagine.js';
import {
  checkPrompts,
  commonParams,
  thresholdingOption,
  guidanceOption,
  modelOption,
  promptOption,
  seedOption,
  stepsOption,
} from './common.js';
import { number, text, type TechniqueOption } from './options.js';
import { defineTechnique } from './technique.js';

const prompt = promptOption('prompt', 'what to draw (mnist-flow: a digit, e.g. "7")', true);
const count: TechniqueOption = {
  name: 'count',
  kind: 'integer',
  min: 1,
  max: 4,
  default: 1,
  help: 'images to make in one batch',
};

export const imagine = defineTechnique<ImagineParams>({
  name: 'imagine',
  description: 'make an image from a prompt (classifier-free guidance)',
  options: [prompt, count, modelOption, guidanceOption, stepsOption, thresholdingOption, seedOption],
  variations: true,
  describeKeys: ['prompt', 'count', 'model', 'steps', 'guidance'],
  normalize(values, model) {
    const p = text(values, prompt, model)!;
    checkPrompts(model, [['prompt', p]]);
    const params = {
      ...commonParams(values, model, true),
      prompt: p,
      count: number(values, count, model)!,
    } as ImagineParams;
    checkImagine(model, { ...params, seed: 0 });
    return params;
  },
});
