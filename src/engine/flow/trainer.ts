// Part B trainers: the one-step denoiser (σ-noised or pure-noise input), time-conditioned and
// class-conditioned flow matching. Checkpoints every epoch and on request, resumable bit-for-bit.
import { cpus } from 'node:os';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Rng } from '../random.js';
import type { Dataset } from '../data/dataset.js';
import { initialWeights, paramInfos, NUM_CLASSES, type UNetKind, type UNetSpec } from './unet.js';
import type { AdamState } from './adam.js';
import { createTrainEngine, type TrainBackendChoice } from './train-engine.js';
import { readSafetensors, writeSafetensors, type TensorEntry } from './safetensors.js';

export interface TrainSettings {
  kind: UNetKind;
  epochs: number;
  hidden: number;
  batch: number;
  lr: number;
  /** ExponentialLR with γ = 0.1^(1/epochs), stepped per epoch (flow models); false = constant lr. */
  scheduler: boolean;
  /**
   * Epochs over which ExponentialLR falls tenfold (γ = 0.1^(1/lrDecayEpochs)); unset = `epochs`.
   * Set when a finished run is extended, so the schedule keeps its γ (as PyTorch's would).
   */
  lrDecayEpochs?: number;
  /** Denoiser: noise level of z = x + σε. */
  sigma: number;
  /** Denoiser variant whose input is pure noise (collapses to the mean digit). */
  pureNoise: boolean;
  /** Class model: probability of dropping the one-hot to zeros (CFG's null class). */
  pUncond: number;
  seed: number;
  /** Folder of IDX files, or null for the embedded 10,000 digits. */
  data: string | null;
  /** Digits of each class in the per-epoch sample grid, Euler steps and CFG scale used for it. */
  sampleSteps: number;
  guidance: number;
  /**
   * Decay of an exponential moving average of the trained weights (0 = none). With it, sample
   * grids, exports and sampling use the average; the live weights keep training.
   */
  ema?: number;
  /** Checkpoint the run's weights started from (a fine-tuning run), as given to --init. */
  init?: string;
}

/** The seed's hyper-parameters (REFERENCES.md, Part B). */
export function defaultSettings(kind: UNetKind): TrainSettings {
  const common = { kind, sigma: 0.5, pureNoise: false, pUncond: 0.1, seed: 0, data: null, sampleSteps: 50, guidance: 5 };
  if (kind === 'denoiser') return { ...common, epochs: 5, hidden: 128, batch: 256, lr: 1e-4, scheduler: false };
  return { ...common, epochs: 10, hidden: 64, batch: 64, lr: 1e-2, scheduler: true };
}

/** Pixel range the model is trained in: flow models use [-1, 1] so that negation is a valid view. */
export function pixelRange(kind: UNetKind): [number, number] {
  return kind === 'denoiser' ? [0, 1] : [-1, 1];
}

export interface TrainProgress {
  epoch: number; // 0-based
  step: number; // within the epoch, 1-based
  stepsPerEpoch: number;
  globalStep: number;
  loss: number;
  lr: number;
  imagesPerSecond: number;
  etaSeconds: number;
}

export interface EpochSummary {
  epoch: number; // 1-based count of completed epochs
  meanLoss: number;
  seconds: number;
  checkpoint: string;
  samples?: string;
}

export interface RunRecord {
  settings: TrainSettings;
  spec: UNetSpec;
  backend: string;
  /** Where it trained: core count and CPU model, as os.cpus() says (runs from before 2026-11-26 lack it). */
  machine?: string;
  dataSource: string;
  createdAt: string;
  /** Loss of every step, in order. */
  losses: number[];
  epochs: EpochSummary[];
  trainSeconds: number;
  finished: boolean;
}

export interface TrainHooks {
  /** Called once the step engine is running, with its description. */
  onStart?(backendDescription: string): void;
  onProgress?(p: TrainProgress): void;
  onEpoch?(e: EpochSummary, run: RunRecord): void | Promise<void>;
  /** Polled after every step; true saves `last.safetensors` and returns early (Ctrl-C). */
  shouldStop?(): boolean;
  /** Renders the sample grid for a checkpoint's weights (PNG bytes); omitted = no grids. */
  renderSamples?(spec: UNetSpec, weights: Map<string, Float32Array>, settings: TrainSettings, epoch: number): Promise<Buffer | undefined>;
  /** Awaited between steps: lets a job system run interactive work first. */
  yieldPoint?(): Promise<void>;
}

export interface TrainOutcome {
  runDir: string;
  run: RunRecord;
  stopped: boolean;
  lastCheckpoint: string | undefined;
}

