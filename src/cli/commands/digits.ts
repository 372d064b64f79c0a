// `illusionist digits`: MNIST digits from the committed flow models (or any checkpoint), run as a job
// and written as DIR/grid.png and DIR/<index>_<label>.png, with the seed recorded in DIR/job.json.
import { join, resolve } from 'node:path';
import { randomInt } from 'node:crypto';
import type { Command } from 'commander';
import { resolveCheckpoint } from '../../engine/flow/checkpoints.js';
import { AUTOGUIDANCE_WEIGHT, guideBeside } from '../../engine/flow/autoguidance.js';
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
} from '../../engine/flow/digits.js';
import { MAX_SEED } from '../../engine/random.js';
import { ODE_SOLVERS, type OdeSolver } from '../../engine/flow/euler.js';
import type { DigitsParams } from '../../jobs/engine-handlers.js';
import { parseFloatOption, parseIntOption } from '../errors.js';
import { InputError } from '../../engine/errors.js';
import { openCliStore, runCliJob } from '../job-client.js';
import type { Store } from '../../store/index.js';

interface DigitsCliOptions {
  solver?: string;
  digit?: string;
  count?: string;
  guidance?: string;
  guide?: string;
  churn?: string;
  guidanceInterval?: string;
  churnInterval?: string;
  steps?: string;
  seed?: string;
  checkpoint?: string;
  kind: string;
  out?: string;
}

export function registerDigits(program: Command): void {
  program
    .command('digits')
    .description(
      'generate MNIST digits with the flow-matching model (Euler sampler; classifier-free guidance, or autoguidance for the time model)',
    )
    .option('--digit <0-9>', 'the digit to draw (omitted: some of every digit)')
    .option('--count <n>', 'images of the digit (with --digit), of each digit (class model) or in all (time model)')
    .option(
      '--guidance <g>',
      `classifier-free guidance scale γ for the class model (default ${DIGITS_CFG_SCALE}); autoguidance weight w for the time model (default ${AUTOGUIDANCE_WEIGHT}, 1 = unguided)`,
    )
    .option(
      '--guide <ref>',
      'time model: the weaker time model that guides it (default: the guide committed beside the model; none = unguided)',
    )
    .option(
      '--churn <γ>',
      `stochastic churn: re-noise each step back by γ steps, then step on (default ${DIGITS_DEFAULTS.time.churn} for the time model, ${DIGITS_DEFAULTS.class.churn} for the class model; 0 = the plain ODE; 0–${MAX_CHURN})`,
    )
    .option(
      '--churn-interval <lo,hi>',
      `churn only on steps from flow time t in [lo, hi] (default ${formatInterval(DIGITS_DEFAULTS.class.churnInterval)} for the class model, ${formatInterval(DIGITS_DEFAULTS.time.churnInterval)} for the time model)`,
    )
    .option(
      '--guidance-interval <lo,hi>',
      `apply the guidance (CFG, or the time model's guide) only for flow time t in [lo, hi] (0 noise, 1 data); elsewhere the model runs alone (default ${formatInterval(DIGITS_DEFAULTS.class.guidanceInterval)} for the class model, ${formatInterval(DIGITS_DEFAULTS.time.guidanceInterval)} for the time model)`,
    )
    .option(
      '--solver <name>',
      `ODE solver: ${ODE_SOLVERS.join(', ')} (default ${DIGITS_DEFAULTS.class.solver} for the class model, ${DIGITS_DEFAULTS.time.solver} for the time model; heun evaluates the model twice a step, dpm2m is DPM-Solver++ (2M) at one evaluation a step, first-order on churned steps)`,
    )
    .option(
      '--steps <T>',
      `sampler steps (1–${DIGITS_MAX_STEPS}; default ${DIGITS_DEFAULTS.class.steps} for the class model, ${DIGITS_DEFAULTS.time.steps} for the time model)`,
    )
    .option('--seed <n>', 'random seed (default: a new one, printed)')
    .option('--kind <kind>', 'class (digits on request) or time (unconditional)', 'class')
    .option(
      '--checkpoint <ref>',
      'checkpoint id from the store (`/checkpoints`), committed model name, .safetensors file or training run folder',
    )
    .requiredOption('--out <dir>', 'output folder')
    .action(async (o: DigitsCliOptions) => runDigits(o));
}

