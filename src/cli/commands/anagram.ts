// `illusionist anagram`: a visual anagram, e.g. a 6 that reads 9 turned upside down:
// DIR/image.png, views.png (every view, captioned) and animation.gif (the illusion turning).
import type { Command } from 'commander';
import { anagramDefaults, checkAnagram } from '../../engine/techniques/anagram.js';
import { VIEW_NAMES } from '../../engine/views/registry.js';
import { parseIntOption } from '../errors.js';
import { addCommonOptions, addSamplingOptions,  parseModelOption, parseSampling, parseSeed, runTechnique, type CommonCliOptions, type SamplingCliOptions } from '../technique-options.js';

interface AnagramCliOptions extends CommonCliOptions, SamplingCliOptions { prompt1: string; prompt2: string; prompt3?: string; view?: string; maxDisp?: string }

export function registerAnagram(program: Command): void {
  const cmd = program
    .command('anagram')
    .description('visual anagram: prompt 1 as is, prompt 2 (and 3) through a view')
    .requiredOption('--prompt1 <text>', 'what the image shows as is')
    .requiredOption('--prompt2 <text>', 'what it shows through the (first) view')
    .option('--prompt3 <text>', 'what it shows through the second view')
    .option('--view <names>', `view of prompt 2, or views of prompts 2,3 (default flip; rotate_cw,rotate_ccw with --prompt3): ${VIEW_NAMES.join(', ')}`)
    .option('--max-disp <n>', 'skew view: largest column shift in pixels');
  addSamplingOptions(cmd);
  addCommonOptions(cmd).action(async (o: AnagramCliOptions) => {
    const model = parseModelOption(o);
    const prompts = [o.prompt1, o.prompt2, ...(o.prompt3 !== undefined ? [o.prompt3] : [])];
    const defaults = anagramDefaults(prompts.length);
    const job = {
      prompts,
      views: o.view !== undefined ? o.view.split(',').map((v) => v.trim()) : defaults.views,
      ...(o.maxDisp !== undefined ? { maxDisp: parseIntOption('max-disp', o.maxDisp, 1, 4096) } : {}),
      ...parseSampling(o),
      seed: parseSeed(o.seed),
    };
    checkAnagram(model, job);
    const { seed, ...params } = job;
    await runTechnique('anagram', model, o, seed, params);
  });
}