const RUN_FILE = 'run.json';
const LAST = 'last.safetensors';

export function epochCheckpointName(epoch: number): string {
  return `checkpoint-epoch-${String(epoch).padStart(3, '0')}.safetensors`;
}

/** Per-epoch shuffle, derived from the run seed so a resumed run visits the same order. */
function epochOrder(seed: number, epoch: number, count: number): Int32Array {
  const rng = new Rng((seed * 1_000_003 + epoch * 7919 + 17) % 4_294_967_291);
  const order = new Int32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  rng.shuffle(order);
  return order;
}

/** A new run was pointed at a folder that already holds one. */
export class RunExistsError extends Error {
  override name = 'RunExistsError';
  constructor(readonly runDir: string) {
    super(`${runDir} already holds a training run; continue it with --resume ${runDir}, or choose another --run-dir`);
  }
}

/** Where a run stands; `epochSeconds`: time already spent in a stopped epoch (its record counts it). */
interface Position { epoch: number; step: number; globalStep: number; rng: number[]; epochSeconds?: number }

/** Trains a new run in `runDir` or resumes the one there. */
export async function train(opts: {
  settings: TrainSettings;
  dataset: Dataset;
  runDir: string;
  resume?: boolean;
  /** With resume: train on to this many epochs in all (extends a finished run). */
  extendTo?: number;
  /** Where steps run: 'auto' (onnxruntime), 'onnxruntime', or a TensorFlow.js backend. */
  backend?: TrainBackendChoice;
  /** A new run starts from these weights (spec must match settings' kind and hidden) instead of a fresh initialisation. */
  initWeights?: Map<string, Float32Array>;
  hooks?: TrainHooks;
}): Promise<TrainOutcome> {
  const hooks = opts.hooks ?? {};
  const { dataset, runDir } = opts;

  let run: RunRecord;
  let weights: Map<string, Float32Array>;
  let pos: Position;
  let adamState: AdamState | undefined;
  let ema: Map<string, Float32Array> | undefined;
  const runFile = join(runDir, RUN_FILE);
  if (opts.resume) {
    if (!existsSync(runFile)) throw new Error(`cannot resume: ${runFile} does not exist`);
    run = JSON.parse(readFileSync(runFile, 'utf8')) as RunRecord;
    if (opts.extendTo !== undefined) {
      if (!Number.isInteger(opts.extendTo) || opts.extendTo <= run.epochs.length) {
        throw new Error(`--epochs must be more than the ${run.epochs.length} epochs already trained in ${runDir}, got ${opts.extendTo}`);
      }
      run.settings.lrDecayEpochs ??= run.settings.epochs;
      run.settings.epochs = opts.extendTo;
      run.finished = false;
    }
    if (run.finished) throw new Error(`run in ${runDir} already finished its ${run.settings.epochs} epochs; train on with --resume ${runDir} --epochs N`);
    const ckpt = latestCheckpoint(runDir);
    if (!ckpt) throw new Error(`cannot resume: no checkpoint in ${runDir}`);
    const loaded = loadCheckpoint(ckpt);
    weights = loaded.weights;
    pos = loaded.position ?? { epoch: run.epochs.length, step: 0, globalStep: run.losses.length, rng: new Rng(run.settings.seed).state() };
    adamState = adamStateOf(run.spec, loaded.adam);
    ema = loaded.ema;
    run.losses = run.losses.slice(0, pos.globalStep);
  } else {
    // A new run never writes over another's checkpoints.
    if (existsSync(runFile) || latestCheckpoint(runDir)) throw new RunExistsError(runDir);
    const spec: UNetSpec = { kind: opts.settings.kind, hidden: opts.settings.hidden };
    run = {
      settings: opts.settings,
      spec,
      backend: '',
      dataSource: dataset.source,
      createdAt: new Date().toISOString(),
      losses: [],
      epochs: [],
      trainSeconds: 0,
      finished: false,
    };
    weights = opts.initWeights ? new Map(opts.initWeights) : initialWeights(spec, opts.settings.seed);
    // Batch noise uses its own stream, apart from the weight initialisation's.
    pos = { epoch: 0, step: 0, globalStep: 0, rng: new Rng((opts.settings.seed ^ 0x9e3779b9) >>> 0).state() };
  }
  const s = run.settings;
  validateSettings(s);
  const rng = Rng.fromState(pos.rng);
  const stepsPerEpoch = Math.floor(dataset.count / s.batch);
  if (stepsPerEpoch < 1) throw new Error(`batch size ${s.batch} is larger than the data set (${dataset.count} images)`);
  const engine = await createTrainEngine(opts.backend ?? 'auto', { spec: run.spec, batch: s.batch, weights, adam: adamState });
  // A run resumed on another engine keeps the record of both.
  run.backend = run.backend && !run.backend.endsWith(engine.description) ? `${run.backend}; then ${engine.description}` : engine.description;
  const machine = machineDescription();
  run.machine = run.machine && run.machine !== machine ? `${run.machine}; then ${machine}` : machine;
  // Made only once the engine runs, so a run that cannot start leaves no empty folder behind.
  mkdirSync(runDir, { recursive: true });
  hooks.onStart?.(engine.description);
  const emaDecay = s.ema ?? 0;
  if (emaDecay > 0 && !ema) ema = new Map(paramInfos(run.spec).filter((p) => p.trainable).map((p) => [p.name, Float32Array.from(weights.get(p.name)!)]));
  /** Writes a checkpoint; returns the weights to sample with (the epoch's sample grid reuses them). */
  const save = async (path: string, position: Position): Promise<Map<string, Float32Array>> => {
    const weights = await engine.weights();
    saveCheckpoint(path, run.spec, weights, await engine.adamState(), run, position, ema);
    return withEma(weights, ema);
  };

  const B = s.batch;
  const P = 28 * 28;
  const [lo, hi] = pixelRange(s.kind);
  const xIn = new Float32Array(B * P);
  const target = new Float32Array(B * P);
  const tIn = new Float32Array(B);
  const cIn = new Float32Array(B * NUM_CLASSES);
  let stopped = false;
  const started = performance.now() - run.trainSeconds * 1000;
  let windowStart = performance.now();
  let windowImages = 0;
  let rate = 0;

  try {
    for (let epoch = pos.epoch; epoch < s.epochs && !stopped; epoch++) {
      const lr = s.scheduler ? s.lr * Math.pow(0.1, epoch / (s.lrDecayEpochs ?? s.epochs)) : s.lr;
      const order = epochOrder(s.seed, epoch, dataset.count);
      const firstStep = epoch === pos.epoch ? pos.step : 0;
      // A resumed epoch counts the time it ran before the stop.
      const epochStart = performance.now() - (epoch === pos.epoch && firstStep > 0 ? (pos.epochSeconds ?? 0) * 1000 : 0);
      for (let step = firstStep; step < stepsPerEpoch; step++) {
        await hooks.yieldPoint?.();
        // Batch assembly in plain arrays: x1 (data), x0 ~ N(0, I), t ~ U(0, 1).
        for (let b = 0; b < B; b++) {
          const idx = order[step * B + b]!;
          const src = dataset.images.subarray(idx * P, (idx + 1) * P);
          const t = rng.uniform();
          tIn[b] = t;
          const dropClass = rng.uniform() < s.pUncond;
          cIn.fill(0, b * NUM_CLASSES, (b + 1) * NUM_CLASSES);
          if (!dropClass) cIn[b * NUM_CLASSES + dataset.labels[idx]!] = 1;
          for (let i = 0; i < P; i++) {
            const x1 = lo + (hi - lo) * src[i]!;
            const e = rng.normal();
            const o = b * P + i;
            if (s.kind === 'denoiser') {
              xIn[o] = s.pureNoise ? e : x1 + s.sigma * e;
              target[o] = x1;
            } else {
              xIn[o] = (1 - t) * e + t * x1; // x_t = (1 − t)x0 + t·x1 (B.3)
              target[o] = x1 - e; // u = x1 − x0 (B.4)
            }
          }
        }
        const loss = await engine.step({ x: xIn, target, t: tIn, c: cIn }, lr);
        if (!Number.isFinite(loss)) throw new Error(`loss became ${loss} at epoch ${epoch + 1} step ${step + 1}; try a lower --lr (now ${lr})`);
        run.losses.push(loss);
        if (ema) updateEma(ema, await engine.weights(), emaDecay, pos.globalStep);
        pos.globalStep++;
        windowImages += B;
        const now = performance.now();
        if (now - windowStart > 2000 || rate === 0) {
          rate = (windowImages / (now - windowStart)) * 1000;
          windowStart = now;
          windowImages = 0;
        }
        const remaining = (s.epochs - epoch) * stepsPerEpoch - (step + 1);
        hooks.onProgress?.({
          epoch, step: step + 1, stepsPerEpoch, globalStep: pos.globalStep, loss, lr,
          imagesPerSecond: rate, etaSeconds: rate > 0 ? (remaining * B) / rate : NaN,
        });
        if (hooks.shouldStop?.() && step + 1 < stepsPerEpoch) {
          run.trainSeconds = (performance.now() - started) / 1000;
          await save(join(runDir, LAST), { epoch, step: step + 1, globalStep: pos.globalStep, rng: rng.state(), epochSeconds: (performance.now() - epochStart) / 1000 });
          writeFileSync(runFile, JSON.stringify(run));
          stopped = true;
          break;
        }
      }
      if (stopped) break;
      const done = epoch + 1;
      run.trainSeconds = (performance.now() - started) / 1000;
      const ckptName = epochCheckpointName(done);
      // The whole epoch's losses, those before a stop included (a resumed run keeps them).
      const epochLosses = run.losses.slice(run.losses.length - stepsPerEpoch);
      const summary: EpochSummary = {
        epoch: done,
        meanLoss: epochLosses.reduce((a, b) => a + b, 0) / epochLosses.length,
        seconds: (performance.now() - epochStart) / 1000,
        checkpoint: ckptName,
      };
      run.finished = done === s.epochs;
      const saved = await save(join(runDir, ckptName), { epoch: done, step: 0, globalStep: pos.globalStep, rng: rng.state() });
      const png = hooks.renderSamples ? await hooks.renderSamples(run.spec, saved, s, done) : undefined;
      if (png) {
        summary.samples = `samples-epoch-${String(done).padStart(3, '0')}.png`;
        writeFileSync(join(runDir, summary.samples), png);
      }
      run.epochs.push(summary);
      writeFileSync(runFile, JSON.stringify(run));
      await hooks.onEpoch?.(summary, run);
      if (hooks.shouldStop?.() && !run.finished) { stopped = true; break; }
    }
  } finally {
    await engine.dispose();
  }
  return { runDir, run, stopped, lastCheckpoint: latestCheckpoint(runDir) };
}

