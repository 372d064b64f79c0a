// Sample quality of the committed Part B models, read by the digit judge (a CNN trained here on 9 in
// 10 real digits; see src/engine/flow/judge.ts): the share of samples it reads as one digit with
// confidence ≥ 0.9 (for the class model, the requested digit), against the same share of real
// held-out digits. The time model is measured alone and autoguided at several weights.
import { loadEmbeddedMnist } from '../src/engine/data/mnist.js';
import { AUTOGUIDANCE_WEIGHT, autoguided, guideBeside } from '../src/engine/flow/autoguidance.js';
import { listCommittedModels } from '../src/engine/flow/checkpoints.js';
import { CFG_SCALE } from '../src/engine/flow/digits.js';
import { eulerSample, type FlowModel } from '../src/engine/flow/euler.js';
import { qualityOf, trainDigitJudge, type DigitJudge, type QualityFigures } from '../src/engine/flow/judge.js';
import { loadOnnxFlowModel, type OnnxFlowModel } from '../src/engine/flow/onnx-flow-model.js';
import { loadCheckpoint, pixelRange } from '../src/engine/flow/trainer.js';

const THRESHOLD = 0.9;
/** Samples per measurement: BATCHES batches of 100 with seeds 0, 1, …; the class model asks 10 of each digit per batch. */
const BATCHES = 4;

function format(q: QualityFigures): string {
  return `${(100 * q.readable).toFixed(1)}% readable of ${q.samples}; read as 0–9: ${q.histogram.join(' ')}`;
}

async function measure(judge: DigitJudge, model: FlowModel, conditional: boolean, guidance: number): Promise<QualityFigures> {
  const verdicts = [];
  const asked: Array<number | null> = [];
  for (let b = 0; b < BATCHES; b++) {
    const labels = Array.from({ length: 100 }, (_, i) => (conditional ? i % 10 : null));
    const x = await eulerSample(model, { labels, steps: 50, guidance, seed: b });
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
    console.log(`  mnist-time alone: ${format(await measure(judge, model, false, 1))}`);
    const guidePath = guideBeside(timePath);
    if (guidePath) {
      const guide = await served(guidePath);
      for (const w of [2, AUTOGUIDANCE_WEIGHT, 4]) {
        console.log(`  mnist-time autoguided, w = ${w}${w === AUTOGUIDANCE_WEIGHT ? ' (default)' : ''}: ${format(await measure(judge, autoguided(model, guide, w), false, 1))}`);
      }
      await guide.dispose();
    }
    await model.dispose();
  }
  judge.dispose();
}
