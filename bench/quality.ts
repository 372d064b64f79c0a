// Sample quality of the committed Part B models, read by the digit judge (a CNN trained here on 9 in
// 10 real digits; see src/engine/flow/judge.ts): the share of samples it reads as one digit with
// confidence ≥ 0.9 (for the class model, the requested digit), against the same share of real
// held-out digits; and their variety, in the judge's feature space (its penultimate layer): the
// Fréchet distance to the real held-out digits (FD; the floor is real digits against real digits),
// the spread within each digit against real digits' spread, and k-NN precision / recall. The class
// model is measured at several guidance scales and intervals, the time model alone and autoguided
// at several weights, each with the plain ODE and with the sampler's churn.
//
// Then the Part A illusions on mnist-flow at their defaults (bench/illusions.ts): anagram and hybrid.
//
// QUALITY_BATCHES=1 (default 4: 400 samples) and QUALITY_ONLY=class|time|illusions make a quicker run for
// trying things; the figures in README and the model cards come from the full one.
import { loadEmbeddedMnist } from '../src/engine/data/mnist.js';
import { AUTOGUIDANCE_WEIGHT, autoguided, guideBeside } from '../src/engine/flow/autoguidance.js';
import { listCommittedModels } from '../src/engine/flow/checkpoints.js';
import { CFG_SCALE, digitsGuidance, digitsSampler, TIME_CHURN } from '../src/engine/flow/digits.js';
import {
  EVERY_STEP,
  eulerSample,
  ODE_SOLVERS,
  type FlowModel,
  type GuidanceInterval,
  type OdeSolver,
} from '../src/engine/flow/euler.js';
import {
  frechetDistance,
  meanPairwiseDistance,
  precisionRecall,
  rowsWhere,
  spreadRows,
  type FeatureSet,
} from '../src/engine/flow/frechet.js';
import {
  FEATURE_DIM,
  qualityOf,
  trainDigitJudge,
  type DigitJudge,
  type QualityFigures,
  type Verdict,
} from '../src/engine/flow/judge.js';
import { loadOnnxFlowModel, type OnnxFlowModel } from '../src/engine/flow/onnx-flow-model.js';
import { loadCheckpoint, pixelRange } from '../src/engine/flow/trainer.js';
import { loadMnistFlowDenoiser } from '../src/engine/denoisers/mnist-flow-onnx.js';
import { mnistFlow } from '../src/engine/models/mnist-flow.js';
import { benchIllusions } from './illusions.js';

const THRESHOLD = 0.9;
/** Samples per measurement: BATCHES batches of 100 with seeds 0, 1, …; the class model asks 10 of each digit per batch. */
const BATCHES = Number(process.env.QUALITY_BATCHES ?? 4);
const ONLY = process.env.QUALITY_ONLY;
// QUALITY_SOLVER=heun|dpm2m and QUALITY_STEPS=N judge another ODE solver or step count (default Euler, 50)
// for every row that names none.
const SOLVER = (process.env.QUALITY_SOLVER ?? 'euler') as OdeSolver;
const STEPS = Number(process.env.QUALITY_STEPS ?? 50);
if (!(ODE_SOLVERS as readonly string[]).includes(SOLVER))
  throw new Error(`QUALITY_SOLVER must be one of ${ODE_SOLVERS.join(', ')}, got '${SOLVER}'`);
if (!Number.isInteger(STEPS) || STEPS < 1)
  throw new Error(`QUALITY_STEPS must be a positive integer, got '${process.env.QUALITY_STEPS}'`);

/** The real digits every sample set is compared with. */
interface Reference {
  heldOut: FeatureSet;
  heldOutLabels: number[];
  /** Each digit's mean pairwise feature distance among the real held-out digits. */
  spread: number[];
  /** N held-out digits spread over all ten classes, for precision / recall at the samples' own set size. */
  subset(n: number): FeatureSet;
}

interface Variety {
  fd: number;
  /** Per digit, the samples' spread over real digits' spread (1: as varied as handwriting). */
  spreadRatio: number[];
  precision: number;
  recall: number;
}

function varietyOf(ref: Reference, samples: FeatureSet, classOf: number[]): Variety {
  const spreadRatio = ref.spread.map((real, d) => meanPairwiseDistance(rowsWhere(samples, classOf, d)) / real);
  const { precision, recall } = precisionRecall(samples, ref.subset(samples.data.length / samples.dim));
  return { fd: frechetDistance(samples, ref.heldOut), spreadRatio, precision, recall };
}

/** `floor`: the Fréchet distance of as many real digits as the samples, against the same held-out ones. */
function formatVariety(v: Variety, floor: number): string {
  const known = v.spreadRatio.filter((r) => Number.isFinite(r));
  const mean = known.reduce((a, b) => a + b, 0) / Math.max(1, known.length);
  const least = v.spreadRatio.indexOf(Math.min(...known));
  return `FD ${v.fd.toFixed(2)} (${(v.fd / floor).toFixed(1)}× floor), spread ${mean.toFixed(2)} of real (least: ${least} ${v.spreadRatio[least]!.toFixed(2)}), precision ${v.precision.toFixed(2)}, recall ${v.recall.toFixed(2)}`;
}

