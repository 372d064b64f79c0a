// `illusionist edit`: SDEdit image-to-image (photos, web images, hand-drawn sketches), one edit per
// i_start in a strip (DIR/strip.png); a higher i_start stays closer to the input.
import type { Command } from 'commander';
import { checkEdit, editDefaults } from '../../engine/techniques/edit.js';
import { neutralPrompt } from '../../engine/techniques/models.js';
import { addCommonOptions, addImageOptions, addSamplingOptions,  parseImageSource, parseIntList, parseModelOption, parseSampling, parseSeed, runTechnique, type CommonCliOptions, type SamplingCliOptions } from '../technique-options.js';

interface EditCliOptions extends CommonCliOptions, SamplingCliOptions { image?: string; digitIndex?: string; iStart: string; prompt?: string }

export function registerEdit(program: Command): void {
  const cmd = program
    .command('edit')
    .description('SDEdit: noise the image to timesteps[i_start] and denoise it with guidance, once per i_start')
    .option('--i-start <list>', 'indices into the timestep list, comma-separated (higher = closer to the input)', editDefaults().iStarts.join(','))
    .option('--prompt <text>', 'what the edit should show (default: the neutral prompt)');
  addImageOptions(cmd);
  addSamplingOptions(cmd);
  addCommonOptions(cmd).action(async (o: EditCliOptions) => {
    const model = parseModelOption(o);
    const job = { iStarts: parseIntList('i-start', o.iStart, 0, 989), prompt: o.prompt ?? neutralPrompt(model), ...parseSampling(o), seed: parseSeed(o.seed) };
    checkEdit(model, job);
    const image = parseImageSource(model, o);
    const { seed, ...params } = job;
    await runTechnique('edit', model, o, seed, params, { image });
  });
}
