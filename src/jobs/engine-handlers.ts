// The bot's engine handlers, run in the engine worker thread: MNIST digits and training (Part B)
// and the Part A techniques on mnist-flow or DeepFloyd IF, each reporting progress per step.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DeepFloydIF } from '../engine/denoisers/deepfloyd-if.js';
import type { Denoiser } from '../engine/denoisers/denoiser.js';
import { loadMnistFlowDenoiser } from '../engine/denoisers/mnist-flow-onnx.js';
import { loadDataset } from '../engine/data/load.js';
import type { Dataset } from '../engine/data/dataset.js';
import { generateDigits } from '../engine/flow/digits.js';
import type { FlowModel } from '../engine/flow/euler.js';
import { lossCurvePng } from '../engine/flow/figures.js';
import { loadOnnxFlowModel, type OnnxFlowModel } from '../engine/flow/onnx-flow-model.js';
import { defaultSettings, latestCheckpoint, loadCheckpoint, train, type TrainProgress } from '../engine/flow/trainer.js';
import type { UNetKind } from '../engine/flow/unet.js';
import { decodeImage, encodePng, interleavedToPlanar, planarToInterleaved, resizeTo, toGrayscale28, type RasterImage } from '../engine/images/encode.js';
import { encodeGif } from '../engine/images/gif.js';
import { gridPng } from '../engine/images/grid.js';
import { Rng } from '../engine/random.js';
import { anagram } from '../engine/sampling/anagram.js';
import { gaussianBlur } from '../engine/sampling/blur.js';
import { imagine } from '../engine/sampling/cfg.js';
import { forward } from '../engine/sampling/forward.js';
import { hybrid, hybridFilter } from '../engine/sampling/hybrid.js';
import { inpaint } from '../engine/sampling/inpaint.js';
import { initialNoise, iterativeDenoise, type ProgressFrame, type SampleResult } from '../engine/sampling/iterative.js';
import { oneStepDenoise } from '../engine/sampling/one-step.js';
import { sdedit } from '../engine/sampling/sdedit.js';
import { sliceBatch, tensor, type Tensor } from '../engine/tensor.js';
import { createView } from '../engine/views/registry.js';
import { fadeFrame } from '../engine/views/view.js';
import { openStore } from '../store/index.js';
import { defineHandlers, JobStoppedError, type JobContext, type OutputFile } from './handler.js';

// --- models, loaded lazily and kept for the worker's lifetime (one per checkpoint) ---

const flowModels = new Map<string, Promise<OnnxFlowModel>>();
const denoisers = new Map<string, Promise<Denoiser>>();

function cached<T>(map: Map<string, Promise<T>>, key: string, load: () => Promise<T>): Promise<T> {
  let p = map.get(key);
  if (!p) {
    p = load();
    // A failed load is not cached: the operator may fix the file and try again.
    p.catch(() => map.delete(key));
    map.set(key, p);
  }
  return p;
}

function flowModel(path: string): Promise<OnnxFlowModel> {
  return cached(flowModels, path, async () => {
    const { spec, weights } = loadCheckpoint(path);
    return loadOnnxFlowModel(spec, weights);
  });
}

interface PartAParams {
  model: 'mnist-flow' | 'deepfloyd-if';
  checkpointPath?: string;
  steps: number;
  guidance: number;
}

function denoiserFor(p: PartAParams): Promise<Denoiser> {
  if (p.model === 'deepfloyd-if') return cached(denoisers, 'deepfloyd-if', async () => (await DeepFloydIF.load()).stageI);
  if (!p.checkpointPath) throw new Error('mnist-flow job without a checkpoint path');
  return cached(denoisers, `mnist:${p.checkpointPath}`, async () => (await loadMnistFlowDenoiser(p.checkpointPath)).denoiser);
}

// --- pictures ---

const RANGE = [-1, 1] as const;

/** Display upscale: 28 px digits → 224 px, 64 px DeepFloyd → 256 px. */
function displayScale(d: Denoiser): number {
  return Math.max(1, Math.round(256 / d.imageShape[2]));
}

