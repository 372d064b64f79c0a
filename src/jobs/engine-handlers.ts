// The engine handlers, run in the engine worker thread for the bot and the CLI alike: MNIST digits
// and training (Part B), and the Part A techniques on mnist-flow or DeepFloyd IF, reporting each step.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { FlowModel, OdeSolver } from '../engine/flow/euler.js';
import type { OnnxFlowModel } from '../engine/flow/onnx-flow-model.js';
import type { TrainProgress } from '../engine/flow/trainer.js';
import type { UNetKind } from '../engine/flow/unet.js';
import type { LoadedModel } from '../engine/models/registry.js';
import type { OutputRole, StepCallback, TechniqueResult } from '../engine/techniques/outputs.js';
import type { Store } from '../store/index.js';
import type { EmbeddingCache } from '../engine/denoisers/deepfloyd-if.js';
import {
  defineHandlers,
  JobStoppedError,
  type HandlerOutput,
  type JobContext,
  type JobHandler,
  type OutputFile,
} from './handler.js';
import { TECHNIQUE_NAMES, type TechniqueName } from './technique-names.js';
import type { TechniqueParams } from './technique-jobs.js';

// Each kind of job imports its engine with its first job, not with the worker: digits need neither
// tfjs (training), DeepFloyd's pipeline (the techniques) nor the store, and a worker that loaded
// them all took seconds longer to reach a digit job's first step.

// --- models, loaded lazily and kept for the worker's lifetime (one per checkpoint) ---

const flowModels = new Map<string, Promise<OnnxFlowModel>>();
const denoisers = new Map<string, Promise<LoadedModel>>();

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
    const [{ loadOnnxFlowCheckpoint }, { dataDir }] = await Promise.all([
      import('../engine/flow/onnx-flow-model.js'),
      import('../store/data-dir.js'),
    ]);
    return loadOnnxFlowCheckpoint(path, { exportCache: join(dataDir(), 'cache', 'onnx') });
  });
}

/**
 * Loads the engines of the commands named ahead of their first job (the engine worker calls it when
 * the CLI says what it is about to run): for digits, its modules and onnxruntime's native library,
 * ~100 ms that then pass while the CLI's own thread reads its options and opens the store.
 */
export async function warm(commands: readonly string[]): Promise<void> {
  if (!commands.includes('digits')) return;
  await Promise.all([
    import('../engine/flow/onnx-flow-model.js'),
    import('../store/data-dir.js'),
    import('../engine/flow/digits.js'),
    import('../engine/flow/figures.js'),
    import('../engine/flow/euler.js'),
    import('../engine/runtime/onnx.js').then((m) => m.loadOrt()),
  ]);
}

/** The worker's own connection to the bot's database (DATA_DIR), opened on the first job of a text model. */
let embeddingStore: Store | undefined;

/** Called by the engine worker before its thread ends: closes every cached model and the store connection. */
export async function dispose(): Promise<void> {
  const loaded = [...flowModels.values(), ...denoisers.values()];
  flowModels.clear();
  denoisers.clear();
  await Promise.allSettled(loaded.map(async (p) => (await p).dispose()));
  embeddingStore?.close();
  embeddingStore = undefined;
}

function denoiserFor(p: TechniqueParams): Promise<LoadedModel> {
  return cached(denoisers, `${p.model}:${p.checkpointPath ?? ''}`, async () => {
    const [{ modelEntry }, { openStore, dataDir, databasePath }, { storeEmbeddingCache }] = await Promise.all([
      import('../engine/models/registry.js'),
      import('../store/index.js'),
      import('./embedding-cache.js'),
    ]);
    const embeddingCache = (): EmbeddingCache => {
      embeddingStore ??= openStore(databasePath(dataDir()));
      return storeEmbeddingCache(embeddingStore.embeddings, p.model);
    };
    return modelEntry(p.model).load({ checkpoint: p.checkpointPath, embeddingCache });
  });
}

// --- progress and outputs ---

const PREVIEW_EVERY = 5;

