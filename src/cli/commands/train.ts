// `illusionist train`: trains a Part B model with progress on the terminal, a checkpoint and a
// sample grid per epoch, and Ctrl-C that saves and tells how to resume.
import { join } from 'node:path';
import type { Command } from 'commander';
import { defaultSettings, train, pixelRange, type TrainSettings, type TrainProgress } from '../../engine/flow/trainer.js';
import { UNET_KINDS, type UNetKind, type UNetSpec } from '../../engine/flow/unet.js';
import { eulerSample } from '../../engine/flow/euler.js';
import { loadOnnxFlowModel, type OnnxFlowModel } from '../../engine/flow/onnx-flow-model.js';
import { TRAIN_BACKENDS, type TrainBackendChoice } from '../../engine/flow/train-engine.js';
import { digitGridPng, lossCurvePng } from '../../engine/flow/figures.js';
import { writeFileSync } from 'node:fs';
import { loadDataset } from '../../engine/data/load.js';
import { Rng } from '../../engine/random.js';
import { resolveCheckpoint } from '../../engine/flow/checkpoints.js';
import { UsageError, parseFloatOption, parseIntOption } from '../errors.js';

interface TrainCliOptions {
  kind?: string; epochs?: string; hidden?: string; batch?: string; lr?: string; scheduler?: boolean;
  sigma?: string; pureNoise?: boolean; data?: string; seed?: string; runDir?: string; resume?: string; backend?: string;
  ema?: string; init?: string;
}

export function registerTrain(program: Command): void {
  program
    .command('train')
    .description('train a Part B UNet on MNIST (one-step denoiser, time- or class-conditioned flow matching)')
    .option('--kind <kind>', `model kind: ${UNET_KINDS.join(', ')}`, 'class')
    .option('--epochs <n>', 'epochs (default: 5 denoiser, 10 flow)')
    .option('--hidden <D>', 'hidden size D (default: 128 denoiser, 64 flow)')
    .option('--batch <B>', 'batch size (default: 256 denoiser, 64 flow)')
    .option('--lr <x>', 'Adam learning rate (default: 1e-4 denoiser, 1e-2 flow)')
    .option('--no-scheduler', 'constant learning rate instead of ExponentialLR γ = 0.1^(1/epochs)')
    .option('--sigma <s>', 'denoiser noise level', '0.5')
    .option('--pure-noise', 'denoiser variant trained on pure noise input (collapses to the mean digit)')
    .option('--data <dir>', 'folder with the official MNIST IDX files (default: the embedded 10,000 digits)')
    .option('--seed <n>', 'random seed', '0')
    .option('--run-dir <dir>', 'where to write checkpoints and figures (default: runs/<kind>-<time>)')
    .option('--ema <decay>', 'keep an exponential moving average of the weights (e.g. 0.999) and sample with it (default: none, as the seed)')
    .option('--init <checkpoint>', 'start from this checkpoint\'s weights (committed model name or folder, .safetensors file or run folder) with a fresh optimizer and schedule')
    .option('--resume <dir>', 'resume the run in this folder from its last checkpoint (with --epochs: train a finished run on to N epochs)')
    .option('--backend <name>', `${TRAIN_BACKENDS.join(' | ')} (auto = onnxruntime)`, 'auto')
    .action(async (o: TrainCliOptions) => runTrain(o));
}

