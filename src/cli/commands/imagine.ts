// `illusionist imagine`: text-to-image with classifier-free guidance; for mnist-flow the prompt is a digit.
// Writes DIR/image.png (native), image-large.png, progression.png and job.json.
import type { Command } from 'commander';
import { checkImagine, imagineDefaults, MAX_COUNT } from '../../engine/techniques/imagine.js';
import { parseIntOption } from '../errors.js';
import { addCommonOptions, addSamplingOptions,  parseModelOption, parseSampling, parseSeed, runTechnique, type CommonCliOptions, type SamplingCliOptions } from '../technique-options.js';

interface ImagineCliOptions extends CommonCliOptions, SamplingCliOptions { prompt: string; count: string }

export function registerImagine(program: Command): void {
  const cmd = program
    .command('imagine')
    .description('text-to-image with classifier-free guidance (mnist-flow: the prompt is a digit, e.g. 7 or "seven")')
    .requiredOption('--prompt <text>', 'what to draw')
    .option('--count <n>', `images in one batch (1–${MAX_COUNT})`, String(imagineDefaults().count));
  addSamplingOptions(cmd);
  addCommonOptions(cmd).action(async (o: ImagineCliOptions) => {
    const model = parseModelOption(o);
    const job = { prompt: o.prompt, ...parseSampling(o), count: parseIntOption('count', o.count, 1, MAX_COUNT), seed: parseSeed(o.seed) };
    checkImagine(model, job);
    const { seed, ...params } = job;
    await runTechnique('imagine', model, o, seed, params);
  });
}