/** Every denoising step is reported (and is a yield point); every few carry a preview of x_t. */
function reportSteps(ctx: JobContext, previewPng: (x: Parameters<StepCallback>[2]) => Promise<Buffer>): StepCallback {
  return async (step, total, x) => {
    const preview = step % PREVIEW_EVERY === 0 ? { data: await previewPng(x), ext: 'png' } : undefined;
    await ctx.progress(step, total, preview ? { preview } : {});
  };
}

const SHOWN: readonly OutputRole[] = ['image', 'views', 'animation'];

function extOf(name: string): string {
  return name.slice(name.lastIndexOf('.') + 1);
}

/**
 * The technique's files under their names: first the ones a chat reply shows (captioned with their
 * role, in the order image, views, animation; the gallery shows the first), then the rest and job.json.
 */
function techniqueOutput(result: TechniqueResult, jobJson: (result: TechniqueResult) => Buffer): HandlerOutput {
  const shown = SHOWN.flatMap((role) => result.files.filter((f) => f.role === role));
  const rest = result.files.filter((f) => f.role === undefined);
  const files: OutputFile[] = [
    ...shown.map((f) => ({ data: f.bytes, ext: extOf(f.name), name: f.name, caption: f.role })),
    ...rest.map((f) => ({ data: f.bytes, ext: extOf(f.name), name: f.name })),
    { data: jobJson(result), ext: 'json', name: 'job.json' },
  ];
  const seconds = result.job.seconds;
  return { files, metrics: typeof seconds === 'number' ? { seconds } : {} };
}

async function techniqueJob(
  command: TechniqueName,
  params: unknown,
  seed: number,
  ctx: JobContext,
): Promise<HandlerOutput> {
  const model = await denoiserFor(params as TechniqueParams);
  const [{ runTechniqueJob }, { jobJson, previewPng }] = await Promise.all([
    import('./technique-jobs.js'),
    import('../engine/techniques/outputs.js'),
  ]);
  return techniqueOutput(
    await runTechniqueJob(command, params, seed, model, { onStep: reportSteps(ctx, previewPng) }),
    jobJson,
  );
}

// --- digits (Part B) ---

/**
 * `guidance` is the classifier-free guidance scale for the class model, and the autoguidance weight
 * for the time model when `guidePath` names its guide (digitsGuidance leaves it out at weight 1).
 */
export interface DigitsParams {
  kind: 'class' | 'time';
  digit?: number | undefined;
  count: number;
  guidance: number;
  steps: number;
  checkpointPath: string;
  guidePath?: string | undefined;
  /** The sampler's churn γ; absent in jobs queued before it existed (the plain ODE they were asked with). */
  churn?: number | undefined;
  /** Flow times [lo, hi] where the guidance applies; absent in jobs queued before it existed (every step). */
  guidanceInterval?: readonly [number, number] | undefined;
  /** The ODE solver; absent: Euler (as every job before it existed). */
  solver?: OdeSolver | undefined;
  /** Flow times [lo, hi] of the steps that churn; absent in jobs queued before it existed (from the start to 0.9). */
  churnInterval?: readonly [number, number] | undefined;
}

const RANGE = [-1, 1] as const;

/** The model the sampler runs: the checkpoint, autoguided by its guide where the job has one. */
async function digitsModel(params: DigitsParams): Promise<FlowModel> {
  const model = await flowModel(params.checkpointPath);
  if (params.kind !== 'time' || params.guidePath === undefined) return model;
  const { autoguided } = await import('../engine/flow/autoguidance.js');
  const guide = await flowModel(params.guidePath);
  if (guide.spec.kind !== 'time')
    throw new Error(
      `the guide ${params.guidePath} holds a ${guide.spec.kind} model; a time model is guided by another time model`,
    );
  return autoguided(model, guide, params.guidance, params.guidanceInterval);
}

