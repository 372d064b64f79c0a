// /digits: MNIST digits from the project's flow-matching model (Part B), a digit on request with
// classifier-free guidance, or some of every digit.
import { AUTOGUIDANCE_WEIGHT, guideBeside } from '../engine/flow/autoguidance.js';
import {
  DIGITS_CFG_SCALE,
  DIGITS_DEFAULTS,
  DIGITS_MAX_STEPS,
  digitsGuidance,
  digitsSampler,
  formatInterval,
  MAX_CHURN,
  MAX_DIGITS,
  parseGuidanceInterval,
} from '../engine/flow/digits.js';
import { ODE_SOLVERS, type OdeSolver } from '../engine/flow/euler.js';
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
        description: `re-noise each step back by this many steps (default ${DIGITS_DEFAULTS.time.churn} time model, ${DIGITS_DEFAULTS.class.churn} class model; 0 = off)`,
        min: 0,
        max: MAX_CHURN,
      },
      {
        name: 'churn_interval',
        type: 'string',
        description: `churn only on steps from flow time t in LO,HI (default ${formatInterval(DIGITS_DEFAULTS.class.churnInterval)} class model)`,
        maxLength: 32,
      },
      {
        name: 'interval',
        type: 'string',
        description: `guide only for flow time t in LO,HI (0 noise, 1 data; default ${formatInterval(DIGITS_DEFAULTS.class.guidanceInterval)} class model, ${formatInterval(DIGITS_DEFAULTS.time.guidanceInterval)} time model)`,
        maxLength: 32,
      },
      {
        name: 'steps',
        type: 'integer',
        description: `sampler steps (default ${DIGITS_DEFAULTS.class.steps} class model, ${DIGITS_DEFAULTS.time.steps} time model)`,
        min: 1,
        max: DIGITS_MAX_STEPS,
      },
      {
        name: 'solver',
        type: 'string',
        description: `ODE solver (default ${DIGITS_DEFAULTS.class.solver} class model, ${DIGITS_DEFAULTS.time.solver} time model)`,
        choices: ODE_SOLVERS.map((v) => ({ name: v, value: v })),
      },
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
    const interval = intervalOption(str(options, 'interval'), 'interval', 'guidance interval');
    const churnInterval = intervalOption(str(options, 'churn_interval'), 'churn_interval', 'churn interval');
    // One of ODE_SOLVERS: the option's choices are checked before parse.
    const solverText = str(options, 'solver');
    return {
      params: {
        kind: resolved.kind,
        digit,
        count,
        ...digitsGuidance(resolved.kind, guide, asked),
        ...digitsSampler(resolved.kind, {
          churn: num(options, 'churn'),
          guidanceInterval: interval,
          churnInterval,
          steps: num(options, 'steps'),
          solver: solverText as OdeSolver | undefined,
        }),
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
    const interval = iv && (iv[0] > 0 || iv[1] < 1) ? formatInterval(iv) : undefined;
    const ci = p.churnInterval as readonly [number, number] | undefined;
    const churn_interval = ci && p.churn ? formatInterval(ci) : undefined;
    return describeParams({ ...p, interval, churn_interval }, [
      'digit',
      'count',
      'steps',
      'solver',
      'guidance',
      'interval',
      'churn',
      'churn_interval',
      'checkpoint',
    ]);
  },
  moreSteps: (p) => doubleSteps(p, 50, DIGITS_MAX_STEPS),
};

/** A chat option's LO,HI flow-time interval, or undefined where it was left out. */
function intervalOption(text: string | undefined, option: string, what: string) {
  if (text === undefined) return undefined;
  try {
    return parseGuidanceInterval(text, what);
  } catch (e) {
    throw new InputError((e as Error).message, `${option}: two flow times LO,HI with 0 ≤ LO ≤ HI ≤ 1, e.g. 0.2,1`);
  }
}
