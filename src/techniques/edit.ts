// edit: SDEdit of an uploaded sketch or photo (write-up A.1.7): noise it to timesteps[i_start] and
// denoise with the prompt, once per i_start; the write-up's sweep 1, 3, 5, 7, 10, 20 by default.
import { checkEdit, MAX_EDITS } from '../engine/techniques/edit.js';
import { DEFAULT_I_STARTS } from '../engine/sampling/sdedit.js';
import type { EditParams } from '../jobs/technique-jobs.js';
import {
  checkPrompts,
  commonParams,
  thresholdingOption,
  guidanceOption,
  modelOption,
  promptOption,
  seedOption,
  STEPS,
  stepsOption,
} from './common.js';
import { integers, text, type TechniqueOption } from './options.js';
import { defineTechnique } from './technique.js';

const image: TechniqueOption = {
  name: 'image',
  kind: 'image',
  required: true,
  help: 'the sketch or photo to start from',
};
const prompt = promptOption('prompt', 'what it should become (mnist-flow: a digit)', false, true);
const iStart: TechniqueOption = {
  name: 'i_start',
  kind: 'integers',
  min: 0,
  max: STEPS.max - 1,
  maxItems: MAX_EDITS,
  default: DEFAULT_I_STARTS,
  help: 'start indices, comma-separated, one edit each (0 = noise; higher = closer)',
};

/** i_start of a variation: noisy enough to change, close enough to keep the picture. */
export const VARIATION_I_START = 10;

/** The /edit options that make variations of `picture`, with the prompt and model it was made with. */
export function variationOptions<A>(
  picture: A,
  from: { prompt?: string | undefined; model?: string | undefined },
): Record<string, A | string | number> {
  return {
    [image.name]: picture,
    [iStart.name]: VARIATION_I_START,
    ...(from.prompt ? { [prompt.name]: from.prompt } : {}),
    ...(from.model !== undefined ? { [modelOption.name]: from.model } : {}),
  };
}

export const edit = defineTechnique<EditParams>({
  name: 'edit',
  description: 'turn your sketch or photo into an image (SDEdit); higher i_start stays closer to it',
  options: [image, prompt, iStart, modelOption, guidanceOption, stepsOption, thresholdingOption, seedOption],
  variations: true,
  describeKeys: ['prompt', 'iStarts', 'model', 'steps', 'guidance'],
  normalize(values, model) {
    const p = text(values, prompt, model)!;
    checkPrompts(model, [['prompt', p]]);
    const params = {
      ...commonParams(values, model, true),
      prompt: p,
      iStarts: integers(values, iStart, model)!,
    } as EditParams;
    checkEdit(model, { ...params, iStarts: [...params.iStarts], seed: 0 });
    return params;
  },
});