function format(q: QualityFigures): string {
  // Variety: a sampler can read well by drawing mostly easy digits (1s), so show the spread of the
  // judge's best guesses too.
  const total = q.histogram.reduce((a, b) => a + b, 0);
  const share = (n: number) => `${((100 * n) / Math.max(1, total)).toFixed(0)}%`;
  const most = q.histogram.indexOf(Math.max(...q.histogram));
  const least = q.histogram.indexOf(Math.min(...q.histogram));
  const asAsked = q.readAsAsked === null ? '' : `${(100 * q.readAsAsked).toFixed(1)}% read as asked (best guess), `;
  return `${asAsked}${(100 * q.readable).toFixed(1)}% readable (confidence ≥ ${THRESHOLD}) of ${q.samples}; read as 0–9: ${q.histogram.join(' ')} (commonest ${most}: ${share(q.histogram[most]!)}, rarest ${least}: ${share(q.histogram[least]!)})`;
}

interface Setting {
  guidance: number;
  churn?: number;
  interval?: GuidanceInterval;
  /** Where churn applies; absent: the sampler's own default (from the start to 0.9). */
  churnInterval?: GuidanceInterval;
  steps?: number;
  solver?: OdeSolver;
}

async function measure(
  judge: DigitJudge,
  ref: Reference,
  model: FlowModel,
  conditional: boolean,
  s: Setting,
): Promise<{ q: QualityFigures; v: Variety; seconds: number }> {
  const verdicts: Verdict[] = [];
  const asked: Array<number | null> = [];
  const features = new Float32Array(BATCHES * 100 * FEATURE_DIM);
  let seconds = 0;
  for (let b = 0; b < BATCHES; b++) {
    const labels = Array.from({ length: 100 }, (_, i) => (conditional ? i % 10 : null));
    const started = performance.now();
    const x = await eulerSample(model, {
      labels,
      steps: s.steps ?? STEPS,
      guidance: s.guidance,
      seed: b,
      churn: s.churn ?? 0,
      guidanceInterval: s.interval,
      churnInterval: s.churnInterval,
      solver: s.solver ?? SOLVER,
    });
    seconds += (performance.now() - started) / 1000;
    const [lo, hi] = pixelRange(conditional ? 'class' : 'time');
    const images = x.map((v) => Math.min(1, Math.max(0, (v - lo) / (hi - lo))));
    verdicts.push(...(await judge.judge(images)));
    features.set(await judge.features(images), b * 100 * FEATURE_DIM);
    asked.push(...labels);
  }
  // Within a digit: the requested one, or for the unconditional model the one the judge reads.
  const classOf = asked.map((a, i) => a ?? verdicts[i]!.label);
  return {
    q: qualityOf(verdicts, asked, THRESHOLD),
    v: varietyOf(ref, { data: features, dim: FEATURE_DIM }, classOf),
    seconds,
  };
}

async function served(path: string): Promise<OnnxFlowModel> {
  const ck = loadCheckpoint(path);
  return loadOnnxFlowModel(ck.spec, ck.servingWeights);
}

/** A class-model row's name: every setting, in the sampler's own terms. */
function describeSetting(s: Setting): string {
  const churn = s.churn ?? 0;
  const where =
    churn > 0 && s.churnInterval !== undefined ? ` on t in [${s.churnInterval[0]}, ${s.churnInterval[1]}]` : '';
  return `CFG γ = ${s.guidance} ${named(s.interval)}, churn ${churn}${where}, ${s.steps ?? STEPS} ${s.solver ?? SOLVER} steps`;
}

const named = (i: GuidanceInterval | undefined) =>
  i === undefined || (i[0] === 0 && i[1] === 1) ? 'every step' : `t in [${i[0]}, ${i[1]}]`;

