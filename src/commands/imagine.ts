// /imagine: text to image with classifier-free guidance (seed A.1.5–A.1.6) on the chosen model.
import { describeParams, doubleSteps, guidanceOption, modelOption, promptOption, seedOption, stepsOption, type JobCommand } from './command.js';
import { str, num } from './options.js';
import { partADescribeKeys, planPartA, PROMPT_CEILING } from './part-a.js';

export const command: JobCommand = {
  definition: {
    name: 'imagine',
    description: 'make an image from a prompt (classifier-free guidance)',
    replies: 'public',
    options: [
      promptOption('prompt', 'what to draw (mnist-flow: a digit, e.g. "7")', true, PROMPT_CEILING),
      { name: 'count', type: 'integer', description: 'images to make (default 1)', min: 1, max: 4 },
      modelOption,
      guidanceOption,
      stepsOption,
      seedOption,
    ],
  },
  promptOptions: ['prompt'],
  variations: true,
  async parse(options, ctx) {
    const prompt = str(options, 'prompt')!;
    return planPartA(options, ctx, [['prompt', prompt]], { prompt, count: num(options, 'count') ?? 1 });
  },
  describe: (p) => describeParams(p, ['prompt', 'count', ...partADescribeKeys]),
  moreSteps: (p) => doubleSteps(p),
};