async function digits(params: DigitsParams, seed: number, ctx: JobContext): Promise<HandlerOutput> {
  const [model, { generateDigits }, { digitGridPng }, { solverEvaluations }] = await Promise.all([
    digitsModel(params),
    import('../engine/flow/digits.js'),
    import('../engine/flow/figures.js'),
    import('../engine/flow/euler.js'),
  ]);
  const solver = params.solver ?? 'euler';
  // Progress counts model evaluations: Heun makes two a step.
  const total = solverEvaluations(solver, params.steps);
  let step = 0;
  const counted: FlowModel = {
    conditional: model.conditional,
    async velocity(x, t, classes, batch) {
      // ILLUSIONIST_TIMING=1: when the first step starts, for `npm run bench -- part-b` (process start → first step).
      if (step === 0 && process.env.ILLUSIONIST_TIMING === '1')
        process.stderr.write(
          `illusionist timing: first sampler step at ${(process.uptime() * 1000).toFixed(0)} ms after process start\n`,
        );
      const u = await model.velocity(x, t, classes, batch);
      step++;
      let preview: { data: Uint8Array; ext: string } | undefined;
      if (step % 10 === 0) {
        const n = Math.min(10, params.digit === undefined && params.kind === 'class' ? 10 : params.count);
        preview = { data: await digitGridPng(x.subarray(0, n * 784), { cols: n, range: RANGE, scale: 2 }), ext: 'png' };
      }
      await ctx.progress(step, total, preview ? { preview } : {});
      return u;
    },
  };
  const { kind, digit, count, guidance, steps, checkpointPath, guidePath } = params;
  const churn = params.churn ?? 0;
  const guidanceInterval = params.guidanceInterval ?? [0, 1];
  const result = await generateDigits(counted, kind, {
    digit,
    count,
    guidance,
    steps,
    seed,
    churn,
    guidanceInterval,
    solver,
    churnInterval: params.churnInterval,
  });
  const record = {
    command: 'digits',
    kind,
    digit: digit ?? null,
    count,
    guidance,
    churn,
    guidanceInterval,
    ...(params.churnInterval ? { churnInterval: params.churnInterval } : {}),
    ...(params.solver ? { solver } : {}),
    steps,
    seed,
    checkpoint: checkpointPath,
    guide: guidePath ?? null,
    labels: result.labels,
    seconds: result.seconds,
  };
  return {
    files: [
      { data: result.gridPng, ext: 'png', caption: 'digits', name: 'grid.png' },
      ...result.digitPngs.map((d) => ({ data: d.png, ext: 'png', name: d.name })),
      { data: Buffer.from(`${JSON.stringify(record, null, 2)}\n`), ext: 'json', name: 'job.json' },
    ],
    metrics: { digits: result.labels.length, seconds: result.seconds },
  };
}

// --- training (Part B) ---

// scheduler and ema are optional (the trainer's defaults): unset, and in jobs queued before they existed.
interface TrainParams {
  kind: UNetKind;
  epochs: number;
  hidden: number;
  batch: number;
  lr: number;
  scheduler?: boolean;
  ema?: number;
  images?: number;
  makeDefault: boolean;
  dataDir: string;
  storePath: string;
}

