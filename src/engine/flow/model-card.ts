// Turns a finished training run into a committed model: the last checkpoint without optimizer
// state, its sample grid and loss curve, and a card with the command and figures that made it.
import { copyFileSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import {
  loadCheckpoint,
  epochCheckpointName,
  type LoadedCheckpoint,
  type RunRecord,
  type TrainSettings,
  defaultSettings,
} from './trainer.js';
import { GUIDE_FILE } from './autoguidance.js';
import { writeSafetensors, type TensorEntry } from './safetensors.js';
import { paramInfos } from './unet.js';
import { lossCurvePng } from './figures.js';
import { COMMITTED_MODEL_FILE } from './checkpoints.js';

/** The `train` command line that reproduces these settings (every non-default flag spelled out). */
export function trainCommandFor(s: TrainSettings, runDir: string, backend = ''): string {
  const d = defaultSettings(s.kind);
  const firstEpochs = s.lrDecayEpochs ?? s.epochs;
  const parts = [
    'illusionist train',
    `--kind ${s.kind}`,
    `--hidden ${s.hidden}`,
    `--epochs ${firstEpochs}`,
    `--batch ${s.batch}`,
    `--lr ${s.lr}`,
  ];
  if (!s.scheduler && s.kind !== 'denoiser') parts.push('--no-scheduler');
  if (s.kind === 'denoiser' && s.sigma !== d.sigma) parts.push(`--sigma ${s.sigma}`);
  if (s.pureNoise) parts.push('--pure-noise');
  if (s.data) parts.push(`--data ${s.data}`);
  if (s.ema) parts.push(`--ema ${s.ema}`);
  if (s.init) parts.push(`--init ${s.init}`);
  // The engine is no setting (a run may resume on another: 'A; then B'); the first command names
  // the engine it started on when that was WebGPU.
  if (backend.split('; then ')[0]!.includes('WebGPU')) parts.push('--backend webgpu');
  parts.push(`--seed ${s.seed}`, `--run-dir ${runDir}`);
  const first = parts.join(' ');
  return firstEpochs === s.epochs ? first : `${first}\nillusionist train --resume ${runDir} --epochs ${s.epochs}`;
}

export interface ExportedModel {
  dir: string;
  checkpoint: string;
  card: string;
}

/** Reads a run and checks that `epoch` (default: the last completed one) can be exported. */
export function readRunForExport(
  runDir: string,
  epoch?: number,
): { run: RunRecord; epoch: number; checkpoint: string } {
  const runFile = join(runDir, 'run.json');
  if (!existsSync(runFile)) throw new Error(`${runDir} is not a training run (no run.json)`);
  const run = JSON.parse(readFileSync(runFile, 'utf8')) as RunRecord;
  const done = run.epochs.length;
  const e = epoch ?? done;
  if (done === 0) throw new Error(`the run in ${runDir} has not completed an epoch yet`);
  if (!Number.isInteger(e) || e < 1 || e > done)
    throw new Error(`--epoch must be a completed epoch of ${runDir}, from 1 to ${done}, got ${epoch}`);
  return { run, epoch: e, checkpoint: join(runDir, epochCheckpointName(e)) };
}

/** A checkpoint's serving weights (its average where it has one) as a plain model file, without optimizer state. */
function writeServingModel(ck: LoadedCheckpoint, path: string): Record<string, string> {
  const tensors = new Map<string, TensorEntry>();
  for (const p of paramInfos(ck.spec)) tensors.set(p.name, { shape: p.shape, data: ck.servingWeights.get(p.name)! });
  const meta = { ...ck.metadata };
  delete meta.position;
  delete meta.adam_iterations;
  writeSafetensors(path, tensors, meta);
  return meta;
}

/** The autoguidance guide committed beside a time model: its checkpoint file (as given, and loaded) and the default weight. */
export interface ExportGuide {
  checkpoint: string;
  loaded: LoadedCheckpoint;
  weight: number;
}

function guideSection(guide: ExportGuide, ck: LoadedCheckpoint): string {
  const s = ck.settings;
  const epoch = ck.metadata.epochs_done ?? '?';
  const lastLoss =
    ck.metadata.last_loss === undefined ? '' : `, last step's loss ${Number(ck.metadata.last_loss).toFixed(4)}`;
  const made = s
    ? `The guide is epoch ${epoch} of the run that this\n\`train\` command made${lastLoss}:\n\n\`\`\`sh\n${trainCommandFor(s, dirname(guide.checkpoint))}\n\`\`\``
    : `It is ${guide.checkpoint}.`;
  return `
## Guide (autoguidance)

\`${GUIDE_FILE}\` is a weaker time model, D = ${ck.spec.hidden}, that guides this one when digits are
sampled: u = u_guide + w (u_model − u_guide) with w = ${guide.weight} by default (\`--guidance\`; 1 or
\`--guide none\` samples this model alone). This is autoguidance (Karras et al. 2024): the guide's
errors show where this model is unsure, and sampling steps away from them.
${made}
`;
}

export async function exportModel(
  runDir: string,
  outDir: string,
  opts: {
    name: string;
    epoch?: number;
    samplesPng: Buffer;
    samplesCommand: string;
    samplesSeconds: number;
    samplesChurn?: number;
    /** The flow times whose steps churn, when not from the start to 0.9. */
    samplesChurnInterval?: readonly [number, number];
    guide?: ExportGuide;
    loaded?: LoadedCheckpoint;
  },
): Promise<ExportedModel> {
  const { run, epoch, checkpoint: last } = readRunForExport(runDir, opts.epoch);
  const ck = opts.loaded ?? loadCheckpoint(last); // `loaded`: the caller has already read this epoch's checkpoint
  const globalStep = ck.position?.globalStep ?? run.losses.length;
  mkdirSync(outDir, { recursive: true });
  const checkpoint = join(outDir, COMMITTED_MODEL_FILE);
  const meta = writeServingModel(ck, checkpoint);
  let guideText = '';
  if (opts.guide) {
    const guideCk = opts.guide.loaded;
    if (run.settings.kind !== 'time' || guideCk.spec.kind !== 'time')
      throw new Error(
        `a guide is for a time model, by a time model (here ${run.settings.kind}, guided by ${guideCk.spec.kind})`,
      );
    writeServingModel(guideCk, join(outDir, GUIDE_FILE));
    guideText = guideSection(opts.guide, guideCk);
  } else {
    rmSync(join(outDir, GUIDE_FILE), { force: true }); // a guide left from an earlier export would guide a model it was not chosen for
  }
  const losses = run.losses.slice(0, globalStep);
  const stepsPerEpoch = globalStep / epoch;
  const epochs = run.epochs.slice(0, epoch);
  writeFileSync(
    join(outDir, 'loss.png'),
    await lossCurvePng(losses, stepsPerEpoch, `${opts.name}: ${run.settings.kind} UNet, D = ${run.settings.hidden}`),
  );
  writeFileSync(join(outDir, 'samples.png'), opts.samplesPng);
  const lastEpoch = epochs.at(-1)!;
  const trainSeconds = epochs.reduce((t, e) => t + e.seconds, 0);
  const grids = epochs.filter((e) => e.samples).map((e) => e.samples!);
  for (const g of grids) if (existsSync(join(runDir, g))) copyFileSync(join(runDir, g), join(outDir, g));
  const params = paramInfos(ck.spec)
    .filter((p) => p.trainable)
    .reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
  const card = `# ${opts.name}

The ${run.settings.kind === 'class' ? 'class-conditioned' : run.settings.kind === 'time' ? 'time-conditioned' : 'one-step denoising'} MNIST UNet of Part B (the write-up's architecture, hidden size D = ${run.settings.hidden}, ${params.toLocaleString('en')} trained parameters), trained by this project's own \`train\` command.

## How it was made

\`\`\`sh
${trainCommandFor(run.settings, runDir, run.backend)}
\`\`\`

| | |
| --- | --- |
| data | ${run.dataSource} |
| epochs | ${epoch} × ${stepsPerEpoch} steps of batch ${run.settings.batch}${epoch < run.settings.epochs ? ` (epoch ${epoch} of a run set to ${run.settings.epochs})` : ''} |
| optimizer | Adam, lr ${run.settings.lr}${run.settings.scheduler ? `, ExponentialLR γ = 0.1^(1/${run.settings.lrDecayEpochs ?? run.settings.epochs}) per epoch` : ' (constant)'} |
| weights | ${run.settings.ema ? `exponential moving average, decay ${run.settings.ema} (with warm-up min(d, (1 + n)/(10 + n)))` : "the last step's"}${run.settings.init ? `; training started from ${run.settings.init}` : ''} |
| pixel range | ${meta.pixel_range ?? '?'} |
| class dropout (CFG) | ${run.settings.kind === 'class' ? `p = ${run.settings.pUncond}` : '—'} |
| backend | ${run.backend} |
| machine | ${run.machine ?? '2-core CPU (no GPU), shared with other work while it trained'} |
| wall time | ${(trainSeconds / 60).toFixed(1)} min of training (${epochs.map((e) => `${(e.seconds / 60).toFixed(1)}`).join(' + ')} min per epoch) |
| final loss | ${lastEpoch.meanLoss.toFixed(5)} (mean MSE of the last epoch) |

Per-epoch mean loss: ${epochs.map((e) => `${e.epoch}: ${e.meanLoss.toFixed(4)}`).join(', ')}.

## Samples

![samples](samples.png)

\`${opts.samplesCommand}\` (${opts.samplesSeconds.toFixed(1)} s with onnxruntime on the same CPU${opts.samplesChurn ? `; the sampler's default churn ${opts.samplesChurn} re-noises each step${opts.samplesChurnInterval ? ` from t in [${opts.samplesChurnInterval[0]}, ${opts.samplesChurnInterval[1]}]` : ''}, \`--churn 0\` is the plain ODE` : ''}).
Per-epoch grids drawn during training: ${grids.map((g) => `[${g}](${g})`).join(', ')}.

![loss](loss.png)

\`model.safetensors\` holds the weights and BatchNorm statistics (safetensors format; metadata:
spec, settings, pixel range). It is exported to ONNX in memory when loaded.
${guideText}`;
  const cardPath = join(outDir, 'card.md');
  writeFileSync(cardPath, card);
  return { dir: outDir, checkpoint, card: cardPath };
}