async function runDigits(o: DigitsCliOptions): Promise<void> {
  if (o.kind !== 'class' && o.kind !== 'time') throw new InputError(`--kind must be class or time, got '${o.kind}'`);
  const digit = o.digit === undefined ? undefined : parseIntOption('digit', o.digit, 0, 9);
  if (digit !== undefined && o.kind === 'time')
    throw new InputError(
      '--digit needs the class model; the time model draws unconditional digits (drop --digit or use --kind class)',
    );
  const perDigit = o.kind === 'class' && digit === undefined;
  const count =
    o.count === undefined
      ? perDigit
        ? 4
        : o.kind === 'time'
          ? 40
          : 8
      : parseIntOption('count', o.count, 1, perDigit ? MAX_DIGITS / 10 : MAX_DIGITS);
  const asked = o.guidance === undefined ? undefined : parseFloatOption('guidance', o.guidance, 0, 30);
  if (o.guide !== undefined && o.kind !== 'time')
    throw new InputError(
      '--guide applies to --kind time; the class model is guided by its own null-class pass (--guidance)',
    );
  const churn = o.churn === undefined ? undefined : parseFloatOption('churn', o.churn, 0, MAX_CHURN);
  const interval = intervalOption(o.guidanceInterval, 'guidance interval');
  const churnInterval = intervalOption(o.churnInterval, 'churn interval');
  const steps = o.steps === undefined ? undefined : parseIntOption('steps', o.steps, 1, DIGITS_MAX_STEPS);
  if (o.solver !== undefined && !(ODE_SOLVERS as readonly string[]).includes(o.solver))
    throw new InputError(`--solver must be one of ${ODE_SOLVERS.join(', ')}, got '${o.solver}'`);
  const solver = o.solver as OdeSolver | undefined;
  const seed = o.seed === undefined ? randomInt(0, 2 ** 31) : parseIntOption('seed', o.seed, 0, MAX_SEED);
  const store = openCliStore();
  try {
    const { checkpoint, path } = resolveCheckpoint(checkpointRef(store, o.checkpoint), o.kind);
    if (checkpoint.spec.kind !== o.kind)
      throw new InputError(
        `${path} holds a ${checkpoint.spec.kind} model, not a ${o.kind} model (pass --kind ${checkpoint.spec.kind})`,
      );
    const guidePath = o.kind === 'time' ? resolveGuide(store, o.guide, path) : undefined;
    if (o.kind === 'time' && guidePath === undefined && asked !== undefined) {
      throw new InputError(
        o.guide === 'none'
          ? '--guidance for the time model weighs its guide, and --guide none turns the guide off; drop one of the two'
          : `--guidance for the time model weighs its guide, and ${path} has none beside it; pass --guide CHECKPOINT`,
      );
    }
    const params: DigitsParams = {
      kind: o.kind,
      digit,
      count,
      checkpointPath: resolve(path),
      ...digitsGuidance(o.kind, guidePath, asked),
      ...digitsSampler(o.kind, { churn, guidanceInterval: interval, churnInterval, steps, solver }),
    };
    const out = o.out!;
    const { jobId, result } = await runCliJob(
      store,
      { command: 'digits', params, seed, model: `mnist-${o.kind}` },
      out,
    );
    const seconds = result.metrics.seconds ?? 0;
    const guided = params.guidePath ? `, guided by ${params.guidePath} with w ${params.guidance}` : '';
    const churned = params.churn ? `, churn ${params.churn}` : '';
    const iv = params.guidanceInterval;
    const within = iv && (iv[0] > 0 || iv[1] < 1) ? `, guidance for t in [${iv[0]}, ${iv[1]}]` : '';
    const ci = params.churnInterval;
    const churnedWhere = params.churn && ci ? ` for t in [${ci[0]}, ${ci[1]}]` : '';
    const solved = `, ${params.steps} ${params.solver ?? 'euler'} steps`;
    process.stdout.write(
      `${result.metrics.digits} digits in ${seconds.toFixed(2)} s (seed ${seed}${guided}${churned}${churnedWhere}${within}${solved}) → ${join(out, 'grid.png')} · job #${jobId}\n`,
    );
  } finally {
    store.close();
  }
}

/** `lo,hi` as the user wrote it, for an option named after `what`; absent: undefined. */
function intervalOption(text: string | undefined, what: string) {
  if (text === undefined) return undefined;
  try {
    return parseGuidanceInterval(text, what);
  } catch (e) {
    throw new InputError(`--${(e as Error).message}`);
  }
}

/** The guide of a time model: --guide's checkpoint, none, or the one committed beside the model. */
function resolveGuide(store: Store, ref: string | undefined, modelPath: string): string | undefined {
  if (ref === 'none') return undefined;
  if (ref === undefined) return guideBeside(modelPath);
  const { checkpoint, path } = resolveCheckpoint(checkpointRef(store, ref), 'time');
  if (checkpoint.spec.kind !== 'time')
    throw new InputError(
      `--guide ${ref} holds a ${checkpoint.spec.kind} model; a time model is guided by another time model`,
    );
  return resolve(path);
}

/** A bare number is a checkpoint id in the store (as /checkpoints lists them); anything else passes through. */
function checkpointRef(store: Store, ref: string | undefined): string | undefined {
  if (ref === undefined || !/^\d+$/.test(ref)) return ref;
  const found = store.training.getCheckpoint(Number(ref));
  if (!found)
    throw new InputError(
      `there is no checkpoint #${ref} in the store; list them with /checkpoints (or give a file or model name)`,
    );
  return found.path;
}