async function trainHandler(
  p: TrainParams,
  seed: number,
  jobId: number,
  resumeState: unknown,
  ctx: JobContext,
): Promise<{ files: OutputFile[]; metrics: Record<string, number> }> {
  const [
    { loadDataset },
    { spreadSubset },
    { defaultSettings, latestCheckpoint, train },
    { lossCurvePng },
    { openStore },
  ] = await Promise.all([
    import('../engine/data/load.js'),
    import('../engine/data/dataset.js'),
    import('../engine/flow/trainer.js'),
    import('../engine/flow/figures.js'),
    import('../store/index.js'),
  ]);
  const modelKind = `mnist-${p.kind}`;
  const state = resumeState as { runDir?: string; runId?: number } | null;
  const runDir = state?.runDir ?? join(p.dataDir, 'runs', `${p.kind}-job${jobId}`);
  const resume = state?.runDir !== undefined && latestCheckpoint(runDir) !== undefined;
  const dataset = p.images ? spreadSubset(loadDataset(null), p.images) : loadDataset(null);
  const settings = {
    ...defaultSettings(p.kind),
    epochs: p.epochs,
    hidden: p.hidden,
    batch: p.batch,
    lr: p.lr,
    seed,
    ...(p.scheduler !== undefined ? { scheduler: p.scheduler } : {}),
    ...(p.ema ? { ema: p.ema } : {}),
  };
  // Its own connection: the worker thread cannot share the main thread's, and WAL lets both write.
  const store = openStore(p.storePath);
  let runId = state?.runId;
  let latest: TrainProgress | undefined;
  try {
    if (runId === undefined) runId = store.training.startRun({ jobId, modelKind, settings }).id;
    ctx.saveState({ runDir, runId });
    let lastCheckpointId: number | undefined;
    const stepsPerEpoch = Math.floor(dataset.count / p.batch);
    const totalSteps = p.epochs * stepsPerEpoch;
    const outcome = await train({
      settings,
      dataset,
      runDir,
      resume,
      sampleGrids: true,
      hooks: {
        onProgress: (progress) => {
          latest = progress;
        },
        yieldPoint: async () => {
          if (!latest) return ctx.yieldPoint();
          await ctx.progress(latest.globalStep, totalSteps, {
            message: `epoch ${latest.epoch + 1}/${p.epochs} · loss ${latest.loss.toFixed(4)}`,
          });
        },
        onEpoch: async (summary, run) => {
          store.training.recordEpoch(runId!, summary.epoch, summary.meanLoss, summary.seconds);
          const checkpoint = store.training.addCheckpoint({
            runId,
            modelKind,
            name: `${p.kind}-job${jobId}-e${summary.epoch}`,
            path: join(runDir, summary.checkpoint),
            epoch: summary.epoch,
          });
          lastCheckpointId = checkpoint.id;
          // The epoch's sample grid is the job's preview until the next one.
          if (summary.samples) {
            const preview = { data: readFileSync(join(runDir, summary.samples)), ext: 'png' };
            await ctx.progress(summary.epoch * stepsPerEpoch, totalSteps, {
              message: `epoch ${summary.epoch}/${run.settings.epochs} · loss ${summary.meanLoss.toFixed(4)}`,
              preview,
            });
          }
        },
      },
    });
    store.training.finishRun(runId, 'done');
    const last =
      lastCheckpointId ??
      store.training
        .listCheckpoints(modelKind)
        .filter((c) => c.runId === runId)
        .at(-1)?.id;
    if (p.makeDefault && last !== undefined) store.training.setDefaultCheckpoint(modelKind, last);
    const losses = outcome.run.losses;
    const samples = outcome.run.epochs.at(-1)?.samples;
    return {
      files: [
        ...(samples
          ? [{ data: readFileSync(join(runDir, samples)), ext: 'png', caption: 'samples', name: 'samples.png' }]
          : []),
        {
          data: await lossCurvePng(losses, stepsPerEpoch, `${p.kind} model, job #${jobId}`),
          ext: 'png',
          caption: 'loss',
          name: 'loss.png',
        },
        {
          data: Buffer.from(JSON.stringify({ runDir, epochs: outcome.run.epochs, settings }, null, 2)),
          ext: 'json',
          caption: 'run',
          name: 'run.json',
        },
      ],
      metrics: {
        finalLoss: losses.at(-1) ?? NaN,
        epochs: outcome.run.epochs.length,
        seconds: outcome.run.trainSeconds,
      },
    };
  } catch (error) {
    // A shutdown re-queues the job, which resumes this run; anything else ends it.
    const shutdown = error instanceof JobStoppedError && error.reason === 'shutdown';
    if (runId !== undefined && !shutdown)
      store.training.finishRun(runId, error instanceof JobStoppedError ? 'cancelled' : 'failed');
    throw error;
  } finally {
    store.close();
  }
}

export const handlers = defineHandlers({
  digits: async (input, ctx) => digits(input.params as DigitsParams, input.seed, ctx),
  ...(Object.fromEntries(
    TECHNIQUE_NAMES.map((c) => [c, async (input, ctx) => techniqueJob(c, input.params, input.seed, ctx)]),
  ) as Record<TechniqueName, JobHandler>),
  train: async (input, ctx) =>
    trainHandler(input.params as TrainParams, input.seed, input.jobId, input.resumeState, ctx),
});
