// The Part A commands (imagine, denoise, edit, inpaint, anagram, hybrid) as chat commands, made from
// their technique definitions (src/techniques): the options shown, and parse = resolve the model,
// normalize, store the uploads.
import type { TechniqueName } from '../jobs/technique-jobs.js';
import { withInputs, takesImage } from '../techniques/inputs.js';
import { edit, variationOptions } from '../techniques/edit.js';
import { technique } from '../techniques/registry.js';
import type { Technique } from '../techniques/technique.js';
import { describeParams, doubleSteps, seedOf, type CommandContext, type JobCommand } from './command.js';
import type { CommandDefinition } from './contract.js';
import { denoiserOf } from './models.js';
import { file, str, toOptionDef } from './options.js';

/** The technique's chat definition: what Discord registers, Slack parses and the web form shows. */
export function techniqueDefinition(t: Technique): CommandDefinition {
  return { name: t.name, description: t.description, replies: 'public', options: t.options.map(toOptionDef) };
}

export function techniqueCommand(name: TechniqueName): JobCommand {
  const t = technique(name);
  return {
    definition: techniqueDefinition(t),
    promptOptions: t.options.filter((o) => o.prompt).map((o) => o.name),
    // Uploads are artifacts (server paths, hashes); /job shows their size only.
    hiddenParams: ['checkpointPath', 'image', 'mask'],
    promptOf: (p) => (t.promptOf ? t.promptOf(p) : typeof p.prompt === 'string' ? p.prompt : ''),
    variation: t.variations
      ? (p, picture) => ({
          command: edit.name,
          // The checkpoint's name where it ran on one, so the variation uses the same weights.
          options: variationOptions(picture, {
            prompt: typeof p.prompt === 'string' ? p.prompt : undefined,
            model: typeof p.checkpoint === 'string' ? p.checkpoint : typeof p.model === 'string' ? p.model : undefined,
          }),
        })
      : undefined,
    async parse(options, ctx: CommandContext) {
      const resolved = ctx.models.resolveDenoiser(str(options, 'model'));
      const model = denoiserOf(resolved);
      const params = t.normalize(options, model);
      const upload = file(options, 'image');
      const image = takesImage(t) && upload ? await ctx.saveImage(upload, 'image') : undefined;
      const maskUpload = file(options, 'mask');
      const mask = maskUpload ? await ctx.saveImage(maskUpload, 'mask') : undefined;
      const full = withInputs(t, params, model, { image, mask });
      return {
        params: { ...full, checkpoint: resolved.checkpoint?.name, checkpointPath: resolved.checkpoint?.path },
        seed: seedOf(options, ctx),
        model: resolved.model,
        checkpointId: resolved.checkpoint?.id,
      };
    },
    describe: (p) => describeParams(t.captionParams ? t.captionParams(p) : p, t.describeKeys),
    moreSteps: (p) => doubleSteps(p),
  };
}
