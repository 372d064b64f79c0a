// Part B benchmark: training images/s of the class-conditioned UNet (batch 64) and the time to
// sample 40 digits (50 Euler steps, CFG) at D = 64 and at the committed D, with GFLOP/s vs peak;
// then the committed time model's 40 digits alone and autoguided.
import { initialWeights, forwardFlopsPerImage, NUM_CLASSES, type UNetSpec } from '../src/engine/flow/unet.js';
import { createTrainEngine, type TrainBackendName } from '../src/engine/flow/train-engine.js';
import { loadOnnxFlowModel } from '../src/engine/flow/onnx-flow-model.js';
import { eulerSample, type FlowModel } from '../src/engine/flow/euler.js';
import { AUTOGUIDANCE_WEIGHT, autoguided, guideBeside } from '../src/engine/flow/autoguidance.js';
import { loadCheckpoint } from '../src/engine/flow/trainer.js';
import { Rng } from '../src/engine/random.js';
import { TIME_CHURN } from '../src/engine/flow/digits.js';
import { listCommittedModels, resolveCheckpoint } from '../src/engine/flow/checkpoints.js';

/** An estimate of this machine's fp32 peak on 2 cores; conservative: onnxruntime's sampling measures above it (README.md). */
export const PEAK_GFLOPS = 157;
/** A straightforward PyTorch CPU implementation of the same model at D = 64, batch 64 (issue 2). */
export const PYTORCH_IMAGES_PER_SECOND: [number, number] = [7, 10];

export interface PartBFigures {
  hidden: number;
  backend: TrainBackendName;
  trainImagesPerSecond: number;
  trainGflops: number;
  sampleSeconds40: number;
  sampleGflops: number;
}

export async function trainingRate(
  backend: TrainBackendName,
  spec: UNetSpec,
  steps: number,
): Promise<{ ips: number; gflops: number; description: string }> {
  const B = 64;
  const engine = await createTrainEngine(backend, { spec, batch: B, weights: initialWeights(spec, 0) });
  const rng = new Rng(0);
  const c = new Float32Array(B * NUM_CLASSES);
  for (let i = 0; i < B; i++) c[i * NUM_CLASSES + (i % 10)] = 1;
  const batch = {
    x: rng.normals(B * 784),
    target: rng.normals(B * 784),
    t: Float32Array.from({ length: B }, () => rng.uniform()),
    c,
  };
  await engine.step(batch, 1e-3); // warm-up: kernel set-up and Adam slots
  const started = performance.now();
  for (let i = 0; i < steps; i++) await engine.step(batch, 1e-3);
  const seconds = (performance.now() - started) / 1000;
  const ips = (steps * B) / seconds;
  const description = engine.description;
  await engine.dispose();
  // A training step costs about 3 forward passes (forward, input gradient, weight gradient).
  return { ips, gflops: (3 * forwardFlopsPerImage(spec) * ips) / 1e9, description };
}

async function samplingTime(
  spec: UNetSpec,
  weights: Map<string, Float32Array>,
): Promise<{ seconds: number; gflops: number }> {
  const model = await loadOnnxFlowModel(spec, weights);
  const labels = Array.from({ length: 40 }, (_, i) => i % 10);
  await eulerSample(model, { labels, steps: 2, guidance: 5, seed: 0 }); // warm-up
  const started = performance.now();
  await eulerSample(model, { labels, steps: 50, guidance: 5, seed: 0 });
  const seconds = (performance.now() - started) / 1000;
  await model.dispose();
  return { seconds, gflops: (50 * 80 * forwardFlopsPerImage(spec)) / seconds / 1e9 };
}