export async function benchQuality(): Promise<void> {
  const started = performance.now();
  const judge = await trainDigitJudge(loadEmbeddedMnist(), { seed: 0 });
  console.log(
    `digit judge: ${(100 * judge.heldOutAccuracy).toFixed(1)}% correct on ${judge.heldOut.labels.length} held-out real digits, trained in ${((performance.now() - started) / 1000).toFixed(0)} s`,
  );
  const heldOut = { data: await judge.features(judge.heldOut.images), dim: FEATURE_DIM };
  const trained = { data: await judge.features(judge.trained.images), dim: FEATURE_DIM };
  const ref: Reference = {
    heldOut,
    heldOutLabels: judge.heldOut.labels,
    spread: Array.from({ length: 10 }, (_, d) => meanPairwiseDistance(rowsWhere(heldOut, judge.heldOut.labels, d))),
    subset: (n) => spreadRows(heldOut, n).set,
  };
  // The floor: real digits against real digits. The held-out digits against all the others (9,000);
  // and, what a sample set is compared with, as many real digits as it has (spread over the
  // classes) against the held-out ones, the mean of 5 such sets: the Fréchet distance of a finite
  // set is biased upward as it shrinks (400 digits in 64 dimensions: about 10× the 9,000's).
  const fullFloor = frechetDistance(heldOut, trained);
  const n = BATCHES * 100;
  const realSets = [0, 1, 2, 3, 4].map((o) => spreadRows(trained, n, o));
  const floor = realSets.reduce((a, r) => a + frechetDistance(r.set, heldOut), 0) / realSets.length;
  const realVariety = varietyOf(
    ref,
    realSets[0]!.set,
    realSets[0]!.rows.map((r) => judge.trained.labels[r]!),
  );
  console.log(
    `  real held-out digits (the baseline): ${format(qualityOf(judge.heldOut.verdicts, judge.heldOut.labels, THRESHOLD))}`,
  );
  console.log(
    `  variety floor: FD of the ${judge.heldOut.labels.length} held-out real digits against the other ${judge.trained.labels.length}: ${fullFloor.toFixed(2)}; of ${n} of those against the held-out (the floor below, mean of 5 sets): ${floor.toFixed(2)}; one such set: ${formatVariety(realVariety, floor)}`,
  );
  const committed = new Map(listCommittedModels().map((m) => [m.name, m.path]));
  const classPath = committed.get('mnist-class');
  if (classPath && (ONLY === undefined || ONLY === 'illusions')) {
    const flow = await loadMnistFlowDenoiser();
    await benchIllusions(judge, flow.denoiser, mnistFlow, mnistFlow.defaultGuidance);
    await flow.dispose();
  }
  if (classPath && (ONLY === undefined || ONLY === 'class')) {
    const model = await served(classPath);
    const d = digitsSampler('class');
    const defaults: Setting = {
      guidance: digitsGuidance('class', undefined, undefined).guidance,
      churn: d.churn,
      interval: d.guidanceInterval,
      churnInterval: d.churnInterval,
      steps: d.steps,
      solver: d.solver,
    };
    // The default, then the write-up's γ 5 and the settings it was chosen among (models/mnist-class/card.md).
    const late: GuidanceInterval = [0.5, 0.9];
    const settings: Setting[] = [
      defaults,
      { guidance: 1 },
      { guidance: 2 },
      { guidance: 3 },
      { guidance: CFG_SCALE },
      { guidance: 5, interval: [0.2, 1] },
      { guidance: 3, interval: [0.1, 1] },
      { guidance: 3, interval: [0.3, 1] },
      { guidance: 2, churn: 3 },
      { guidance: 3, interval: [0.3, 1], churn: 2, churnInterval: late },
      { guidance: 3, interval: [0.3, 1], churn: 2, churnInterval: late, steps: 20 },
      { guidance: 3, interval: [0.3, 1], steps: 20, solver: 'dpm2m' },
    ];
    const seen = new Set<string>();
    for (const s of settings) {
      const key = describeSetting(s);
      if (seen.has(key)) continue;
      seen.add(key);
      const { q, v, seconds } = await measure(judge, ref, model, true, s);
      const isDefault = key === describeSetting(defaults);
      console.log(
        `  mnist-class, ${key}${isDefault ? ' (default)' : ''}, the requested digit: ${format(q)}; ${formatVariety(v, floor)} (sampling ${seconds.toFixed(0)} s)`,
      );
    }
    await model.dispose();
  }
  const timePath = committed.get('mnist-time');
  if (timePath && (ONLY === undefined || ONLY === 'time')) {
    const model = await served(timePath);
    const churns = [0, TIME_CHURN];
    const churned = (c: number) => `churn ${c}${c === TIME_CHURN ? ' (default)' : ''}`;
    for (const c of churns) {
      const { q, v, seconds } = await measure(judge, ref, model, false, { guidance: 1, churn: c });
      console.log(
        `  mnist-time alone, ${churned(c)}: ${format(q)}; ${formatVariety(v, floor)} (sampling ${seconds.toFixed(0)} s)`,
      );
    }
    const guidePath = guideBeside(timePath);
    if (guidePath) {
      const guide = await served(guidePath);
      // 2, 3, 4 and the default, each once, whatever the default is; then the default weight and
      // churn with the guide on part of the way.
      const weights = [...new Set([2, 3, 4, AUTOGUIDANCE_WEIGHT])].sort((a, b) => a - b);
      const settings: Array<{ w: number; c: number; interval: GuidanceInterval }> = [];
      for (const w of weights) for (const c of churns) settings.push({ w, c, interval: EVERY_STEP });
      settings.push(
        { w: AUTOGUIDANCE_WEIGHT, c: TIME_CHURN, interval: [0.2, 1] },
        { w: 3, c: TIME_CHURN, interval: [0.2, 1] },
      );
      for (const { w, c, interval } of settings) {
        const { q, v, seconds } = await measure(judge, ref, autoguided(model, guide, w, interval), false, {
          guidance: 1,
          churn: c,
        });
        console.log(
          `  mnist-time autoguided, w = ${w}${w === AUTOGUIDANCE_WEIGHT ? ' (default)' : ''}, ${churned(c)}, ${named(interval)}: ${format(q)}; ${formatVariety(v, floor)} (sampling ${seconds.toFixed(0)} s)`,
        );
      }
      await guide.dispose();
    }
    await model.dispose();
  }
  judge.dispose();
}