async function runTrain(o: TrainCliOptions): Promise<void> {
  const backend = parseBackend(o.backend ?? 'auto');
  let settings: TrainSettings;
  let runDir: string;
  let initWeights: Map<string, Float32Array> | undefined;
  if (o.resume) {
    if (o.init) throw new UsageError('--init starts a new run; a resumed run keeps its own weights (drop --init or --resume)');
    if (o.ema) throw new UsageError('--ema is fixed when a run starts; a resumed run keeps its own');
    runDir = o.resume;
    settings = defaultSettings('class'); // replaced by the run's own settings on resume
  } else {
    const kind = o.kind as UNetKind;
    if (!UNET_KINDS.includes(kind)) throw new UsageError(`--kind must be one of ${UNET_KINDS.join(', ')}, got '${o.kind}'`);
    const d = defaultSettings(kind);
    settings = {
      ...d,
      epochs: o.epochs ? parseIntOption('epochs', o.epochs, 1, 1000) : d.epochs,
      hidden: o.hidden ? parseIntOption('hidden', o.hidden, 1, 512) : d.hidden,
      batch: o.batch ? parseIntOption('batch', o.batch, 2, 4096) : d.batch,
      lr: o.lr ? parseFloatOption('lr', o.lr, 1e-8, 10) : d.lr,
      scheduler: kind === 'denoiser' ? false : o.scheduler !== false,
      sigma: parseFloatOption('sigma', o.sigma ?? '0.5', 0, 10),
      pureNoise: Boolean(o.pureNoise),
      seed: parseIntOption('seed', o.seed ?? '0', 0, 2 ** 32 - 1),
      data: o.data ?? null,
      ema: o.ema ? parseFloatOption('ema', o.ema, 0, 0.99999) : 0,
    };
    if (settings.ema && kind === 'denoiser') throw new UsageError('--ema applies to the flow models (--kind time or class)');
    if (o.init) {
      let found;
      try {
        found = resolveCheckpoint(o.init, kind);
      } catch (err) {
        throw new UsageError(`--init: ${(err as Error).message}`);
      }
      const from = found.checkpoint.spec;
      if (from.kind !== kind) throw new UsageError(`--init ${o.init} holds a ${from.kind} model; --kind is ${kind}`);
      if (o.hidden && settings.hidden !== from.hidden) throw new UsageError(`--init ${o.init} has hidden size ${from.hidden}; --hidden is ${settings.hidden} (leave --hidden out to take the checkpoint's)`);
      settings.hidden = from.hidden;
      settings.init = found.path;
      initWeights = found.checkpoint.servingWeights;
    }
    if (settings.pureNoise && kind !== 'denoiser') throw new UsageError('--pure-noise applies to --kind denoiser only');
    runDir = o.runDir ?? join('runs', `${kind}${settings.pureNoise ? '-pure' : ''}-${timestamp()}`);
  }
  const dataset = loadDataset(settings.data);
  let stopRequested = false;
  const onSigint = (): void => {
    if (stopRequested) process.exit(130);
    stopRequested = true;
    process.stderr.write('\nstopping after this step (Ctrl-C again to quit without saving)…\n');
  };
  process.on('SIGINT', onSigint);
  const tty = process.stderr.isTTY;
  let lastPrint = 0;
  try {
    const outcome = await train({
      settings,
      dataset,
      runDir,
      resume: Boolean(o.resume),
      initWeights,
      extendTo: o.resume && o.epochs ? parseIntOption('epochs', o.epochs, 1, 1000) : undefined,
      backend,
      hooks: {
        shouldStop: () => stopRequested,
        onStart: (description) => process.stderr.write(`training on ${description}; data: ${dataset.source}; run folder: ${runDir}\n`),
        onProgress: (p) => {
          const now = Date.now();
          if (now - lastPrint < (tty ? 250 : 10_000) && p.step !== p.stepsPerEpoch) return;
          lastPrint = now;
          const line = progressLine(p);
          if (tty) process.stderr.write(`\r${line}\x1b[K`);
          else process.stderr.write(line + '\n');
        },
        onEpoch: async (e, run) => {
          writeFileSync(join(runDir, 'loss.png'), await lossCurvePng(run.losses, Math.floor(dataset.count / run.settings.batch), `${run.settings.kind} UNet, D = ${run.settings.hidden}`));
          process.stderr.write(`${tty ? '\n' : ''}epoch ${e.epoch}: mean loss ${e.meanLoss.toFixed(5)}, ${e.seconds.toFixed(0)} s → ${join(runDir, e.checkpoint)}${e.samples ? `, ${join(runDir, e.samples)}` : ''}\n`);
        },
        renderSamples: (spec, weights, s) => renderSamples(spec, weights, s, dataset),
      },
    });
    if (outcome.stopped) {
      process.stdout.write(`stopped; checkpoint saved to ${outcome.lastCheckpoint}\nresume with: illusionist train --resume ${runDir}\n`);
    } else {
      const r = outcome.run;
      process.stdout.write(`done: ${r.settings.epochs} epochs in ${r.trainSeconds.toFixed(0)} s, final loss ${r.epochs.at(-1)?.meanLoss.toFixed(5)}\ncheckpoint: ${outcome.lastCheckpoint}\n`);
    }
  } finally {
    process.off('SIGINT', onSigint);
  }
}

