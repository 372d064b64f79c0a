// Sample quality of the committed Part B models, read by the digit judge (a CNN trained here on 9 in
// 10 real digits; see src/engine/flow/judge.ts): the share of samples it reads as one digit with
// confidence ≥ 0.9 (for the class model, the requested digit), against the same share of real
// held-out digits. The time model is measured alone and autoguided at several weights, each with
// the plain ODE and with the sampler's churn.
import { loadEmbeddedMnist } from '../src/engine/data/mnist.js';
import { AUTOGUIDANCE_WEIGHT, autoguided, guideBeside } from '../src/engine/flow/autoguidance.js';
import { listCommittedModels } from '../src/engine/flow/checkpoints.js';
import { CFG_SCALE, TIME_CHURN } from '../src/engine/flow/digits.js';
import { eulerSample, type FlowModel } from '../src/engine/flow/euler.js';
import { qualityOf, trainDigitJudge, type DigitJudge, type QualityFigures } from '../src/engine/flow/judge.js';
import { loadOnnxFlowModel, type OnnxFlowModel } from '../src/engine/flow/onnx-flow-model.js';
import { loadCheckpoint, pixelRange } from '../src/engine/flow/trainer.js';

const THRESHOLD = 0.9;
/** Samples per measurement: BATCHES batches of 100 with seeds 0, 1, …; the class model asks 10 of each digit per batch. */
const BATCHES = 4;

function format(q: QualityFigures): string {
  // Variety: a sampler can read well by drawing mostly easy digits (1s), so show the spread of the
  // judge's best guesses too.
  const total = q.histogram.reduce((a, b) => a + b, 0);
  const share = (n: number) => `${((100 * n) / Math.max(1, total)).toFixed(0)}%`;
  const most = q.histogram.indexOf(Math.max(...q.histogram));
  const least = q.histogram.indexOf(Math.min(...q.histogram));
  return `${(100 * q.readable).toFixed(1)}% readable of ${q.samples}; read as 0–9: ${q.histogram.join(' ')} (commonest ${most}: ${share(q.histogram[most]!)}, rarest ${least}: ${share(q.histogram[least]!)})`;
}

async function measure(judge: DigitJudge, model: FlowModel, conditional: boolean, guidance: number, churn = 0): Promise<QualityFigures> {
  const verdicts = [];
  const asked: Array<number | null> = [];
  for (let b = 0; b < BATCHES; b++) {
    const labels = Array.from({ length: 100 }, (_, i) => (conditional ? i % 10 : null));
    const x = await eulerSample(model, { labels, steps: 50, guidance, seed: b, churn });
    const [lo, hi] = pixelRange(conditional ? 'class' : 'time');
    verdicts.push(...(await judge.judge(x.map((v) => Math.min(1, Math.max(0, (v - lo) / (hi - lo)))))));
    asked.push(...labels);
  }
  return qualityOf(verdicts, asked, THRESHOLD);
}

async function served(path: string): Promise<OnnxFlowModel> {
  const ck = loadCheckpoint(path);
  return loadOnnxFlowModel(ck.spec, ck.servingWeights);
}

export async function benchQuality(): Promise<void> {
  let started = performance.now();
  const judge = await trainDigitJudge(loadEmbeddedMnist(), { seed: 0 });
  console.log(`digit judge: ${(100 * judge.heldOutAccuracy).toFixed(1)}% correct on ${judge.heldOut.labels.length} held-out real digits, trained in ${((performance.now() - started) / 1000).toFixed(0)} s`);
  console.log(`  real held-out digits (the baseline): ${format(qualityOf(judge.heldOut.verdicts, judge.heldOut.labels, THRESHOLD))}`);
  const committed = new Map(listCommittedModels().map((m) => [m.name, m.path]));
  const classPath = committed.get('mnist-class');
  if (classPath) {
    const model = await served(classPath);
    started = performance.now();
    const q = await measure(judge, model, true, CFG_SCALE);
    console.log(`  mnist-class, CFG γ = ${CFG_SCALE}, the requested digit: ${format(q)} (${((performance.now() - started) / 1000).toFixed(0)} s)`);
    await model.dispose();
  }
  const timePath = committed.get('mnist-time');
  if (timePath) {
    const model = await served(timePath);
    const churns = [0, TIME_CHURN];
    const named = (c: number) => `churn ${c}${c === TIME_CHURN ? ' (default)' : ''}`;
    for (const c of churns) console.log(`  mnist-time alone, ${named(c)}: ${format(await measure(judge, model, false, 1, c))}`);
    const guidePath = guideBeside(timePath);
    if (guidePath) {
      const guide = await served(guidePath);
      // 2, 3, 4 and the default, each once, whatever the default is.
      const weights = [...new Set([2, 3, 4, AUTOGUIDANCE_WEIGHT])].sort((a, b) => a - b);
      for (const w of weights) {
        for (const c of churns) {
          console.log(`  mnist-time autoguided, w = ${w}${w === AUTOGUIDANCE_WEIGHT ? ' (default)' : ''}, ${named(c)}: ${format(await measure(judge, autoguided(model, guide, w), false, 1, c))}`);
        }
      }
      await guide.dispose();
    }
    await model.dispose();
  }
  judge.dispose();
}
