// Part B trainers: the one-step denoiser (σ-noised or pure-noise input), time-conditioned and
// class-conditioned flow matching. Checkpoints every epoch and on request, resumable bit-for-bit.
import { cpus } from 'node:os';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../errors.js';
import { Rng } from '../random.js';
import type { Dataset } from '../data/dataset.js';
import { DIGIT_PIXELS } from '../data/dataset.js';
import { initialWeights, paramInfos, NUM_CLASSES, type UNetSpec } from './unet.js';
import type { AdamState } from './adam.js';
import { createTrainEngine, type StepBatch, type TrainBackendChoice, type TrainEngine } from './train-engine.js';
import { readSafetensors, writeSafetensors, type TensorEntry } from './safetensors.js';
import { pixelRange, validateSettings, type TrainSettings } from './train-settings.js';
import { renderSampleGrid, type SampleGridData } from './sample-grid.js';

export { defaultSettings, pixelRange, type TrainSettings } from './train-settings.js';

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
  /** Where it trained: core count and CPU model, as os.cpus() says (optional: run records written without it still load). */
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
  /** After each epoch's checkpoint (and sample grid) is written. */
  onEpoch?(e: EpochSummary, run: RunRecord): void | Promise<void>;
  /** Polled after every step; true saves `last.safetensors` and returns early (Ctrl-C). */
  shouldStop?(): boolean;
  /** Awaited between steps: lets a job system run interactive work first. */
  yieldPoint?(): Promise<void>;
}

