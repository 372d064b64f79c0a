// `illusionist denoise`: an image noised to each t and denoised by blur, one model step and iterative
// denoising, side by side (DIR/figure.png), as in the seed's A.1.1–A.1.4.
import type { Command } from 'commander';
import { checkDenoise, DEFAULT_DENOISE_TS, parseDenoiseMethod } from '../../engine/techniques/denoise.js';
import { neutralPrompt } from '../../engine/techniques/models.js';
import { parseIntOption } from '../errors.js';
import { addCommonOptions, addImageOptions,  parseImageSource, parseIntList, parseModelOption, parseSeed, runTechnique, type CommonCliOptions } from '../technique-options.js';
import { DEFAULT_STEPS, MAX_STEPS } from '../../engine/techniques/timesteps.js';

interface DenoiseCliOptions extends CommonCliOptions { image?: string; digitIndex?: string; t: string; method: string; prompt?: string; steps: string }

export function registerDenoise(program: Command): void {
  const cmd = program
    .command('denoise')
    .description('noise an image to each t, then denoise it by Gaussian blur, one model step and iterative denoising')
    .option('--t <list>', 'noise levels, comma-separated, each 1–999', DEFAULT_DENOISE_TS.join(','))
    .option('--method <m>', 'blur | one-step | iterative | all', 'all')
    .option('--prompt <text>', 'prompt of the model estimates (default: the neutral prompt)')
    .option('--steps <n>', 'iterative denoising: steps over the full 990 → 0 range (its stride below t)', String(DEFAULT_STEPS));
  addImageOptions(cmd);
  addCommonOptions(cmd).action(async (o: DenoiseCliOptions) => {
    const model = parseModelOption(o);
    const job = {
      ts: parseIntList('t', o.t, 1, 999),
      methods: parseDenoiseMethod(o.method),
      prompt: o.prompt ?? neutralPrompt(model),
      steps: parseIntOption('steps', o.steps, 1, MAX_STEPS),
      seed: parseSeed(o.seed),
    };
    checkDenoise(model, job);
    const image = parseImageSource(model, o);
    const { seed, ...params } = job;
    await runTechnique('denoise', model, o, seed, params, { image });
  });
}
