// The figure a training run draws at each epoch from its checkpoint: digits sampled with the
// Euler sampler (flow models), or for the denoiser its outputs on noisy digits across a σ sweep.
import { eulerSample } from './euler.js';
import { digitGridPng } from './figures.js';
import { loadOnnxFlowModel, type OnnxFlowModel } from './onnx-flow-model.js';
import { pixelRange, type TrainSettings } from './train-settings.js';
import type { UNetSpec } from './unet.js';
import { Rng } from '../random.js';

export const SIGMA_SWEEP = [0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0];

/** The images the denoiser's figure noises: any digit set with its pixels in [0, 1]. */
export interface SampleGridData {
  images: Float32Array;
  count: number;
}

/**
 * Per-epoch figure: 4 of each digit in columns 0–9 (class), 40 samples (time), or for the
 * denoiser the σ sweep: for each σ in SIGMA_SWEEP a row of noisy inputs and a row of outputs.
 * Seeded: the same weights draw the same PNG.
 */
export async function renderSampleGrid(
  spec: UNetSpec,
  weights: Map<string, Float32Array>,
  settings: TrainSettings,
  data: SampleGridData,
): Promise<Buffer> {
  const model = await loadOnnxFlowModel(spec, weights);
  try {
    return await drawSamples(model, settings, data, pixelRange(settings.kind));
  } finally {
    await model.dispose();
  }
}

async function drawSamples(
  model: OnnxFlowModel,
  s: TrainSettings,
  data: SampleGridData,
  range: [number, number],
): Promise<Buffer> {
  if (s.kind === 'denoiser') {
    const rng = new Rng(1234);
    const n = 8;
    const clean = new Float32Array(n * 784);
    for (let i = 0; i < n; i++) {
      const src = Math.floor(((i + 0.5) * data.count) / n);
      clean.set(data.images.subarray(src * 784, (src + 1) * 784), i * 784);
    }
    const sigmas = s.pureNoise ? [1] : SIGMA_SWEEP;
    const rows: Float32Array[] = [];
    for (const sigma of sigmas) {
      const noisy = clean.map((v) => (s.pureNoise ? rng.normal() : v + sigma * rng.normal()));
      rows.push(
        noisy,
        Float32Array.from(await model.velocity(noisy, new Float32Array(n), new Int32Array(n).fill(-1), n)),
      );
    }
    const all = new Float32Array(rows.length * n * 784);
    rows.forEach((r, i) => {
      all.set(r, i * n * 784);
    });
    const labels = sigmas.flatMap((sigma) =>
      Array.from({ length: 2 * n }, (_, i) => (i % n === 0 ? (i < n ? `σ=${sigma}` : 'out') : '')),
    );
    return digitGridPng(all, { cols: n, range, scale: 2, labels });
  }
  const labels = [];
  for (let r = 0; r < 4; r++) for (let d = 0; d < 10; d++) labels.push(d);
  const x = await eulerSample(model, {
    labels: s.kind === 'class' ? labels : labels.map(() => null),
    steps: s.sampleSteps,
    guidance: s.guidance,
    seed: 0,
  });
  return digitGridPng(x, { cols: 10, range, scale: 2 });
}
