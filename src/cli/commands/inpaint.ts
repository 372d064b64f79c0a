// `illusionist inpaint`: repaints the white part of a mask image, or a box x,y,w,h in the model's
// pixels; everything outside stays exactly the input.
import type { Command } from 'commander';
import { parseBox, type MaskSource } from '../../engine/techniques/inputs.js';
import { checkInpaint } from '../../engine/techniques/inpaint.js';
import { neutralPrompt } from '../../engine/techniques/models.js';
import { UsageError } from '../errors.js';
import { addCommonOptions, addImageOptions, addSamplingOptions,  parseImageSource, parseModelOption, parseSampling, parseSeed, readFileOption, runTechnique, type CommonCliOptions, type SamplingCliOptions } from '../technique-options.js';

interface InpaintCliOptions extends CommonCliOptions, SamplingCliOptions { image?: string; digitIndex?: string; mask?: string; box?: string; prompt?: string }

export function registerInpaint(program: Command): void {
  const cmd = program
    .command('inpaint')
    .description('repaint a region (white in --mask, or --box) and keep the rest of the image exactly')
    .option('--mask <file>', 'mask image: white = regenerate, black = keep (fitted like the input)')
    .option('--box <x,y,w,h>', "region to regenerate, in the model's pixels (28×28 mnist-flow, 64×64 deepfloyd-if)")
    .option('--prompt <text>', 'what to paint in (default: the neutral prompt)');
  addImageOptions(cmd);
  addSamplingOptions(cmd);
  addCommonOptions(cmd).action(async (o: InpaintCliOptions) => {
    const model = parseModelOption(o);
    if ((o.mask === undefined) === (o.box === undefined)) throw new UsageError('give exactly one of --mask FILE (white = regenerate) or --box x,y,w,h');
    const mask: MaskSource = o.box !== undefined ? { box: parseBox(o.box!) } : { bytes: readFileOption('mask', o.mask!), name: o.mask! };
    const job = { mask, prompt: o.prompt ?? neutralPrompt(model), ...parseSampling(o), seed: parseSeed(o.seed) };
    await checkInpaint(model, job);
    const image = parseImageSource(model, o);
    const { seed, mask: region, ...params } = job;
    await runTechnique('inpaint', model, o, seed, { ...params, ...('box' in region ? { modelBox: region.box } : {}) }, { image, ...('bytes' in region ? { mask: region } : {}) });
  });
}