export async function benchPartB(opts: { trainSteps?: number } = {}): Promise<PartBFigures[]> {
  const committed = listCommittedModels().find((m) => m.name === 'mnist-class');
  const configs: Array<{ spec: UNetSpec; weights?: Map<string, Float32Array>; label: string }> = [
    { spec: { kind: 'class', hidden: 64 }, label: 'D = 64 (seed)' },
  ];
  if (committed) {
    const { checkpoint } = resolveCheckpoint('mnist-class', 'class');
    configs.push({
      spec: checkpoint.spec,
      weights: checkpoint.weights,
      label: `D = ${checkpoint.spec.hidden} (committed)`,
    });
  }
  const rows: PartBFigures[] = [];
  const [lo, hi] = PYTORCH_IMAGES_PER_SECOND;
  console.log('Part B — class-conditioned UNet, batch 64; training on each engine, sampling on onnxruntime');
  for (const cfg of configs) {
    console.log(`  ${cfg.label}: forward ${(forwardFlopsPerImage(cfg.spec) / 1e6).toFixed(0)} MFLOP/image`);
    const rates = new Map<TrainBackendName, number>();
    for (const backend of ['onnxruntime', 'wasm'] as const) {
      const train = await trainingRate(backend, cfg.spec, opts.trainSteps ?? 3);
      rates.set(backend, train.ips);
      rows.push({
        hidden: cfg.spec.hidden,
        backend,
        trainImagesPerSecond: train.ips,
        trainGflops: train.gflops,
        sampleSeconds40: NaN,
        sampleGflops: NaN,
      });
      console.log(
        `    training on ${train.description}: ${train.ips.toFixed(1)} images/s, ${train.gflops.toFixed(1)} GFLOP/s = ${((100 * train.gflops) / PEAK_GFLOPS).toFixed(0)}% of ${PEAK_GFLOPS} peak` +
          (cfg.spec.hidden === 64
            ? `; ${(train.ips / hi).toFixed(2)}–${(train.ips / lo).toFixed(2)}× PyTorch CPU (${lo}–${hi} img/s; target ≥ 3×)`
            : ''),
      );
    }
    console.log(
      `    onnxruntime trains ${(rates.get('onnxruntime')! / rates.get('wasm')!).toFixed(2)}× as fast as TensorFlow.js wasm`,
    );
    const sample = await samplingTime(cfg.spec, cfg.weights ?? initialWeights(cfg.spec, 0));
    for (const r of rows)
      if (r.hidden === cfg.spec.hidden)
        Object.assign(r, { sampleSeconds40: sample.seconds, sampleGflops: sample.gflops });
    console.log(
      `    sampling 40 digits (50 Euler steps, CFG, onnxruntime): ${sample.seconds.toFixed(2)} s, ${sample.gflops.toFixed(1)} GFLOP/s = ${((100 * sample.gflops) / PEAK_GFLOPS).toFixed(0)}% of peak${cfg.weights ? ' (target < 10 s)' : ''}`,
    );
  }
  await benchTimeModel();
  return rows;
}

/** The committed time model: 40 unconditional digits alone and autoguided by its committed guide. */
async function benchTimeModel(): Promise<void> {
  const committed = listCommittedModels().find((m) => m.name === 'mnist-time');
  const guidePath = committed && guideBeside(committed.path);
  if (!committed || !guidePath) return;
  const main = loadCheckpoint(committed.path);
  const guideCk = loadCheckpoint(guidePath);
  const model = await loadOnnxFlowModel(main.spec, main.servingWeights);
  const guide = await loadOnnxFlowModel(guideCk.spec, guideCk.servingWeights);
  const labels = Array.from({ length: 40 }, () => null);
  const time = async (m: FlowModel, churn = 0): Promise<number> => {
    await eulerSample(m, { labels, steps: 2, guidance: 1, seed: 0 }); // warm-up
    const started = performance.now();
    await eulerSample(m, { labels, steps: 50, guidance: 1, seed: 0, churn });
    return (performance.now() - started) / 1000;
  };
  const alone = await time(model);
  const guided = await time(autoguided(model, guide, AUTOGUIDANCE_WEIGHT));
  const churned = await time(autoguided(model, guide, AUTOGUIDANCE_WEIGHT), TIME_CHURN);
  await model.dispose();
  await guide.dispose();
  console.log(
    `  committed time model (D = ${main.spec.hidden}), 40 digits, 50 Euler steps: ${alone.toFixed(2)} s alone, ${guided.toFixed(2)} s autoguided by its D = ${guideCk.spec.hidden} guide (${(guided / alone).toFixed(2)}×), ${churned.toFixed(2)} s autoguided with churn ${TIME_CHURN} (the default)`,
  );
}