function hwc(x: Tensor, b = 0): Float32Array {
  const [, c, h, w] = x.shape;
  return planarToInterleaved(sliceBatch(x, b, b + 1).data, c, h, w);
}

function channelsOf(x: Tensor): 1 | 3 {
  return x.shape[1] === 1 ? 1 : 3;
}

function png(x: Tensor, scale: number, b = 0): Promise<Buffer> {
  return encodePng(hwc(x, b), x.shape[3], x.shape[2], channelsOf(x), { range: RANGE, scale });
}

function grid(images: Tensor[], scale: number, labels?: string[]): Promise<Buffer> {
  const [, , h, w] = images[0]!.shape;
  return gridPng(images.map((t) => hwc(t)), { width: w, height: h, channels: channelsOf(images[0]!), cols: Math.min(images.length, 6), range: RANGE, scale, padValue: 1, labels });
}

function gif(frames: Tensor[], scale: number, delaysMs: number[] | number): Buffer {
  const [, , h, w] = frames[0]!.shape;
  return encodeGif(frames.map((f) => hwc(f)), { width: w, height: h, channels: channelsOf(frames[0]!), delaysMs, scale, range: RANGE, rgbPalette: 'global' });
}

/** The denoising trajectory, ending on the result held for a second. */
function trajectoryGif(result: SampleResult, scale: number): Buffer {
  const frames = [...result.progression.map((f) => sliceBatch(f.x, 0, 1)), sliceBatch(result.image, 0, 1)];
  return gif(frames, scale, frames.map((_, i) => (i === frames.length - 1 ? 1500 : 120)));
}

// --- uploads ---

interface ImageRef { path: string; width: number; height: number }

async function readUpload(ref: ImageRef): Promise<RasterImage> {
  // Already checked and re-encoded by the service; generous limits only guard against a swapped file.
  return decodeImage(readFileSync(ref.path), { maxBytes: 256 * 1024 * 1024, maxPixels: 64 * 1024 * 1024 });
}

function toTensor(img: RasterImage): Tensor {
  const planar = interleavedToPlanar(img.data, img.channels, img.height, img.width);
  return tensor([1, img.channels, img.height, img.width], planar.map((v) => 2 * v - 1));
}

/** An upload as the denoiser's input in [−1, 1]; sketches of digits are framed like MNIST. */
async function inputImage(d: Denoiser, ref: ImageRef, fit: 'cover' | 'contain'): Promise<Tensor> {
  const img = await readUpload(ref);
  const [c, h, w] = d.imageShape;
  if (c === 1 && h === 28) return toTensor(await toGrayscale28(img, { centerDigit: fit === 'cover' }));
  return toTensor(await resizeTo(img, w, h, { channels: c === 1 ? 1 : 3, fit }));
}

/** A 0/1 mask [1, 1, h, w] from a mask upload (white = repaint) or a box in the upload's pixels. */
async function maskFor(d: Denoiser, image: ImageRef, mask?: ImageRef, box?: { x: number; y: number; width: number; height: number }): Promise<Tensor> {
  let raster: RasterImage;
  if (mask) raster = await readUpload(mask);
  else {
    const data = new Float32Array(image.width * image.height);
    for (let y = box!.y; y < box!.y + box!.height; y++) data.fill(1, y * image.width + box!.x, y * image.width + box!.x + box!.width);
    raster = { data, width: image.width, height: image.height, channels: 1 };
  }
  const [, h, w] = d.imageShape;
  const small = await resizeTo(raster, w, h, { channels: 1, fit: 'contain' });
  return tensor([1, 1, h, w], small.data.map((v) => (v > 0.5 ? 1 : 0)));
}

// --- progress ---

/**
 * Wraps a denoiser so that every model call is one reported step (and a yield point), with a
 * preview of the latest x_t every few steps.
 */