export interface TrainOptions {
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
  /** Draw each epoch's sample grid (renderSampleGrid) beside its checkpoint as samples-epoch-NNN.png. */
  sampleGrids?: boolean;
  hooks?: TrainHooks;
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

function samplesName(epoch: number): string {
  return `samples-epoch-${String(epoch).padStart(3, '0')}.png`;
}

/** Per-epoch shuffle, derived from the run seed so a resumed run visits the same order. */
function epochOrder(seed: number, epoch: number, count: number): Int32Array {
  const rng = new Rng((seed * 1_000_003 + epoch * 7919 + 17) % 4_294_967_291);
  const order = new Int32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  rng.shuffle(order);
  return order;
}

/** ExponentialLR stepped per epoch (flow models), else constant. */
function learningRate(s: TrainSettings, epoch: number): number {
  return s.scheduler ? s.lr * 0.1 ** (epoch / (s.lrDecayEpochs ?? s.epochs)) : s.lr;
}

/** A new run was pointed at a folder that already holds one. */
/** A new run pointed at another run's folder: the user's InputError. */
export class RunExistsError extends InputError {
  override name = 'RunExistsError';
  constructor(readonly runDir: string) {
    super(`${runDir} already holds a training run; continue it with --resume ${runDir}, or choose another --run-dir`);
  }
}

/** Where a run stands; `epochSeconds`: time already spent in a stopped epoch (its record counts it). */
interface Position {
  epoch: number;
  step: number;
  globalStep: number;
  rng: number[];
  epochSeconds?: number;
}

/** A run ready to train: fresh (new weights, no optimizer state) or resumed from its latest checkpoint. */
type OpenedRun =
  | { from: 'new'; run: RunRecord; weights: Map<string, Float32Array>; position: Position }
  | {
      from: 'checkpoint';
      checkpoint: string;
      run: RunRecord;
      weights: Map<string, Float32Array>;
      position: Position;
      adam: AdamState | undefined;
      ema: Map<string, Float32Array> | undefined;
    };

/**
 * Trains a new run in `runDir` or resumes the one there: open the run, start its step engine,
 * then per step fill a batch, step, meter the rate (and stop on request), and per epoch finish
 * it with a checkpoint, a sample grid and the run record.
 */
export async function train(opts: TrainOptions): Promise<TrainOutcome> {
  const hooks = opts.hooks ?? {};
  const { dataset, runDir } = opts;
  const opened = opts.resume ? resumeRun(runDir, opts.extendTo) : newRun(opts);
  const { run, position: pos } = opened;
  const s = run.settings;
  validateSettings(s);
  const rng = Rng.fromState(pos.rng);
  const stepsPerEpoch = Math.floor(dataset.count / s.batch);
  if (stepsPerEpoch < 1) throw new Error(`batch size ${s.batch} is larger than the data set (${dataset.count} images)`);
  const engine = await createTrainEngine(opts.backend ?? 'auto', {
    spec: run.spec,
    batch: s.batch,
    weights: opened.weights,
    adam: opened.from === 'checkpoint' ? opened.adam : undefined,
  });
  recordWhereItTrains(run, engine.description);
  // Made only once the engine runs, so a run that cannot start leaves no empty folder behind.
  mkdirSync(runDir, { recursive: true });
  hooks.onStart?.(engine.description);
  const emaDecay = s.ema ?? 0;
  const ema =
    (opened.from === 'checkpoint' ? opened.ema : undefined) ??
    (emaDecay > 0 ? freshEma(run.spec, opened.weights) : undefined);
  const files = new RunFiles(runDir, run, engine, ema);

  const batch = emptyBatch(s.batch);
  const started = performance.now() - run.trainSeconds * 1000;
  const meter = new RateMeter();
  try {
    for (let epoch = pos.epoch; epoch < s.epochs; epoch++) {
      const lr = learningRate(s, epoch);
      const order = epochOrder(s.seed, epoch, dataset.count);
      const firstStep = epoch === pos.epoch ? pos.step : 0;
      // A resumed epoch counts the time it ran before the stop.
      const epochStart =
        performance.now() - (epoch === pos.epoch && firstStep > 0 ? (pos.epochSeconds ?? 0) * 1000 : 0);
      for (let step = firstStep; step < stepsPerEpoch; step++) {
        await hooks.yieldPoint?.();
        fillBatch(batch, dataset, order, step, rng, s);
        const loss = await engine.step(batch, lr);
        if (!Number.isFinite(loss))
          throw new Error(`loss became ${loss} at epoch ${epoch + 1} step ${step + 1}; try a lower --lr (now ${lr})`);
        run.losses.push(loss);
        if (ema) updateEma(ema, await engine.weights(), emaDecay, pos.globalStep);
        pos.globalStep++;
        const rate = meter.count(s.batch);
        const remaining = (s.epochs - epoch) * stepsPerEpoch - (step + 1);
        hooks.onProgress?.({
          epoch,
          step: step + 1,
          stepsPerEpoch,
          globalStep: pos.globalStep,
          loss,
          lr,
          imagesPerSecond: rate,
          etaSeconds: rate > 0 ? (remaining * s.batch) / rate : NaN,
        });
        if (hooks.shouldStop?.() && step + 1 < stepsPerEpoch) {
          run.trainSeconds = (performance.now() - started) / 1000;
          await files.saveStop({
            epoch,
            step: step + 1,
            globalStep: pos.globalStep,
            rng: rng.state(),
            epochSeconds: (performance.now() - epochStart) / 1000,
          });
          return outcome(runDir, run, true);
        }
      }
      run.trainSeconds = (performance.now() - started) / 1000;
      const position = { epoch: epoch + 1, step: 0, globalStep: pos.globalStep, rng: rng.state() };
      const summary = await files.finishEpoch(
        position,
        stepsPerEpoch,
        (performance.now() - epochStart) / 1000,
        opts.sampleGrids ? dataset : undefined,
      );
      await hooks.onEpoch?.(summary, run);
      if (hooks.shouldStop?.() && !run.finished) return outcome(runDir, run, true);
    }
  } finally {
    await engine.dispose();
  }
  return outcome(runDir, run, false);
}

function outcome(runDir: string, run: RunRecord, stopped: boolean): TrainOutcome {
  return { runDir, run, stopped, lastCheckpoint: latestCheckpoint(runDir) };
}

/** Opens a new run: refuses a folder that holds one, then fresh (or --init) weights and seeded streams. */
function newRun(opts: TrainOptions): OpenedRun {
  const { runDir, settings, dataset } = opts;
  // A new run never writes over another's checkpoints.
  if (existsSync(join(runDir, RUN_FILE)) || latestCheckpoint(runDir)) throw new RunExistsError(runDir);
  const spec: UNetSpec = { kind: settings.kind, hidden: settings.hidden };
  const run: RunRecord = {
    settings,
    spec,
    backend: '',
    dataSource: dataset.source,
    createdAt: new Date().toISOString(),
    losses: [],
    epochs: [],
    trainSeconds: 0,
    finished: false,
  };
  const weights = opts.initWeights ? new Map(opts.initWeights) : initialWeights(spec, settings.seed);
  // Batch noise uses its own stream, apart from the weight initialisation's.
  const position = { epoch: 0, step: 0, globalStep: 0, rng: new Rng((settings.seed ^ 0x9e3779b9) >>> 0).state() };
  return { from: 'new', run, weights, position };
}

/** Opens the run in `runDir` at its latest checkpoint; `extendTo` trains a finished run on. */
function resumeRun(runDir: string, extendTo: number | undefined): OpenedRun {
  const runFile = join(runDir, RUN_FILE);
  if (!existsSync(runFile)) throw new Error(`cannot resume: ${runFile} does not exist`);
  const run = JSON.parse(readFileSync(runFile, 'utf8')) as RunRecord;
  if (extendTo !== undefined) {
    if (!Number.isInteger(extendTo) || extendTo <= run.epochs.length) {
      throw new Error(
        `--epochs must be more than the ${run.epochs.length} epochs already trained in ${runDir}, got ${extendTo}`,
      );
    }
    run.settings.lrDecayEpochs ??= run.settings.epochs;
    run.settings.epochs = extendTo;
    run.finished = false;
  }
  if (run.finished)
    throw new Error(
      `run in ${runDir} already finished its ${run.settings.epochs} epochs; train on with --resume ${runDir} --epochs N`,
    );
  const checkpoint = latestCheckpoint(runDir);
  if (!checkpoint) throw new Error(`cannot resume: no checkpoint in ${runDir}`);
  const loaded = loadCheckpoint(checkpoint);
  const position = loaded.position ?? {
    epoch: run.epochs.length,
    step: 0,
    globalStep: run.losses.length,
    rng: new Rng(run.settings.seed).state(),
  };
  run.losses = run.losses.slice(0, position.globalStep);
  return { from: 'checkpoint', checkpoint, run, weights: loaded.weights, position, adam: loaded.adam, ema: loaded.ema };
}

/** A run resumed on another engine or machine keeps the record of both. */
function recordWhereItTrains(run: RunRecord, engineDescription: string): void {
  run.backend =
    run.backend && !run.backend.endsWith(engineDescription)
      ? `${run.backend}; then ${engineDescription}`
      : engineDescription;
  const machine = machineDescription();
  run.machine = run.machine && run.machine !== machine ? `${run.machine}; then ${machine}` : machine;
}

function freshEma(spec: UNetSpec, weights: Map<string, Float32Array>): Map<string, Float32Array> {
  return new Map(
    paramInfos(spec)
      .filter((p) => p.trainable)
      .map((p) => [p.name, Float32Array.from(weights.get(p.name)!)]),
  );
}

function emptyBatch(B: number): StepBatch {
  return {
    x: new Float32Array(B * DIGIT_PIXELS),
    target: new Float32Array(B * DIGIT_PIXELS),
    t: new Float32Array(B),
    c: new Float32Array(B * NUM_CLASSES),
  };
}

/**
 * Fills the batch of step `step` in plain arrays: x1 (data, in the kind's pixel range),
 * x0 ~ N(0, I), t ~ U(0, 1), the one-hot class (dropped with p_uncond), drawn from `rng` in a
 * fixed order (a resumed run draws the same numbers).
 */
function fillBatch(
  batch: StepBatch,
  dataset: Dataset,
  order: Int32Array,
  step: number,
  rng: Rng,
  s: TrainSettings,
): void {
  const B = s.batch;
  const P = DIGIT_PIXELS;
  const [lo, hi] = pixelRange(s.kind);
  const { x, target, t: tIn, c: cIn } = batch;
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
        x[o] = s.pureNoise ? e : x1 + s.sigma * e;
        target[o] = x1;
      } else {
        x[o] = (1 - t) * e + t * x1; // x_t = (1 − t)x0 + t·x1 (B.3)
        target[o] = x1 - e; // u = x1 − x0 (B.4)
      }
    }
  }
}

