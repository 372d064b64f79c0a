// `illusionist hybrid`: a hybrid image, one prompt from afar and another up close:
// DIR/image.png, sizes.png (the image at shrinking sizes) and animation.gif (a zoom-out).
import type { Command } from 'commander';
import { checkHybrid } from '../../engine/techniques/hybrid.js';
import { parseFloatOption } from '../errors.js';
import { addCommonOptions, addSamplingOptions,  parseModelOption, parseSampling, parseSeed, runTechnique, type CommonCliOptions, type SamplingCliOptions } from '../technique-options.js';

interface HybridCliOptions extends CommonCliOptions, SamplingCliOptions { far: string; near: string; sigma?: string }

export function registerHybrid(program: Command): void {
  const cmd = program
    .command('hybrid')
    .description('hybrid image: the low frequencies of one prompt and the high frequencies of another')
    .requiredOption('--far <text>', 'what the image shows from afar (low frequencies)')
    .requiredOption('--near <text>', 'what it shows up close (high frequencies)')
    .option('--sigma <s>', 'σ of the low-pass in pixels (default 2 at 64 px, 0.875 at 28 px)');
  addSamplingOptions(cmd);
  addCommonOptions(cmd).action(async (o: HybridCliOptions) => {
    const model = parseModelOption(o);
    const job = {
      far: o.far, near: o.near,
      ...(o.sigma !== undefined ? { sigma: parseFloatOption('sigma', o.sigma, 0.01, 64) } : {}),
      ...parseSampling(o),
      seed: parseSeed(o.seed),
    };
    checkHybrid(model, job);
    const { seed, ...params } = job;
    await runTechnique('hybrid', model, o, seed, params);
  });
}