function validateSettings(s: TrainSettings): void {
  const bad = (what: string): never => { throw new Error(what); };
  if (!Number.isInteger(s.epochs) || s.epochs < 1 || s.epochs > 1000) bad(`--epochs must be an integer from 1 to 1000, got ${s.epochs}`);
  if (!Number.isInteger(s.hidden) || s.hidden < 1 || s.hidden > 512) bad(`--hidden must be an integer from 1 to 512, got ${s.hidden}`);
  if (!Number.isInteger(s.batch) || s.batch < 2 || s.batch > 4096) bad(`--batch must be an integer from 2 to 4096, got ${s.batch}`);
  if (!(s.lr > 0 && s.lr < 10)) bad(`--lr must be a number in (0, 10), got ${s.lr}`);
  if (!(s.sigma >= 0 && s.sigma <= 10)) bad(`--sigma must be in [0, 10], got ${s.sigma}`);
  if (!(s.pUncond >= 0 && s.pUncond < 1)) bad(`p_uncond must be in [0, 1), got ${s.pUncond}`);
  if (s.ema !== undefined && !(s.ema >= 0 && s.ema < 1)) bad(`--ema must be a decay in [0, 1), got ${s.ema}`);
}

/**
 * One update of the weight average after optimiser step `n` (0-based), with the usual warm-up
 * (TensorFlow's ExponentialMovingAverage with num_updates): decay min(d, (1 + n) / (10 + n)),
 * so the average follows the weights closely at first and slowly later.
 */