/** Images per second over windows of about two seconds (the first step sets it at once). */
class RateMeter {
  private windowStart = performance.now();
  private windowImages = 0;
  private rate = 0;

  count(images: number): number {
    this.windowImages += images;
    const now = performance.now();
    if (now - this.windowStart > 2000 || this.rate === 0) {
      this.rate = (this.windowImages / (now - this.windowStart)) * 1000;
      this.windowStart = now;
      this.windowImages = 0;
    }
    return this.rate;
  }
}

/** What a run writes to its folder: checkpoints (with the weight average), sample grids, run.json. */
class RunFiles {
  constructor(
    private readonly runDir: string,
    private readonly run: RunRecord,
    private readonly engine: TrainEngine,
    private readonly ema: Map<string, Float32Array> | undefined,
  ) {}

  /** A stop mid-epoch: `last.safetensors` and the record, to resume from. */
  async saveStop(position: Position): Promise<void> {
    await this.saveCheckpoint(join(this.runDir, LAST), position);
    this.writeRecord();
  }

  /**
   * Ends the epoch that brought the run to `position`: its checkpoint, its sample grid when
   * `samplesOf` gives the digits the denoiser's figure noises, and its summary in run.json.
   */
  async finishEpoch(
    position: Position,
    stepsPerEpoch: number,
    seconds: number,
    samplesOf: SampleGridData | undefined,
  ): Promise<EpochSummary> {
    const run = this.run;
    const done = position.epoch;
    // The whole epoch's losses, those before a stop included (a resumed run keeps them).
    const epochLosses = run.losses.slice(run.losses.length - stepsPerEpoch);
    const summary: EpochSummary = {
      epoch: done,
      meanLoss: epochLosses.reduce((a, b) => a + b, 0) / epochLosses.length,
      seconds,
      checkpoint: epochCheckpointName(done),
    };
    run.finished = done === run.settings.epochs;
    const serving = await this.saveCheckpoint(join(this.runDir, summary.checkpoint), position);
    if (samplesOf) {
      summary.samples = samplesName(done);
      writeFileSync(
        join(this.runDir, summary.samples),
        await renderSampleGrid(run.spec, serving, run.settings, samplesOf),
      );
    }
    run.epochs.push(summary);
    this.writeRecord();
    return summary;
  }

