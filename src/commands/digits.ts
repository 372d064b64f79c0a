// /digits: MNIST digits from the project's flow-matching model (Part B), a digit on request with
// classifier-free guidance, or some of every digit.
import { AUTOGUIDANCE_WEIGHT, guideBeside } from '../engine/flow/autoguidance.js';
import {
  CLASS_CHURN,
  DIGITS_CFG_SCALE,
  DIGITS_MAX_STEPS,
  digitsChurn,
  digitsGuidance,
  digitsGuidanceInterval,
  MAX_CHURN,
  MAX_DIGITS,
  parseGuidanceInterval,
  TIME_CHURN,
} from '../engine/flow/digits.js';
import { describeParams, doubleSteps, seedOf, seedOption, type JobCommand } from './command.js';
import { InputError } from '../engine/errors.js';
import { num, str } from './options.js';

export { DIGITS_MAX_STEPS };

export const command: JobCommand = {
  definition: {
    name: 'digits',
    description: 'draw MNIST digits with the flow-matching model',
    replies: 'public',
    options: [
      {
        name: 'digit',
        type: 'integer',
        description: 'the digit to draw (omitted: some of every digit)',
        min: 0,
        max: 9,
      },
      {
        name: 'count',
        type: 'integer',
        description: `how many (of each digit when none is given; default 8 or 4)`,
        min: 1,
        max: MAX_DIGITS,
      },
      {
        name: 'guidance',
        type: 'number',
        description: `γ of a class model (default ${DIGITS_CFG_SCALE}); guide weight of a time model (default ${AUTOGUIDANCE_WEIGHT}, 1 = off)`,
        min: 0,
        max: 30,
      },
      {
        name: 'churn',
        type: 'number',
        description: `re-noise each step back by this many steps (default ${TIME_CHURN} time model, ${CLASS_CHURN} class model; 0 = off)`,
        min: 0,
        max: MAX_CHURN,
      },
      {
        name: 'interval',
        type: 'string',
        description: 'guide only for flow time t in LO,HI (0 noise, 1 data; default 0,1: every step)',
        maxLength: 32,
      },
      { name: 'steps', type: 'integer', description: 'Euler steps (default 50)', min: 1, max: DIGITS_MAX_STEPS },
      {
        name: 'model',
        type: 'string',
        description: 'a checkpoint name from /checkpoints (default: the class model)',
        maxLength: 64,
      },
      seedOption,
    ],
  },
  hiddenParams: ['checkpointPath'],
  promptOf: (p) => (typeof p.digit === 'number' ? `digit ${p.digit}` : 'digits'),
  async parse(options, ctx) {
    const resolved = ctx.models.resolveFlow(str(options, 'model'));
    const digit = num(options, 'digit');
    if (digit !== undefined && resolved.kind === 'time') {
      throw new InputError(
        `${resolved.model} is a time-conditioned model: it cannot draw a chosen digit`,
        'drop digit, or pick a class model from /checkpoints',
      );
    }
    const perDigit = resolved.kind === 'class' && digit === undefined;
    const count = num(options, 'count') ?? (perDigit ? 4 : 8);
    if (perDigit && count * 10 > MAX_DIGITS) {
      throw new InputError(
        `count ${count} of each of the 10 digits is ${count * 10} images; the limit is ${MAX_DIGITS}`,
        `count: 1 to ${MAX_DIGITS / 10} without digit, 1 to ${MAX_DIGITS} with one`,
      );
    }
    // A time model is autoguided by the weaker model committed beside it, when there is one.
    const guide = resolved.kind === 'time' ? guideBeside(resolved.checkpoint.path) : undefined;
    const asked = num(options, 'guidance');
    if (resolved.kind === 'time' && guide === undefined && asked !== undefined) {
      throw new InputError(
        `${resolved.model} has no guide model, so guidance does not apply to it`,
        "drop guidance: it is a class model's classifier-free scale, or the weight of a time model's committed guide",
      );
    }
    const intervalText = str(options, 'interval');
    let interval: ReturnType<typeof parseGuidanceInterval> | undefined;
    try {
      interval = intervalText === undefined ? undefined : parseGuidanceInterval(intervalText);
    } catch (e) {
      throw new InputError((e as Error).message, 'interval: two flow times LO,HI with 0 ≤ LO ≤ HI ≤ 1, e.g. 0.2,1');
    }
    return {
      params: {
        kind: resolved.kind,
        digit,
        count,
        ...digitsGuidance(resolved.kind, guide, asked),
        churn: digitsChurn(resolved.kind, num(options, 'churn')),
        guidanceInterval: digitsGuidanceInterval(resolved.kind, interval),
        steps: num(options, 'steps') ?? 50,
        checkpoint: resolved.checkpoint.name,
        checkpointPath: resolved.checkpoint.path,
      },
      seed: seedOf(options, ctx),
      model: resolved.model,
      checkpointId: resolved.checkpoint.id,
    };
  },
  describe: (p) => {
    // The interval is named only where it is not every step.
    const iv = p.guidanceInterval as readonly [number, number] | undefined;
    const interval = iv && (iv[0] > 0 || iv[1] < 1) ? `${iv[0]},${iv[1]}` : undefined;
    return describeParams({ ...p, interval }, [
      'digit',
      'count',
      'steps',
      'guidance',
      'interval',
      'churn',
      'checkpoint',
    ]);
  },
  moreSteps: (p) => doubleSteps(p, 50, DIGITS_MAX_STEPS),
};