function tracked(d: Denoiser, ctx: JobContext, total: number): { denoiser: Denoiser; onStep: (f: ProgressFrame) => void } {
  let calls = 0;
  let latest: Tensor | undefined;
  const scale = displayScale(d);
  return {
    onStep: (f) => {
      latest = f.x;
    },
    denoiser: {
      id: d.id,
      imageShape: d.imageShape,
      schedule: d.schedule,
      encode: (prompts) => d.encode(prompts),
      async predict(xt, t, cond) {
        const out = await d.predict(xt, t, cond);
        calls++;
        const preview = latest && calls % 5 === 0 ? { data: await png(latest, Math.max(1, Math.floor(scale / 2))), ext: 'png' } : undefined;
        await ctx.progress(Math.min(calls, total), total, preview ? { preview } : {});
        return out;
      },
    },
  };
}

function timesteps(steps: number): number[] {
  const out: number[] = [];
  for (let i = 0; i <= steps; i++) out.push(Math.round(990 * (1 - i / steps)));
  return [...new Set(out)];
}

function progressEvery(steps: number): number {
  return Math.max(1, Math.round(steps / 16));
}

// --- handlers ---

interface DigitsParams { kind: 'class' | 'time'; digit?: number; count: number; guidance: number; steps: number; checkpointPath: string }

async function digits(params: DigitsParams, seed: number, ctx: JobContext): Promise<OutputFile[]> {
  const model = await flowModel(params.checkpointPath);
  let step = 0;
  const counted: FlowModel = {
    conditional: model.conditional,
    async velocity(x, t, classes, batch) {
      const u = await model.velocity(x, t, classes, batch);
      step++;
      let preview;
      if (step % 10 === 0) {
        const n = Math.min(10, params.digit === undefined && params.kind === 'class' ? 10 : params.count);
        const imgs = Array.from({ length: n }, (_, i) => x.subarray(i * 784, (i + 1) * 784));
        preview = { data: await gridPng(imgs, { width: 28, height: 28, channels: 1, cols: n, range: RANGE, scale: 2 }), ext: 'png' };
      }
      await ctx.progress(step, params.steps, preview ? { preview } : {});
      return u;
    },
  };
  const result = await generateDigits(counted, params.kind, { digit: params.digit, count: params.count, guidance: params.guidance, steps: params.steps, seed });
  return [{ data: result.gridPng, ext: 'png', caption: 'digits' }];
}

interface ImagineParams extends PartAParams { prompt: string; count: number }

async function imagineHandler(p: ImagineParams, seed: number, ctx: JobContext): Promise<OutputFile[]> {
  const base = await denoiserFor(p);
  const { denoiser, onStep } = tracked(base, ctx, p.steps);
  const result = await imagine(denoiser, { prompt: p.prompt, rng: new Rng(seed), guidanceScale: p.guidance, batch: p.count, timesteps: timesteps(p.steps), onStep, progressEvery: progressEvery(p.steps) });
  const scale = displayScale(base);
  const images = Array.from({ length: p.count }, (_, b) => sliceBatch(result.image, b, b + 1));
  return [
    { data: p.count === 1 ? await png(result.image, scale) : await grid(images, scale), ext: 'png', caption: 'image' },
    { data: trajectoryGif(result, scale), ext: 'gif', caption: 'animation' },
  ];
}

interface DenoiseParams extends PartAParams { prompt: string; iStart: number; image: ImageRef }

async function denoiseHandler(p: DenoiseParams, seed: number, ctx: JobContext): Promise<OutputFile[]> {
  const base = await denoiserFor(p);
  const ts = timesteps(p.steps);
  const total = 1 + (ts.length - 1 - p.iStart);
  const { denoiser, onStep } = tracked(base, ctx, total);
  const rng = new Rng(seed);
  const x0 = await inputImage(base, p.image, 'cover');
  const t = ts[p.iStart]!;
  const { xt } = forward(base.schedule, x0, t, rng);
  const side = base.imageShape[2];
  const blurred = gaussianBlur(xt, { sigma: Math.max(0.5, (2 * side) / 64) });
  const oneStep = await oneStepDenoise(denoiser, xt, t, { prompt: p.prompt });
  const result = await iterativeDenoise(denoiser, xt, { prompt: p.prompt, rng, iStart: p.iStart, timesteps: ts, onStep, progressEvery: progressEvery(p.steps) });
  const scale = displayScale(base);
  return [
    { data: await png(result.image, scale), ext: 'png', caption: 'image' },
    { data: await grid([x0, xt, blurred, oneStep, result.image], scale, ['original', `noisy t=${t}`, 'blur', 'one-step', 'iterative']), ext: 'png', caption: 'views' },
    { data: trajectoryGif(result, scale), ext: 'gif', caption: 'animation' },
  ];
}

