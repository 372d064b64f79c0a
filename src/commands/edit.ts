// /edit: SDEdit (seed A.1.7) of an uploaded sketch or photo: noise it to i_start and denoise with
// the prompt; without i_start, the seed's sweep 1, 3, 5, 7, 10, 20 side by side.
import { describeParams, doubleSteps, guidanceOption, modelOption, promptOption, seedOption, stepsOption, DEFAULT_STEPS, type JobCommand } from './command.js';
import { file, num, str } from './options.js';
import { checkIStartOption, partADescribeKeys, planPartA, PROMPT_CEILING } from './part-a.js';

export const SWEEP = [1, 3, 5, 7, 10, 20] as const;

export const command: JobCommand = {
  definition: {
    name: 'edit',
    description: 'turn your sketch or photo into an image (SDEdit); higher i_start stays closer to it',
    replies: 'public',
    options: [
      { name: 'image', type: 'attachment', description: 'the sketch or photo to start from', required: true },
      promptOption('prompt', 'what it should become (mnist-flow: a digit; default: unconditional)', false, PROMPT_CEILING),
      { name: 'i_start', type: 'integer', description: 'noise level to start from (0 = pure noise); omitted: a sweep 1…20', min: 0, max: 199 },
      modelOption,
      guidanceOption,
      stepsOption,
      seedOption,
    ],
  },
  promptOptions: ['prompt'],
  variations: true,
  async parse(options, ctx) {
    const prompt = str(options, 'prompt') ?? '';
    const steps = num(options, 'steps') ?? DEFAULT_STEPS;
    const iStart = num(options, 'i_start');
    if (iStart !== undefined) checkIStartOption(iStart, steps);
    else if (steps - 1 < SWEEP[SWEEP.length - 1]!) checkIStartOption(SWEEP[SWEEP.length - 1]!, steps);
    const plan = planPartA(options, ctx, prompt ? [['prompt', prompt]] : [], { prompt, iStarts: iStart === undefined ? [...SWEEP] : [iStart] });
    const image = await ctx.saveImage(file(options, 'image')!, 'image');
    return { ...plan, params: { ...plan.params, image } };
  },
  describe: (p) => describeParams(p, ['prompt', 'iStarts', ...partADescribeKeys]),
  moreSteps: (p) => doubleSteps(p),
};
