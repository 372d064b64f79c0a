// Digit figures for Part B: sample grids (white on black, nearest-neighbour upscaled), single
// digits, and the loss curve of a run, built on the shared image utilities.
import { DIGIT_PIXELS } from '../data/dataset.js';
import { quantize, type PixelRange } from '../images/encode.js';
import { gridPng, makeGrid } from '../images/grid.js';
import { smallPng } from '../images/png.js';
import { plotLines } from '../images/plot.js';

/** Splits a flat B × 784 batch into its images. */
export function splitDigits(batch: Float32Array): Float32Array[] {
  const out: Float32Array[] = [];
  for (let i = 0; i < batch.length / DIGIT_PIXELS; i++)
    out.push(batch.subarray(i * DIGIT_PIXELS, (i + 1) * DIGIT_PIXELS));
  return out;
}

/** Digits as one sheet, grey padding between them; captions (`labels`) are typeset by sharp. */
export async function digitGridPng(
  batch: Float32Array,
  opts: { cols: number; range: PixelRange; scale?: number; labels?: string[] },
): Promise<Buffer> {
  const [lo, hi] = opts.range;
  const grid = {
    width: 28,
    height: 28,
    channels: 1,
    cols: opts.cols,
    range: opts.range,
    padValue: lo + 0.15 * (hi - lo),
  } as const;
  if (opts.labels) return gridPng(splitDigits(batch), { ...grid, scale: opts.scale, labels: opts.labels });
  const sheet = makeGrid(splitDigits(batch), grid);
  return smallPng(quantize(sheet.data, opts.range), sheet.width, sheet.height, 1, opts.scale);
}

export async function singleDigitPng(image: Float32Array, range: PixelRange): Promise<Buffer> {
  return smallPng(quantize(image, range), 28, 28, 1);
}

/** Per-step loss (light) and its per-epoch means (bold) on a log axis. */
export function lossCurvePng(losses: number[], stepsPerEpoch: number, title: string): Promise<Buffer> {
  const window = Math.max(1, Math.round(stepsPerEpoch / 20));
  const smooth: Array<[number, number]> = [];
  for (let i = window; i <= losses.length; i += window) {
    const part = losses.slice(i - window, i);
    smooth.push([i / stepsPerEpoch, part.reduce((a, b) => a + b, 0) / part.length]);
  }
  return plotLines({
    title,
    xLabel: 'epoch',
    yLabel: 'MSE loss',
    logY: true,
    series: [
      { name: 'per step', points: losses.map((l, i): [number, number] => [(i + 1) / stepsPerEpoch, l]) },
      { name: `mean of ${window} steps`, points: smooth },
    ],
  });
}