interface EditParams extends PartAParams { prompt: string; iStarts: number[]; image: ImageRef }

async function editHandler(p: EditParams, seed: number, ctx: JobContext): Promise<OutputFile[]> {
  const base = await denoiserFor(p);
  const ts = timesteps(p.steps);
  const total = p.iStarts.reduce((n, i) => n + (ts.length - 1 - i), 0);
  const { denoiser, onStep } = tracked(base, ctx, total);
  const x0 = await inputImage(base, p.image, 'cover');
  const results = await sdedit(denoiser, x0, { prompt: p.prompt, rng: new Rng(seed), guidanceScale: p.guidance, iStarts: p.iStarts, timesteps: ts, onStep, progressEvery: progressEvery(p.steps) });
  const scale = displayScale(base);
  const last = results[results.length - 1]!;
  const files: OutputFile[] = [{ data: await png(last.image, scale), ext: 'png', caption: 'image' }];
  if (results.length > 1) {
    files.push({ data: await grid([x0, ...results.map((r) => r.image)], scale, ['input', ...results.map((r) => `i_start ${r.iStart}`)]), ext: 'png', caption: 'views' });
  }
  files.push({ data: trajectoryGif(last, scale), ext: 'gif', caption: 'animation' });
  return files;
}

interface InpaintParams extends PartAParams { prompt: string; image: ImageRef; mask?: ImageRef; box?: { x: number; y: number; width: number; height: number } }

async function inpaintHandler(p: InpaintParams, seed: number, ctx: JobContext): Promise<OutputFile[]> {
  const base = await denoiserFor(p);
  const { denoiser, onStep } = tracked(base, ctx, p.steps);
  const original = await inputImage(base, p.image, 'contain');
  const mask = await maskFor(base, p.image, p.mask, p.box);
  const result = await inpaint(denoiser, original, mask, { prompt: p.prompt, rng: new Rng(seed), guidanceScale: p.guidance, timesteps: timesteps(p.steps), onStep, progressEvery: progressEvery(p.steps) });
  const scale = displayScale(base);
  const shownMask = tensor(original.shape, new Float32Array(original.data.length).map((_, i) => (mask.data[i % mask.data.length]! ? 1 : -1)));
  return [
    { data: await png(result.image, scale), ext: 'png', caption: 'image' },
    { data: await grid([original, shownMask, result.image], scale, ['original', 'mask', 'inpainted']), ext: 'png', caption: 'views' },
    { data: trajectoryGif(result, scale), ext: 'gif', caption: 'animation' },
  ];
}

interface AnagramParams extends PartAParams { prompts: string[]; views: string[]; maxDisp?: number }

async function anagramHandler(p: AnagramParams, seed: number, ctx: JobContext): Promise<OutputFile[]> {
  const base = await denoiserFor(p);
  const { denoiser, onStep } = tracked(base, ctx, p.steps);
  const [, height, width] = base.imageShape;
  const views = p.views.map((name) => createView(name, { height, width, maxDisp: p.maxDisp }));
  const rng = new Rng(seed);
  const result = await anagram(denoiser, initialNoise(base, 1, rng), { prompts: p.prompts, views, rng, guidanceScale: p.guidance, timesteps: timesteps(p.steps), onStep, progressEvery: progressEvery(p.steps) });
  const scale = displayScale(base);
  const img = result.image;
  // The animation turns the image into each view and back, holding each picture.
  const frames: Tensor[] = [];
  const delays: number[] = [];
  const hold = (t: Tensor): void => {
    frames.push(t);
    delays.push(1200);
  };
  hold(img);
  for (const v of views.slice(1)) {
    const end = v.view(img);
    for (let k = 1; k < 12; k++) {
      frames.push(v.frame ? v.frame(img, k / 12) : fadeFrame(img, end, k / 12));
      delays.push(60);
    }
    hold(end);
    for (let k = 11; k > 0; k--) {
      frames.push(v.frame ? v.frame(img, k / 12) : fadeFrame(img, end, k / 12));
      delays.push(40);
    }
    hold(img);
  }
  return [
    { data: await png(img, scale), ext: 'png', caption: 'image' },
    { data: await grid(views.map((v) => v.view(img)), scale, views.map((v, i) => `${v.name}: ${p.prompts[i]}`)), ext: 'png', caption: 'views' },
    { data: gif(frames, scale, delays), ext: 'gif', caption: 'animation' },
  ];
}

