// Euler sampling of the flow ODE dx/dt = u(x, t, c) from noise (t = 0) to data (t = 1), with
// classifier-free guidance for the class model (seed B.2.3 / B.2.6). Runtime-agnostic.
import { Rng } from '../random.js';

import { DIGIT_PIXELS } from '../data/dataset.js';

/** A velocity model over batches of 1×28×28 images (flat Float32Arrays, B × 784). */
export interface FlowModel {
  readonly conditional: boolean;
  /** classes[i] = 0–9, or −1 for the null class (all-zero one-hot). */
  velocity(x: Float32Array, t: Float32Array, classes: Int32Array, batch: number): Promise<Float32Array>;
}

export interface EulerOptions {
  /** One entry per image: the digit (0–9), or null for unconditional. */
  labels: Array<number | null>;
  steps: number;
  guidance: number;
  seed: number;
  onStep?(step: number, steps: number, x: Float32Array): void | Promise<void>;
}

/** u = u_∅ + γ(u_c − u_∅), conditional and unconditional rows in one batch. */
export async function eulerSample(model: FlowModel, opts: EulerOptions): Promise<Float32Array> {
  const n = opts.labels.length;
  if (!Number.isInteger(opts.steps) || opts.steps < 1) throw new Error(`steps must be a positive integer, got ${opts.steps}`);
  const rng = new Rng(opts.seed);
  const x = rng.normals(n * DIGIT_PIXELS);
  const guided = model.conditional && opts.guidance !== 1 && opts.labels.some((l) => l !== null);
  const batch = guided ? 2 * n : n;
  const xIn = new Float32Array(batch * DIGIT_PIXELS);
  const tIn = new Float32Array(batch);
  const classes = new Int32Array(batch);
  for (let i = 0; i < n; i++) {
    classes[i] = model.conditional ? (opts.labels[i] ?? -1) : -1;
    if (guided) classes[n + i] = -1;
  }
  for (let step = 0; step < opts.steps; step++) {
    const t = step / opts.steps;
    xIn.set(x);
    if (guided) xIn.set(x, n * DIGIT_PIXELS);
    tIn.fill(t);
    const u = await model.velocity(xIn, tIn, classes, batch);
    const dt = 1 / opts.steps;
    if (guided) {
      const g = opts.guidance;
      for (let i = 0; i < n * DIGIT_PIXELS; i++) {
        const uu = u[n * DIGIT_PIXELS + i]!;
        x[i]! += dt * (uu + g * (u[i]! - uu));
      }
    } else {
      for (let i = 0; i < n * DIGIT_PIXELS; i++) x[i]! += dt * u[i]!;
    }
    await opts.onStep?.(step + 1, opts.steps, x);
  }
  return x;
}
