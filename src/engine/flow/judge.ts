// A digit judge: a small CNN classifier trained on the real digits, standing in for "a person
// reading the grid" when sample quality is measured (npm run bench -- quality). A sample counts as
// readable when the judge names one digit with confidence ≥ a threshold; for the class model, when
// that digit is also the requested one. It is a proxy, trained in seconds, never committed.
import { DIGIT_PIXELS, DIGIT_SIDE, type Dataset } from '../data/dataset.js';
import { Rng } from '../random.js';
import { initTf, type tf, type TfBackendChoice } from '../runtime/tf.js';

export interface Verdict {
  /** The digit the judge reads, 0–9. */
  label: number;
  /** Its softmax probability. */
  confidence: number;
}

export interface DigitJudge {
  /** Accuracy on the held-out tenth of the data (every 10th digit), never trained on. */
  readonly heldOutAccuracy: number;
  /** The judge's verdicts on the held-out digits, their true labels and images (a real-data baseline for qualityOf). */
  readonly heldOut: { verdicts: Verdict[]; labels: number[]; images: Float32Array };
  /** The other 9 in 10 digits, which it was trained on (the rest of the real data, for a variety floor). */
  readonly trained: { labels: number[]; images: Float32Array };
  /** `images`: B × 784 grey values in [0, 1], white digit on black. */
  judge(images: Float32Array): Promise<Verdict[]>;
  /**
   * The judge's penultimate layer (B × FEATURE_DIM, after its ReLU), the feature space in which the
   * quality bench measures variety (frechet.ts), as FID uses Inception's.
   */
  features(images: Float32Array): Promise<Float32Array>;
  dispose(): void;
}

/** Width of the judge's penultimate (feature) layer. */
export const FEATURE_DIM = 64;

export interface JudgeOptions {
  epochs?: number;
  batch?: number;
  seed?: number;
  backend?: TfBackendChoice;
}

/** Trains the judge on 9 in 10 digits of `data` (seeded) and measures it on the rest. */
export async function trainDigitJudge(data: Dataset, opts: JudgeOptions = {}): Promise<DigitJudge> {
  const { tf } = await initTf(opts.backend ?? 'auto');
  const seed = opts.seed ?? 0;
  const epochs = opts.epochs ?? 8;
  const B = opts.batch ?? 64;
  const init = (k: number) => tf.initializers.glorotUniform({ seed: seed * 16 + k });
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [DIGIT_SIDE, DIGIT_SIDE, 1],
        filters: 16,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
        kernelInitializer: init(1),
      }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu', kernelInitializer: init(2) }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: FEATURE_DIM, activation: 'relu', kernelInitializer: init(3) }),
      tf.layers.dense({ units: 10, activation: 'softmax', kernelInitializer: init(4) }),
    ],
  });
  model.compile({ optimizer: tf.train.adam(1e-3), loss: 'categoricalCrossentropy' });

  const train: number[] = [];
  const held: number[] = [];
  for (let i = 0; i < data.count; i++) (i % 10 === 0 ? held : train).push(i);
  const batchOf = (idx: number[]) => {
    const x = new Float32Array(idx.length * DIGIT_PIXELS);
    const y = new Float32Array(idx.length * 10);
    idx.forEach((src, j) => {
      x.set(data.images.subarray(src * DIGIT_PIXELS, (src + 1) * DIGIT_PIXELS), j * DIGIT_PIXELS);
      y[j * 10 + data.labels[src]!] = 1;
    });
    return { x, y };
  };
  const rng = new Rng(seed);
  for (let e = 0; e < epochs; e++) {
    rng.shuffle(train);
    for (let s = 0; s + B <= train.length; s += B) {
      const { x, y } = batchOf(train.slice(s, s + B));
      const xt = tf.tensor4d(x, [B, DIGIT_SIDE, DIGIT_SIDE, 1]);
      const yt = tf.tensor2d(y, [B, 10]);
      await model.trainOnBatch(xt, yt);
      xt.dispose();
      yt.dispose();
    }
  }

  const digitsIn = (images: Float32Array): number => {
    const n = images.length / DIGIT_PIXELS;
    if (!Number.isInteger(n)) throw new Error(`images must be whole 28×28 digits, got ${images.length} values`);
    return n;
  };
  const penultimate = tf.model({
    inputs: model.inputs,
    outputs: model.layers[model.layers.length - 2]!.output as tf.SymbolicTensor,
  });
  const features = async (images: Float32Array): Promise<Float32Array> => {
    const n = digitsIn(images);
    const out = new Float32Array(n * FEATURE_DIM);
    // In slices, so that 9,000 digits do not make one 9,000-image activation.
    for (let s = 0; s < n; s += 500) {
      const m = Math.min(500, n - s);
      const f = tf.tidy(
        () =>
          penultimate.predict(
            tf.tensor4d(images.subarray(s * DIGIT_PIXELS, (s + m) * DIGIT_PIXELS), [m, DIGIT_SIDE, DIGIT_SIDE, 1]),
          ) as tf.Tensor,
      );
      out.set((await f.data()) as Float32Array, s * FEATURE_DIM);
      f.dispose();
    }
    return out;
  };
  const judge = async (images: Float32Array): Promise<Verdict[]> => {
    const n = digitsIn(images);
    const probs = tf.tidy(() => model.predict(tf.tensor4d(images, [n, DIGIT_SIDE, DIGIT_SIDE, 1])) as tf.Tensor);
    const p = (await probs.data()) as Float32Array;
    probs.dispose();
    return Array.from({ length: n }, (_, i) => {
      let label = 0;
      for (let k = 1; k < 10; k++) if (p[i * 10 + k]! > p[i * 10 + label]!) label = k;
      return { label, confidence: p[i * 10 + label]! };
    });
  };
  const { x } = batchOf(held);
  const verdicts = await judge(x);
  const correct = verdicts.filter((v, i) => v.label === data.labels[held[i]!]).length;
  const labels = held.map((i) => data.labels[i]!);
  train.sort((a, b) => a - b);
  return {
    heldOutAccuracy: correct / held.length,
    heldOut: { verdicts, labels, images: x },
    trained: { labels: train.map((i) => data.labels[i]!), images: batchOf(train).x },
    judge,
    features,
    dispose: () => model.dispose(),
  };
}

export interface QualityFigures {
  samples: number;
  /** Share the judge reads as one digit with confidence ≥ the threshold (and, where asked, the asked one). */
  readable: number;
  /**
   * Share whose best guess is the asked digit, whatever its confidence: "reads as the requested
   * digit" (real held-out digits: the judge's accuracy). Null for unconditional samples, where any
   * best guess would count.
   */
  readAsAsked: number | null;
  /** How many of each digit the judge reads (diversity). */
  histogram: number[];
}

/** `labels[i]` the requested digit of sample i, or null (unconditional: any confident digit counts). */
export function qualityOf(
  verdicts: readonly Verdict[],
  labels: ReadonlyArray<number | null>,
  threshold = 0.9,
): QualityFigures {
  const histogram = new Array<number>(10).fill(0);
  let readable = 0;
  let asAsked = 0;
  let askedCount = 0;
  verdicts.forEach((v, i) => {
    histogram[v.label]!++;
    const asked = labels[i] ?? null;
    if (v.confidence >= threshold && (asked === null || asked === v.label)) readable++;
    if (asked !== null) {
      askedCount++;
      if (asked === v.label) asAsked++;
    }
  });
  const n = Math.max(1, verdicts.length);
  return {
    samples: verdicts.length,
    readable: readable / n,
    readAsAsked: askedCount === 0 ? null : asAsked / askedCount,
    histogram,
  };
}
