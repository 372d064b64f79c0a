// anagram: a visual anagram (write-up A.1.8): one image that shows prompt1 as it is and prompt2
// through a view (flip, rotation, negation, …); a third prompt gets its own view.
import { anagramViews } from '../engine/techniques/anagram.js';
import { InputError } from '../engine/errors.js';
import { samplerFor } from '../engine/techniques/timesteps.js';
import { VIEW_NAMES } from '../engine/views/registry.js';
import type { AnagramParams } from '../jobs/technique-jobs.js';
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

const viewChoices = VIEW_NAMES.filter((v) => v !== 'identity').map((v) => ({ name: v.replace('_', ' '), value: v }));
const prompt1 = promptOption('prompt1', 'what the image shows as it is (mnist-flow: a digit)', true);
const prompt2 = promptOption('prompt2', 'what it shows through the view', true);
const prompt3 = promptOption('prompt3', 'optional third picture, seen through view3', false);
const view: TechniqueOption = {
  name: 'view',
  kind: 'string',
  choices: viewChoices,
  help: 'how to look at it to see prompt2',
  defaultText: 'flip; rotate_cw with prompt3',
};
const view3: TechniqueOption = {
  name: 'view3',
  kind: 'string',
  choices: viewChoices,
  help: 'the view for prompt3',
  defaultText: 'rotate_ccw',
};
const maxDisp: TechniqueOption = {
  name: 'max_disp',
  kind: 'integer',
  min: 1,
  max: 256,
  help: 'skew view only: largest column shift in pixels',
  defaultText: 'the image width × 50/64',
};

export const anagram = defineTechnique<AnagramParams>({
  name: 'anagram',
  description: 'one image, two (or three) pictures: prompt2 appears through the view',
  options: [
    prompt1,
    prompt2,
    prompt3,
    view,
    view3,
    maxDisp,
    modelOption,
    guidanceOption,
    stepsOption,
    thresholdingOption,
    seedOption,
  ],
  variations: false,
  promptOf: (p) => (Array.isArray(p.prompts) ? p.prompts.map(String).join(' / ') : ''),
  describeKeys: ['prompts', 'views', 'maxDisp', 'model', 'steps', 'guidance'],
  // One view per prompt in the caption ("identity" / "flip" under "6" / "9").
  captionParams: (p) => (Array.isArray(p.views) ? { ...p, views: ['identity', ...(p.views as unknown[])] } : p),
  normalize(values, model) {
    const p1 = text(values, prompt1, model)!;
    const p2 = text(values, prompt2, model)!;
    const p3 = text(values, prompt3, model);
    const v3 = text(values, view3, model);
    if (v3 !== undefined && p3 === undefined)
      throw new InputError('view3 is for prompt3, which is missing', 'give prompt3 with view3, or drop view3');
    const v = text(values, view, model) ?? (p3 !== undefined ? 'rotate_cw' : 'flip');
    const views = [v];
    if (p3 !== undefined) views.push(v3 ?? (v === 'rotate_ccw' ? 'rotate_cw' : 'rotate_ccw'));
    if (new Set(['identity', ...views]).size !== views.length + 1) {
      throw new InputError(
        `every prompt needs its own view; got identity (prompt1), ${views.join(', ')}`,
        `views: ${VIEW_NAMES.filter((x) => x !== 'identity').join(', ')}`,
      );
    }
    const md = number(values, maxDisp, model);
    if (md !== undefined && !views.includes('skew'))
      throw new InputError('max_disp applies to the skew view only', 'use view skew with max_disp, or drop max_disp');
    const prompts = p3 !== undefined ? [p1, p2, p3] : [p1, p2];
    checkPrompts(
      model,
      prompts.map((p, i) => [`prompt${i + 1}`, p] as const),
    );
    const params = {
      ...commonParams(values, model, true),
      prompts,
      views,
      ...(md !== undefined ? { maxDisp: md } : {}),
    } as AnagramParams;
    samplerFor(params.steps, params.thresholding);
    anagramViews(model, { prompts, views, maxDisp: params.maxDisp });
    return params;
  },
});
