// What the Part A commands (imagine, denoise, edit, inpaint, anagram, hybrid) share: the model
// choice, digit prompts for mnist-flow, steps and guidance, and the i_start range.
import { parseDigitPrompt } from '../engine/denoisers/mnist-flow.js';
import type { CommandContext, JobPlan } from './command.js';
import { DEFAULT_STEPS, seedOf } from './command.js';
import { CommandError } from './errors.js';
import { num, str, type ParsedOptions } from './options.js';

/** Longest prompt any definition accepts; the operator's (lower) limit is checked by the service. */
export const PROMPT_CEILING = 1000;

export function checkIStartOption(iStart: number, steps: number): void {
  if (iStart > steps - 1) {
    throw new CommandError(
      'invalid-option',
      `i_start ${iStart} leaves no step to take with ${steps} steps`,
      `i_start: 0 to ${steps - 1} (0 = pure noise; higher = closer to your image); or raise steps`,
    );
  }
}

/**
 * Resolves the model, checks the prompts make sense for it (mnist-flow draws digits only) and
 * returns the job with the shared parameters merged into `extra`.
 */
export function planPartA(options: ParsedOptions, ctx: CommandContext, prompts: readonly (readonly [option: string, text: string])[], extra: Record<string, unknown>): JobPlan {
  const resolved = ctx.models.resolveDenoiser(str(options, 'model'));
  const isMnist = resolved.model !== 'deepfloyd-if';
  if (isMnist) {
    for (const [option, text] of prompts) {
      try {
        parseDigitPrompt(text);
      } catch {
        throw new CommandError(
          'invalid-option',
          `${option} "${text}" is not a digit, and ${resolved.model} draws digits only`,
          'a digit 0–9 or its word ("7", "seven", "a 7"); for text prompts use model deepfloyd-if if the bot has it',
        );
      }
    }
  }
  const steps = num(options, 'steps') ?? DEFAULT_STEPS;
  const guidance = num(options, 'guidance') ?? (isMnist ? 5 : 7);
  return {
    params: {
      ...extra,
      model: isMnist ? 'mnist-flow' : 'deepfloyd-if',
      checkpoint: resolved.checkpoint?.name,
      checkpointPath: resolved.checkpoint?.path,
      steps,
      guidance,
    },
    seed: seedOf(options, ctx),
    model: resolved.model,
    checkpointId: resolved.checkpoint?.id,
  };
}

export const partADescribeKeys = ['model', 'steps', 'guidance'] as const;