interface HybridParams extends PartAParams { far: string; near: string; sigma?: number }

/** The image shrunk about its centre by `s` (≤ 1) on a black canvas: how it looks from afar. */
function shrink(x: Tensor, s: number): Tensor {
  const [n, c, h, w] = x.shape;
  const out = new Float32Array(x.data.length).fill(-1);
  const cy = (h - 1) / 2, cx = (w - 1) / 2;
  for (let b = 0; b < n * c; b++) for (let y = 0; y < h; y++) for (let xx = 0; xx < w; xx++) {
    const sy = Math.round(cy + (y - cy) / s), sx = Math.round(cx + (xx - cx) / s);
    if (sy >= 0 && sy < h && sx >= 0 && sx < w) out[b * h * w + y * w + xx] = x.data[b * h * w + sy * w + sx]!;
  }
  return tensor(x.shape, out);
}

async function hybridHandler(p: HybridParams, seed: number, ctx: JobContext): Promise<OutputFile[]> {
  const base = await denoiserFor(p);
  const { denoiser, onStep } = tracked(base, ctx, p.steps);
  const rng = new Rng(seed);
  const side = Math.min(base.imageShape[1], base.imageShape[2]);
  const filter = p.sigma === undefined ? hybridFilter(side) : { sigma: p.sigma, kernelSize: 2 * Math.ceil(3 * p.sigma) + 1 };
  const result = await hybrid(denoiser, initialNoise(base, 1, rng), { farPrompt: p.far, nearPrompt: p.near, rng, guidanceScale: p.guidance, timesteps: timesteps(p.steps), filter, onStep, progressEvery: progressEvery(p.steps) });
  const scale = displayScale(base);
  const img = result.image;
  const zoom = [1, 0.85, 0.7, 0.55, 0.4, 0.3, 0.22, 0.16].map((s) => shrink(img, s));
  return [
    { data: await png(img, scale), ext: 'png', caption: 'image' },
    { data: await grid([img, gaussianBlur(img, filter)], scale, [`near: ${p.near}`, `far: ${p.far}`]), ext: 'png', caption: 'views' },
    { data: gif([...zoom, ...zoom.slice(1, -1).reverse()], scale, [1200, 150, 150, 150, 150, 150, 150, 1200, 100, 100, 100, 100, 100, 100]), ext: 'gif', caption: 'animation' },
  ];
}

interface TrainParams { kind: UNetKind; epochs: number; hidden: number; batch: number; lr: number; images?: number; makeDefault: boolean; dataDir: string; storePath: string }

/** The first `n` digits spread over the data set (every class present even for small n). */
function subset(d: Dataset, n: number): Dataset {
  if (n >= d.count) return d;
  const images = new Float32Array(n * 784);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    const src = Math.floor((i * d.count) / n);
    images.set(d.images.subarray(src * 784, (src + 1) * 784), i * 784);
    labels[i] = d.labels[src]!;
  }
  return { images, labels, count: n, source: `${d.source} (${n} of ${d.count})` };
}

