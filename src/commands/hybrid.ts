// /hybrid: a hybrid image (seed A.1.9): `far` from a distance (low frequencies), `near` up
// close (high frequencies), by factorized diffusion.
import { describeParams, doubleSteps, guidanceOption, modelOption, promptOption, seedOption, stepsOption, type JobCommand } from './command.js';
import { num, str } from './options.js';
import { partADescribeKeys, planPartA, PROMPT_CEILING } from './part-a.js';

export const command: JobCommand = {
  definition: {
    name: 'hybrid',
    description: 'one image that shows `far` from afar and `near` up close',
    replies: 'public',
    options: [
      promptOption('far', 'what it shows from a distance (mnist-flow: a digit)', true, PROMPT_CEILING),
      promptOption('near', 'what it shows up close', true, PROMPT_CEILING),
      { name: 'sigma', type: 'number', description: 'low-pass blur σ in pixels (default 2 at 64 px, scaled)', min: 0.1, max: 16 },
      modelOption,
      guidanceOption,
      stepsOption,
      seedOption,
    ],
  },
  promptOptions: ['far', 'near'],
  variations: false,
  async parse(options, ctx) {
    const far = str(options, 'far')!;
    const near = str(options, 'near')!;
    return planPartA(options, ctx, [['far', far], ['near', near]], { far, near, sigma: num(options, 'sigma') });
  },
  describe: (p) => describeParams(p, ['far', 'near', 'sigma', ...partADescribeKeys]),
  moreSteps: (p) => doubleSteps(p),
};
