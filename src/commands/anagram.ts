// /anagram: a visual anagram (seed A.1.8): one image that shows prompt1 as it is and prompt2
// through a view (flip, rotation, negation, …); a third prompt gets its own view.
import { VIEW_NAMES } from '../engine/views/registry.js';
import { describeParams, doubleSteps, guidanceOption, modelOption, promptOption, seedOption, stepsOption, type JobCommand } from './command.js';
import { CommandError } from './errors.js';
import { num, str } from './options.js';
import { partADescribeKeys, planPartA, PROMPT_CEILING } from './part-a.js';

const viewChoices = VIEW_NAMES.filter((v) => v !== 'identity').map((v) => ({ name: v.replace('_', ' '), value: v }));

export const command: JobCommand = {
  definition: {
    name: 'anagram',
    description: 'one image, two (or three) pictures: prompt2 appears through the view',
    replies: 'public',
    options: [
      promptOption('prompt1', 'what the image shows as it is (mnist-flow: a digit)', true, PROMPT_CEILING),
      promptOption('prompt2', 'what it shows through the view', true, PROMPT_CEILING),
      promptOption('prompt3', 'optional third picture, seen through view3', false, PROMPT_CEILING),
      { name: 'view', type: 'string', description: 'how to look at it to see prompt2 (default flip)', choices: viewChoices },
      { name: 'view3', type: 'string', description: 'the view for prompt3 (default rotate_ccw)', choices: viewChoices },
      { name: 'max_disp', type: 'integer', description: 'skew view only: largest column shift in pixels', min: 1, max: 256 },
      modelOption,
      guidanceOption,
      stepsOption,
      seedOption,
    ],
  },
  promptOptions: ['prompt1', 'prompt2', 'prompt3'],
  variations: false,
  async parse(options, ctx) {
    const p1 = str(options, 'prompt1')!;
    const p2 = str(options, 'prompt2')!;
    const p3 = str(options, 'prompt3');
    const view3 = str(options, 'view3');
    if (view3 && !p3) throw new CommandError('invalid-option', 'view3 is for prompt3, which is missing', 'give prompt3 with view3, or drop view3');
    const view = str(options, 'view') ?? (p3 ? 'rotate_cw' : 'flip');
    const views = ['identity', view];
    if (p3) views.push(view3 ?? (view === 'rotate_ccw' ? 'rotate_cw' : 'rotate_ccw'));
    if (new Set(views).size !== views.length) {
      throw new CommandError('invalid-option', `every prompt needs its own view; got ${views.join(', ')}`, `views: ${VIEW_NAMES.filter((v) => v !== 'identity').join(', ')}`);
    }
    const maxDisp = num(options, 'max_disp');
    if (maxDisp !== undefined && !views.includes('skew')) {
      throw new CommandError('invalid-option', 'max_disp applies to the skew view only', 'use view:skew with max_disp, or drop max_disp');
    }
    const prompts = p3 ? [p1, p2, p3] : [p1, p2];
    const named = prompts.map((p, i) => [`prompt${i + 1}`, p] as const);
    return planPartA(options, ctx, named, { prompts, views, maxDisp });
  },
  describe: (p) => describeParams(p, ['prompts', 'views', 'maxDisp', ...partADescribeKeys]),
  moreSteps: (p) => doubleSteps(p),
};