export function updateEma(ema: Map<string, Float32Array>, weights: Map<string, Float32Array>, decay: number, n: number): void {
  const d = Math.min(decay, (1 + n) / (10 + n));
  for (const [name, avg] of ema) {
    const w = weights.get(name)!;
    for (let i = 0; i < avg.length; i++) avg[i] = d * avg[i]! + (1 - d) * w[i]!;
  }
}

/** The weights to sample with: the trainable tensors replaced by their average, when there is one. */
export function withEma(weights: Map<string, Float32Array>, ema: Map<string, Float32Array> | undefined): Map<string, Float32Array> {
  if (!ema) return weights;
  const out = new Map(weights);
  for (const [name, avg] of ema) out.set(name, avg);
  return out;
}

/** Most recent resumable checkpoint of a run: `last` if newer than the last epoch's. */
export function latestCheckpoint(runDir: string): string | undefined {
  if (!existsSync(runDir)) return undefined;
  const epochs = readdirSync(runDir).filter((f) => /^checkpoint-epoch-\d+\.safetensors$/.test(f)).sort();
  const lastEpochFile = epochs.at(-1);
  const lastPath = join(runDir, LAST);
  if (existsSync(lastPath)) {
    const meta = readSafetensors(lastPath).metadata;
    const p = JSON.parse(meta.position ?? 'null') as Position | null;
    const epochDone = lastEpochFile ? Number(/(\d+)/.exec(lastEpochFile)![1]) : 0;
    if (p && p.epoch >= epochDone) return lastPath;
  }
  return lastEpochFile ? join(runDir, lastEpochFile) : undefined;
}