async function trainHandler(p: TrainParams, seed: number, jobId: number, resumeState: unknown, ctx: JobContext): Promise<{ files: OutputFile[]; metrics: Record<string, number> }> {
  const modelKind = `mnist-${p.kind}`;
  const state = resumeState as { runDir?: string; runId?: number } | null;
  const runDir = state?.runDir ?? join(p.dataDir, 'runs', `${p.kind}-job${jobId}`);
  const resume = state?.runDir !== undefined && latestCheckpoint(runDir) !== undefined;
  const dataset = p.images ? subset(loadDataset(null), p.images) : loadDataset(null);
  const settings = { ...defaultSettings(p.kind), epochs: p.epochs, hidden: p.hidden, batch: p.batch, lr: p.lr, seed };
  // Its own connection: the worker thread cannot share the main thread's, and WAL lets both write.
  const store = openStore(p.storePath);
  let runId = state?.runId;
  let latest: TrainProgress | undefined;
  try {
    if (runId === undefined) runId = store.training.startRun({ jobId, modelKind, settings }).id;
    ctx.saveState({ runDir, runId });
    let lastCheckpointId: number | undefined;
    const totalSteps = p.epochs * Math.floor(dataset.count / p.batch);
    const outcome = await train({
      settings,
      dataset,
      runDir,
      resume,
      hooks: {
        onProgress: (progress) => {
          latest = progress;
        },
        yieldPoint: async () => {
          if (!latest) return ctx.yieldPoint();
          await ctx.progress(latest.globalStep, totalSteps, { message: `epoch ${latest.epoch + 1}/${p.epochs} · loss ${latest.loss.toFixed(4)}` });
        },
        onEpoch: (summary) => {
          store.training.recordEpoch(runId!, summary.epoch, summary.meanLoss, summary.seconds);
          const checkpoint = store.training.addCheckpoint({ runId, modelKind, name: `${p.kind}-job${jobId}-e${summary.epoch}`, path: join(runDir, summary.checkpoint), epoch: summary.epoch });
          lastCheckpointId = checkpoint.id;
        },
      },
    });
    store.training.finishRun(runId, 'done');
    const last = lastCheckpointId ?? store.training.listCheckpoints(modelKind).filter((c) => c.runId === runId).at(-1)?.id;
    if (p.makeDefault && last !== undefined) store.training.setDefaultCheckpoint(modelKind, last);
    const stepsPerEpoch = Math.floor(dataset.count / p.batch);
    const losses = outcome.run.losses;
    return {
      files: [
        { data: await lossCurvePng(losses, stepsPerEpoch, `${p.kind} model, job #${jobId}`), ext: 'png', caption: 'loss' },
        { data: Buffer.from(JSON.stringify({ runDir, epochs: outcome.run.epochs, settings }, null, 2)), ext: 'json', caption: 'run' },
      ],
      metrics: { finalLoss: losses.at(-1) ?? NaN, epochs: outcome.run.epochs.length, seconds: outcome.run.trainSeconds },
    };
  } catch (error) {
    // A shutdown re-queues the job, which resumes this run; anything else ends it.
    const shutdown = error instanceof JobStoppedError && error.reason === 'shutdown';
    if (runId !== undefined && !shutdown) store.training.finishRun(runId, error instanceof JobStoppedError ? 'cancelled' : 'failed');
    throw error;
  } finally {
    store.close();
  }
}

export const handlers = defineHandlers({
  digits: async (input, ctx) => ({ files: await digits(input.params as DigitsParams, input.seed, ctx) }),
  imagine: async (input, ctx) => ({ files: await imagineHandler(input.params as ImagineParams, input.seed, ctx) }),
  denoise: async (input, ctx) => ({ files: await denoiseHandler(input.params as DenoiseParams, input.seed, ctx) }),
  edit: async (input, ctx) => ({ files: await editHandler(input.params as EditParams, input.seed, ctx) }),
  inpaint: async (input, ctx) => ({ files: await inpaintHandler(input.params as InpaintParams, input.seed, ctx) }),
  anagram: async (input, ctx) => ({ files: await anagramHandler(input.params as AnagramParams, input.seed, ctx) }),
  hybrid: async (input, ctx) => ({ files: await hybridHandler(input.params as HybridParams, input.seed, ctx) }),
  train: async (input, ctx) => trainHandler(input.params as TrainParams, input.seed, input.jobId, input.resumeState, ctx),
});
