// `illusionist train`: trains a Part B model with progress on the terminal, a checkpoint and a
// sample grid per epoch, and Ctrl-C that saves and tells how to resume.
import { join } from 'node:path';
import type { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { train, type TrainProgress } from '../../engine/flow/trainer.js';
import {
  defaultSettings,
  TRAIN_LIMITS,
  type LimitedSetting,
  type TrainSettings,
} from '../../engine/flow/train-settings.js';
import { UNET_KINDS, type UNetKind } from '../../engine/flow/unet.js';
import { TRAIN_BACKENDS, type TrainBackendChoice } from '../../engine/flow/train-engine.js';
import { lossCurvePng } from '../../engine/flow/figures.js';
import { loadDataset } from '../../engine/data/load.js';
import { resolveCheckpoint } from '../../engine/flow/checkpoints.js';
import { parseFloatOption, parseIntOption } from '../errors.js';
import { InputError } from '../../engine/errors.js';

interface TrainCliOptions {
  kind?: string;
  epochs?: string;
  hidden?: string;
  batch?: string;
  lr?: string;
  scheduler?: boolean;
  sigma?: string;
  pureNoise?: boolean;
  data?: string;
  seed?: string;
  runDir?: string;
  resume?: string;
  backend?: string;
  ema?: string;
  init?: string;
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
    .option(
      '--ema <decay>',
      'keep an exponential moving average of the weights (e.g. 0.999) and sample with it (default: none, as in the write-up)',
    )
    .option(
      '--init <checkpoint>',
      "start from this checkpoint's weights (committed model name or folder, .safetensors file or run folder) with a fresh optimizer and schedule",
    )
    .option(
      '--resume <dir>',
      'resume the run in this folder from its last checkpoint (with --epochs: train a finished run on to N epochs)',
    )
    .option('--backend <name>', `${TRAIN_BACKENDS.join(' | ')} (auto = onnxruntime)`, 'auto')
    .action(async (o: TrainCliOptions) => runTrain(o));
}

async function runTrain(o: TrainCliOptions): Promise<void> {
  const backend = parseBackend(o.backend ?? 'auto');
  let settings: TrainSettings;
  let runDir: string;
  let initWeights: Map<string, Float32Array> | undefined;
  if (o.resume) {
    if (o.init)
      throw new InputError('--init starts a new run; a resumed run keeps its own weights (drop --init or --resume)');
    if (o.ema) throw new InputError('--ema is fixed when a run starts; a resumed run keeps its own');
    runDir = o.resume;
    settings = defaultSettings('class'); // replaced by the run's own settings on resume
  } else {
    const kind = o.kind as UNetKind;
    if (!UNET_KINDS.includes(kind))
      throw new InputError(`--kind must be one of ${UNET_KINDS.join(', ')}, got '${o.kind}'`);
    const d = defaultSettings(kind);
    settings = {
      ...d,
      epochs: o.epochs ? parseSetting('epochs', o.epochs) : d.epochs,
      hidden: o.hidden ? parseSetting('hidden', o.hidden) : d.hidden,
      batch: o.batch ? parseSetting('batch', o.batch) : d.batch,
      lr: o.lr ? parseSetting('lr', o.lr) : d.lr,
      scheduler: kind === 'denoiser' ? false : o.scheduler !== false,
      sigma: parseSetting('sigma', o.sigma ?? '0.5'),
      pureNoise: Boolean(o.pureNoise),
      seed: parseIntOption('seed', o.seed ?? '0', 0, 2 ** 32 - 1),
      data: o.data ?? null,
      ema: o.ema ? parseSetting('ema', o.ema) : 0,
    };
    if (settings.ema && kind === 'denoiser')
      throw new InputError('--ema applies to the flow models (--kind time or class)');
    if (o.init) {
      let found: ReturnType<typeof resolveCheckpoint>;
      try {
        found = resolveCheckpoint(o.init, kind);
      } catch (err) {
        throw new InputError(`--init: ${(err as Error).message}`);
      }
      const from = found.checkpoint.spec;
      if (from.kind !== kind) throw new InputError(`--init ${o.init} holds a ${from.kind} model; --kind is ${kind}`);
      if (o.hidden && settings.hidden !== from.hidden)
        throw new InputError(
          `--init ${o.init} has hidden size ${from.hidden}; --hidden is ${settings.hidden} (leave --hidden out to take the checkpoint's)`,
        );
      settings.hidden = from.hidden;
      settings.init = found.path;
      initWeights = found.checkpoint.servingWeights;
    }
    if (settings.pureNoise && kind !== 'denoiser') throw new InputError('--pure-noise applies to --kind denoiser only');
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
      extendTo: o.resume && o.epochs ? parseSetting('epochs', o.epochs) : undefined,
      backend,
      sampleGrids: true,
      hooks: {
        shouldStop: () => stopRequested,
        onStart: (description) =>
          process.stderr.write(`training on ${description}; data: ${dataset.source}; run folder: ${runDir}\n`),
        onProgress: (p) => {
          const now = Date.now();
          if (now - lastPrint < (tty ? 250 : 10_000) && p.step !== p.stepsPerEpoch) return;
          lastPrint = now;
          const line = progressLine(p);
          if (tty) process.stderr.write(`\r${line}\x1b[K`);
          else process.stderr.write(`${line}\n`);
        },
        onEpoch: async (e, run) => {
          writeFileSync(
            join(runDir, 'loss.png'),
            await lossCurvePng(
              run.losses,
              Math.floor(dataset.count / run.settings.batch),
              `${run.settings.kind} UNet, D = ${run.settings.hidden}`,
            ),
          );
          process.stderr.write(
            `${tty ? '\n' : ''}epoch ${e.epoch}: mean loss ${e.meanLoss.toFixed(5)}, ${e.seconds.toFixed(0)} s → ${join(runDir, e.checkpoint)}${e.samples ? `, ${join(runDir, e.samples)}` : ''}\n`,
          );
        },
      },
    });
    if (outcome.stopped) {
      process.stdout.write(
        `stopped; checkpoint saved to ${outcome.lastCheckpoint}\nresume with: illusionist train --resume ${runDir}\n`,
      );
    } else {
      const r = outcome.run;
      process.stdout.write(
        `done: ${r.settings.epochs} epochs in ${r.trainSeconds.toFixed(0)} s, final loss ${r.epochs.at(-1)?.meanLoss.toFixed(5)}\ncheckpoint: ${outcome.lastCheckpoint}\n`,
      );
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

/** A flag of a setting in TRAIN_LIMITS, checked against its range there. */
function parseSetting(name: LimitedSetting, value: string): number {
  const { min, max, integer } = TRAIN_LIMITS[name];
  return integer ? parseIntOption(name, value, min, max) : parseFloatOption(name, value, min, max);
}

function parseBackend(v: string): TrainBackendChoice {
  if (!(TRAIN_BACKENDS as readonly string[]).includes(v))
    throw new InputError(`--backend must be one of ${TRAIN_BACKENDS.join(', ')}, got '${v}'`);
  return v as TrainBackendChoice;
}

function timestamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}