function saveCheckpoint(path: string, spec: UNetSpec, weights: Map<string, Float32Array>, adam: AdamState, run: RunRecord, position: Position, ema?: Map<string, Float32Array>): void {
  const tensors = new Map<string, TensorEntry>();
  for (const p of paramInfos(spec)) tensors.set(p.name, { shape: p.shape, data: weights.get(p.name)! });
  for (const p of paramInfos(spec).filter((q) => q.trainable)) {
    const m = adam.m.get(p.name);
    const v = adam.v.get(p.name);
    if (m && v) {
      tensors.set(`adam.m/${p.name}`, { shape: p.shape, data: m });
      tensors.set(`adam.v/${p.name}`, { shape: p.shape, data: v });
    }
    const avg = ema?.get(p.name);
    if (avg) tensors.set(`${EMA_PREFIX}${p.name}`, { shape: p.shape, data: avg });
  }
  writeSafetensors(path, tensors, {
    format: 'illusionist-unet-1',
    spec: JSON.stringify(spec),
    settings: JSON.stringify(run.settings),
    pixel_range: JSON.stringify(pixelRange(spec.kind)),
    position: JSON.stringify(position),
    adam_iterations: String(adam.iterations),
    epochs_done: String(run.epochs.length + (position.step === 0 ? 1 : 0)),
    last_loss: String(run.losses.at(-1) ?? NaN),
    data_source: run.dataSource,
  });
}

/** A checkpoint's Adam state, or undefined when it has none for every trainable tensor (Adam starts afresh). */
function adamStateOf(spec: UNetSpec, tensors: Map<string, TensorEntry>): AdamState | undefined {
  const state: AdamState = { iterations: Number(tensors.get('__iterations__')?.data[0] ?? 0), m: new Map(), v: new Map() };
  for (const p of paramInfos(spec).filter((q) => q.trainable)) {
    const m = tensors.get(`adam.m/${p.name}`);
    const v = tensors.get(`adam.v/${p.name}`);
    if (!m || !v) return undefined;
    state.m.set(p.name, m.data);
    state.v.set(p.name, v.data);
  }
  return state;
}

const EMA_PREFIX = 'ema/';

export interface LoadedCheckpoint {
  spec: UNetSpec;
  settings: TrainSettings | undefined;
  /** The live training weights (what a resumed run continues from). */
  weights: Map<string, Float32Array>;
  /** The weight average of a run trained with --ema, if any. */
  ema: Map<string, Float32Array> | undefined;
  /** What sampling, exports and fine-tuning use: the average where there is one, else the weights. */
  servingWeights: Map<string, Float32Array>;
  metadata: Record<string, string>;
  position: Position | undefined;
  adam: Map<string, TensorEntry>;
}

/** Reads a checkpoint (weights, spec, settings, optimizer state, position). */
export function loadCheckpoint(path: string): LoadedCheckpoint {
  if (!existsSync(path)) throw new Error(`checkpoint not found: ${path}`);
  const { tensors, metadata } = readSafetensors(path);
  if (metadata.format !== 'illusionist-unet-1') throw new Error(`${path} is not an Illusionist UNet checkpoint (format '${metadata.format ?? 'none'}')`);
  const spec = JSON.parse(metadata.spec!) as UNetSpec;
  const weights = new Map<string, Float32Array>();
  const adam = new Map<string, TensorEntry>();
  const ema = new Map<string, Float32Array>();
  for (const [name, t] of tensors) {
    if (name.startsWith('adam.')) adam.set(name, t);
    else if (name.startsWith(EMA_PREFIX)) ema.set(name.slice(EMA_PREFIX.length), t.data);
    else weights.set(name, t.data);
  }
  adam.set('__iterations__', { shape: [1], data: new Float32Array([Number(metadata.adam_iterations ?? 0)]) });
  const average = ema.size > 0 ? ema : undefined;
  return {
    spec,
    settings: metadata.settings ? (JSON.parse(metadata.settings) as TrainSettings) : undefined,
    weights,
    ema: average,
    servingWeights: withEma(weights, average),
    metadata,
    position: metadata.position ? (JSON.parse(metadata.position) as Position) : undefined,
    adam,
  };
}

/** This machine in a few words: '16-core CPU (AMD EPYC 9454)'. */
export function machineDescription(): string {
  const list = cpus();
  const model = list[0]?.model.replace(/\s+/g, ' ').trim();
  return `${list.length}-core CPU${model ? ` (${model})` : ''}`;
}