function progressLine(p: TrainProgress): string {
  const eta = Number.isFinite(p.etaSeconds) ? formatEta(p.etaSeconds) : '?';
  return `epoch ${p.epoch + 1} step ${p.step}/${p.stepsPerEpoch} loss ${p.loss.toFixed(5)} lr ${p.lr.toExponential(2)} ${p.imagesPerSecond.toFixed(1)} img/s ETA ${eta}`;
}

/** Whole seconds as `45s`, `12m05s` or `3h07m40s` (rounded first, so never `60s`). */
export function formatEta(seconds: number): string {
  const total = Math.max(0, Math.round(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, '0');
  if (h > 0) return `${h}h${String(m).padStart(2, '0')}m${s}s`;
  return m > 0 ? `${m}m${s}s` : `${total}s`;
}

export const SIGMA_SWEEP = [0, 0.2, 0.4, 0.5, 0.6, 0.8, 1.0];

/**
 * Per-epoch figure: 4 of each digit in columns 0–9 (class), 40 samples (time), or for the
 * denoiser the σ sweep: for each σ in SIGMA_SWEEP a row of noisy inputs and a row of outputs.
 */
async function renderSamples(spec: UNetSpec, weights: Map<string, Float32Array>, s: TrainSettings, dataset: { images: Float32Array; count: number }): Promise<Buffer> {
  const range = pixelRange(s.kind);
  const model = await loadOnnxFlowModel(spec, weights);
  try {
    return await drawSamples(model, s, dataset, range);
  } finally {
    await model.dispose();
  }
}

async function drawSamples(model: OnnxFlowModel, s: TrainSettings, dataset: { images: Float32Array; count: number }, range: [number, number]): Promise<Buffer> {
  if (s.kind === 'denoiser') {
    const rng = new Rng(1234);
    const n = 8;
    const clean = new Float32Array(n * 784);
    for (let i = 0; i < n; i++) {
      const src = Math.floor(((i + 0.5) * dataset.count) / n);
      clean.set(dataset.images.subarray(src * 784, (src + 1) * 784), i * 784);
    }
    const sigmas = s.pureNoise ? [1] : SIGMA_SWEEP;
    const rows: Float32Array[] = [];
    for (const sigma of sigmas) {
      const noisy = clean.map((v) => (s.pureNoise ? rng.normal() : v + sigma * rng.normal()));
      rows.push(noisy, Float32Array.from(await model.velocity(noisy, new Float32Array(n), new Int32Array(n).fill(-1), n)));
    }
    const all = new Float32Array(rows.length * n * 784);
    rows.forEach((r, i) => all.set(r, i * n * 784));
    const labels = sigmas.flatMap((sigma) => Array.from({ length: 2 * n }, (_, i) => (i % n === 0 ? (i < n ? `σ=${sigma}` : 'out') : '')));
    return digitGridPng(all, { cols: n, range, scale: 2, labels });
  }
  const labels = [];
  for (let r = 0; r < 4; r++) for (let d = 0; d < 10; d++) labels.push(d);
  const x = await eulerSample(model, { labels: s.kind === 'class' ? labels : labels.map(() => null), steps: s.sampleSteps, guidance: s.guidance, seed: 0 });
  return digitGridPng(x, { cols: 10, range, scale: 2 });
}

function parseBackend(v: string): TrainBackendChoice {
  if (!(TRAIN_BACKENDS as readonly string[]).includes(v)) throw new UsageError(`--backend must be one of ${TRAIN_BACKENDS.join(', ')}, got '${v}'`);
  return v as TrainBackendChoice;
}

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}