  /** Writes a checkpoint; returns the weights to sample with (the epoch's sample grid reuses them). */
  private async saveCheckpoint(path: string, position: Position): Promise<Map<string, Float32Array>> {
    const weights = await this.engine.weights();
    saveCheckpoint(path, this.run.spec, weights, await this.engine.adamState(), this.run, position, this.ema);
    return withEma(weights, this.ema);
  }

  private writeRecord(): void {
    writeFileSync(join(this.runDir, RUN_FILE), JSON.stringify(this.run));
  }
}

/**
 * One update of the weight average after optimiser step `n` (0-based), with the usual warm-up
 * (TensorFlow's ExponentialMovingAverage with num_updates): decay min(d, (1 + n) / (10 + n)),
 * so the average follows the weights closely at first and slowly later.
 */
export function updateEma(
  ema: Map<string, Float32Array>,
  weights: Map<string, Float32Array>,
  decay: number,
  n: number,
): void {
  const d = Math.min(decay, (1 + n) / (10 + n));
  for (const [name, avg] of ema) {
    const w = weights.get(name)!;
    for (let i = 0; i < avg.length; i++) avg[i] = d * avg[i]! + (1 - d) * w[i]!;
  }
}

/** The weights to sample with: the trainable tensors replaced by their average, when there is one. */
export function withEma(
  weights: Map<string, Float32Array>,
  ema: Map<string, Float32Array> | undefined,
): Map<string, Float32Array> {
  if (!ema) return weights;
  const out = new Map(weights);
  for (const [name, avg] of ema) out.set(name, avg);
  return out;
}

/** Most recent resumable checkpoint of a run: `last` if newer than the last epoch's. */
export function latestCheckpoint(runDir: string): string | undefined {
  if (!existsSync(runDir)) return undefined;
  const epochs = readdirSync(runDir)
    .filter((f) => /^checkpoint-epoch-\d+\.safetensors$/.test(f))
    .sort();
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

function saveCheckpoint(
  path: string,
  spec: UNetSpec,
  weights: Map<string, Float32Array>,
  adam: AdamState,
  run: RunRecord,
  position: Position,
  ema?: Map<string, Float32Array>,
): void {
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

/**
 * A checkpoint's Adam state (moments as tensors, the step count in its metadata), or undefined
 * when it lacks the moments of some trainable tensor (Adam starts afresh).
 */
function adamStateOf(
  spec: UNetSpec,
  tensors: Map<string, TensorEntry>,
  metadata: Record<string, string>,
): AdamState | undefined {
  const state: AdamState = { iterations: Number(metadata.adam_iterations ?? 0), m: new Map(), v: new Map() };
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
  /** The optimizer state a resumed run continues with, when the checkpoint holds all of it. */
  adam: AdamState | undefined;
}

/** Reads a checkpoint (weights, spec, settings, optimizer state, position). */
export function loadCheckpoint(path: string): LoadedCheckpoint {
  if (!existsSync(path)) throw new Error(`checkpoint not found: ${path}`);
  const { tensors, metadata } = readSafetensors(path);
  if (metadata.format !== 'illusionist-unet-1')
    throw new Error(`${path} is not an Illusionist UNet checkpoint (format '${metadata.format ?? 'none'}')`);
  const spec = JSON.parse(metadata.spec!) as UNetSpec;
  const weights = new Map<string, Float32Array>();
  const adam = new Map<string, TensorEntry>();
  const ema = new Map<string, Float32Array>();
  for (const [name, t] of tensors) {
    if (name.startsWith('adam.')) adam.set(name, t);
    else if (name.startsWith(EMA_PREFIX)) ema.set(name.slice(EMA_PREFIX.length), t.data);
    else weights.set(name, t.data);
  }
  const average = ema.size > 0 ? ema : undefined;
  return {
    spec,
    settings: metadata.settings ? (JSON.parse(metadata.settings) as TrainSettings) : undefined,
    weights,
    ema: average,
    servingWeights: withEma(weights, average),
    metadata,
    position: metadata.position ? (JSON.parse(metadata.position) as Position) : undefined,
    adam: adamStateOf(spec, adam, metadata),
  };
}

/** This machine in a few words: '16-core CPU (AMD EPYC 9454)'. */
export function machineDescription(): string {
  const list = cpus();
  const model = list[0]?.model.replace(/\s+/g, ' ').trim();
  return `${list.length}-core CPU${model ? ` (${model})` : ''}`;
}
