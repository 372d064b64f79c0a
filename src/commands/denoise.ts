// /denoise: noise an uploaded image to i_start and take it back (seed A.1.2–A.1.4): the noisy
// image, a Gaussian blur, the one-step estimate and iterative denoising side by side.
import { describeParams, doubleSteps, modelOption, promptOption, seedOption, stepsOption, DEFAULT_STEPS, type JobCommand } from './command.js';
import { file, num, str } from './options.js';
import { checkIStartOption, partADescribeKeys, planPartA, PROMPT_CEILING } from './part-a.js';

export const command: JobCommand = {
  definition: {
    name: 'denoise',
    description: 'add noise to your image, then remove it: blur vs one-step vs iterative denoising',
    replies: 'public',
    options: [
      { name: 'image', type: 'attachment', description: 'the image to noise and denoise', required: true },
      { name: 'i_start', type: 'integer', description: 'where to start in the timesteps (default 10: t = 690 of 990)', min: 0, max: 199 },
      promptOption('prompt', 'what the image shows (optional; mnist-flow: the digit)', false, PROMPT_CEILING),
      modelOption,
      stepsOption,
      seedOption,
    ],
  },
  promptOptions: ['prompt'],
  variations: false,
  async parse(options, ctx) {
    const prompt = str(options, 'prompt') ?? '';
    const steps = num(options, 'steps') ?? DEFAULT_STEPS;
    const iStart = num(options, 'i_start') ?? Math.min(10, steps - 1);
    checkIStartOption(iStart, steps);
    const plan = planPartA(options, ctx, prompt ? [['prompt', prompt]] : [], { prompt, iStart });
    const image = await ctx.saveImage(file(options, 'image')!, 'image');
    return { ...plan, params: { ...plan.params, image } };
  },
  describe: (p) => describeParams(p, ['prompt', 'iStart', ...partADescribeKeys]),
  moreSteps: (p) => doubleSteps(p),
};
