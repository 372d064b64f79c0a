// The files a technique run produces (native PNG, its nearest-neighbour upscale, strips, GIFs) as named
// buffers, so the CLI writes them to a folder and the chat front ends upload them, plus job.json.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodePng, planarToInterleaved } from '../images/encode.js';
import { gridPng } from '../images/grid.js';
import { sliceBatch, type Tensor } from '../tensor.js';
import type { LoopOptions, ProgressFrame } from '../sampling/iterative.js';

/** Every model here works in [−1, 1] (DeepFloyd IF and the flow model alike). */
export const PIXEL_RANGE = [-1, 1] as const;

/**
 * The file a chat reply shows for each part of a result: the picture, the illustration that explains
 * it (views, strip, figure, sizes) and the animation. Files without a role are for the CLI and the store.
 */
export type OutputRole = 'image' | 'views' | 'animation';

export interface OutputFile {
  name: string;
  bytes: Buffer;
  role?: OutputRole;
}

/**
 * Called after every denoising step of a technique: step counts over all of the technique's loops
 * (denoise and edit run several), `preview` is x_t. Awaited, so a job host can report progress and
 * stop a cancelled job here.
 */
export type StepCallback = (step: number, total: number, preview: Tensor) => Promise<void>;

export interface RunOptions {
  onStep?: StepCallback | undefined;
}

/** A sampling loop's onStep that counts steps across loops and forwards them to `onStep`. */
export function stepCounter(total: number, onStep: StepCallback | undefined): LoopOptions['onStep'] {
  if (!onStep) return undefined;
  let step = 0;
  return (frame: ProgressFrame) => onStep(++step, total, frame.x);
}

/** A small PNG of image b of x_t for live progress (half the display size: previews are sent often). */
export async function previewPng(x: Tensor, b = 0): Promise<Buffer> {
  const { channels, height, width } = shapeOf(x);
  const scale = Math.max(1, Math.floor(displayScale(Math.max(width, height)) / 2));
  return encodePng(toHwc(x, b), width, height, channels, { range: PIXEL_RANGE, scale });
}

/** Everything needed to rerun a job: the command, its parameters and the seed. */
export interface JobRecord {
  command: string;
  model: string;
  seed: number;
  [param: string]: unknown;
}

export interface TechniqueResult {
  job: JobRecord;
  files: OutputFile[];
}

/** Integer upscale that shows an image at about 200 px (28 → 7×, 64 → 3×, 256 → 1×). */
export function displayScale(side: number): number {
  return Math.max(1, Math.round(200 / side));
}

/** Image b of a batch as interleaved HWC floats (the layout of the images/ module). */
export function toHwc(x: Tensor, b = 0): Float32Array {
  const [, c, h, w] = x.shape;
  return planarToInterleaved(sliceBatch(x, b, b + 1).data, c, h, w);
}

function shapeOf(x: Tensor): { channels: 1 | 3; height: number; width: number } {
  const [, c, h, w] = x.shape;
  if (c !== 1 && c !== 3) throw new RangeError(`images have 1 or 3 channels, got ${c}`);
  return { channels: c, height: h, width: w };
}

/** `files` with `role` given to the one named `name` (e.g. the upscale is what a chat reply shows). */
export function withRole(files: OutputFile[], name: string, role: OutputRole): OutputFile[] {
  return files.map((f) => (f.name === name ? { ...f, role } : f));
}

/** `name.png` at native resolution and `name-large.png` upscaled with nearest-neighbour. */
export async function imagePngs(x: Tensor, name = 'image', b = 0): Promise<OutputFile[]> {
  const { channels, height, width } = shapeOf(x);
  const data = toHwc(x, b);
  return [
    { name: `${name}.png`, bytes: await encodePng(data, width, height, channels, { range: PIXEL_RANGE }) },
    {
      name: `${name}-large.png`,
      bytes: await encodePng(data, width, height, channels, {
        range: PIXEL_RANGE,
        scale: displayScale(Math.max(width, height)),
      }),
    },
  ];
}

export interface StripCell {
  image: Tensor;
  /** Which image of the batch; default 0. */
  b?: number;
  label?: string;
}

/**
 * Cells in rows (short rows padded with white), on white with black captions when any cell has one.
 * `scale` 1 and no labels gives a native-resolution sheet.
 */
export async function stripPng(rows: StripCell[][], opts: { scale?: number; labels?: boolean } = {}): Promise<Buffer> {
  const first = rows[0]?.[0];
  if (!first) throw new RangeError('a strip needs at least one image');
  const { channels, height, width } = shapeOf(first.image);
  const cols = Math.max(...rows.map((r) => r.length));
  const blank = new Float32Array(width * height * channels).fill(PIXEL_RANGE[1]);
  const images: Float32Array[] = [];
  const labels: string[] = [];
  for (const row of rows) {
    for (let j = 0; j < cols; j++) {
      const cell = row[j];
      images.push(cell ? toHwc(cell.image, cell.b ?? 0) : blank);
      labels.push(cell?.label ?? '');
    }
  }
  const withLabels = opts.labels ?? true;
  return gridPng(images, {
    width,
    height,
    channels,
    cols,
    range: PIXEL_RANGE,
    padValue: PIXEL_RANGE[1],
    scale: opts.scale ?? displayScale(Math.max(width, height)),
    ...(withLabels ? { labels } : {}),
  });
}

/** Progression rows (one per batch image): x_t every 5th step, then the result, each captioned with t. */
export function progressionRows(progression: readonly ProgressFrame[], result: Tensor): StripCell[][] {
  const rows: StripCell[][] = [];
  for (let b = 0; b < result.shape[0]; b++) {
    rows.push([
      ...progression.map((f) => ({ image: f.x, b, label: `t=${f.t}` })),
      { image: result, b, label: 'result' },
    ]);
  }
  return rows;
}

/** job.json: the job record with the list of files beside it. */
export function jobJson(result: TechniqueResult): Buffer {
  return Buffer.from(`${JSON.stringify({ ...result.job, outputs: result.files.map((f) => f.name) }, null, 2)}\n`);
}

/** Writes every file and job.json into `dir`; returns the paths written. */
export function writeResult(dir: string, result: TechniqueResult): string[] {
  mkdirSync(dir, { recursive: true });
  const paths = result.files.map((f) => {
    const path = join(dir, f.name);
    writeFileSync(path, f.bytes);
    return path;
  });
  const jobPath = join(dir, 'job.json');
  writeFileSync(jobPath, jobJson(result));
  return [...paths, jobPath];
}
