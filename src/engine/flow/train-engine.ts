// The two ways a training step runs: one onnxruntime session per step (the project's own
// gradient graph, onnx-train.ts; the default, on CPU or on a GPU through WebGPU) or TensorFlow.js autodiff (tf.ts backends: a
// native TensorFlow binding when installed, else wasm). Both keep weights, Adam state and
// BatchNorm statistics in the checkpoint layout, so a run can be resumed on either.
import { initTf, tf, type TfBackendName } from '../runtime/tf.js';
import { OnnxSession, type Feed } from '../runtime/onnx.js';
import { Adam, type AdamState } from './adam.js';
import { buildTrainStepGraph, bnMeanName, bnVarName, gradName, STEP_INPUTS, STEP_LOSS } from './onnx-train.js';
import { UNet, foldBnStats, paramInfos, NUM_CLASSES, type BnUpdate, type UNetSpec } from './unet.js';

/** 'webgpu' is the onnxruntime engine with the WebGPU provider (the same graph, on a GPU). */
export type TrainBackendName = 'onnxruntime' | 'webgpu' | TfBackendName;
export type TrainBackendChoice = 'auto' | TrainBackendName;
export const TRAIN_BACKENDS: readonly TrainBackendChoice[] = [
  'auto',
  'onnxruntime',
  'webgpu',
  'tensorflow',
  'wasm',
  'cpu',
];

/** One batch in plain arrays: x and target [B·784], t [B], c one-hot [B·10] (zeros = null class). */
export interface StepBatch {
  x: Float32Array;
  target: Float32Array;
  t: Float32Array;
  c: Float32Array;
}

export interface TrainEngine {
  readonly backend: TrainBackendName;
  readonly description: string;
  /** One optimiser step at learning rate `lr`; returns the batch loss. */
  step(batch: StepBatch, lr: number): Promise<number>;
  /** All parameters and BatchNorm statistics, checkpoint layout (copies). */
  weights(): Promise<Map<string, Float32Array>>;
  adamState(): Promise<AdamState>;
  dispose(): Promise<void>;
}

export interface EngineOptions {
  spec: UNetSpec;
  batch: number;
  weights: Map<string, Float32Array>;
  adam?: AdamState;
}

/** 'auto' is onnxruntime: on the 2-core machine it trains 2.0× (D = 32) to 3.1× (D = 64) as fast as TensorFlow.js wasm. */
export async function createTrainEngine(choice: TrainBackendChoice, opts: EngineOptions): Promise<TrainEngine> {
  if (choice === 'auto' || choice === 'onnxruntime') return OnnxTrainEngine.create(opts, 'cpu');
  if (choice === 'webgpu') return OnnxTrainEngine.create(opts, 'webgpu');
  return TfTrainEngine.create(choice, opts);
}

function copyWeights(weights: Map<string, Float32Array>): Map<string, Float32Array> {
  return new Map([...weights].map(([k, v]) => [k, Float32Array.from(v)]));
}

class OnnxTrainEngine implements TrainEngine {
  private constructor(
    readonly backend: 'onnxruntime' | 'webgpu',
    readonly description: string,
    private readonly spec: UNetSpec,
    private readonly batch: number,
    private readonly session: OnnxSession,
    private readonly graph: ReturnType<typeof buildTrainStepGraph>,
    private readonly params: Map<string, Float32Array>,
    private readonly adam: Adam,
    private readonly shapes = new Map(paramInfos(spec).map((p) => [p.name, p.shape] as const)),
  ) {}

  static async create(opts: EngineOptions, provider: 'cpu' | 'webgpu'): Promise<OnnxTrainEngine> {
    const graph = buildTrainStepGraph(opts.spec, opts.batch);
    const session = await OnnxSession.load(`train-step-${opts.spec.kind}-d${opts.spec.hidden}`, graph.bytes, {
      provider,
      log: () => {},
    });
    const description = `onnxruntime (${provider === 'cpu' ? 'CPU' : 'WebGPU'}, the project's gradient graph)`;
    return new OnnxTrainEngine(
      provider === 'cpu' ? 'onnxruntime' : 'webgpu',
      description,
      opts.spec,
      opts.batch,
      session,
      graph,
      copyWeights(opts.weights),
      new Adam(opts.adam && cloneAdam(opts.adam)),
    );
  }

  async step(b: StepBatch, lr: number): Promise<number> {
    const B = this.batch;
    const feeds: Record<string, Feed> = {
      [STEP_INPUTS.x]: { type: 'float32', dims: [B, 1, 28, 28], data: b.x },
      [STEP_INPUTS.target]: { type: 'float32', dims: [B, 1, 28, 28], data: b.target },
    };
    if (this.spec.kind !== 'denoiser') feeds[STEP_INPUTS.t] = { type: 'float32', dims: [B, 1], data: b.t };
    if (this.spec.kind === 'class') feeds[STEP_INPUTS.c] = { type: 'float32', dims: [B, NUM_CLASSES], data: b.c };
    for (const name of this.graph.params)
      feeds[name] = { type: 'float32', dims: this.shapes.get(name)!, data: this.params.get(name)! };
    const out = await this.session.run(feeds);
    const loss = (out[STEP_LOSS]!.data as Float32Array)[0]!;
    const grads = new Map(this.graph.params.map((name) => [name, out[gradName(name)]!.data as Float32Array]));
    this.adam.step(this.params, grads, lr);
    for (const { name, count } of this.graph.bnLayers) {
      foldBnStats(
        this.params.get(`${name}.mean`)!,
        this.params.get(`${name}.var`)!,
        out[bnMeanName(name)]!.data as Float32Array,
        out[bnVarName(name)]!.data as Float32Array,
        count,
      );
    }
    return loss;
  }

  async weights(): Promise<Map<string, Float32Array>> {
    return copyWeights(this.params);
  }

  async adamState(): Promise<AdamState> {
    return cloneAdam(this.adam.state);
  }

  async dispose(): Promise<void> {
    await this.session.dispose();
  }
}

function cloneAdam(s: AdamState): AdamState {
  return { iterations: s.iterations, m: copyWeights(s.m), v: copyWeights(s.v) };
}

class TfTrainEngine implements TrainEngine {
  private constructor(
    readonly backend: TfBackendName,
    readonly description: string,
    private readonly net: UNet,
    private readonly optimizer: tf.AdamOptimizer,
    private readonly batch: number,
  ) {}

  static async create(choice: TfBackendName, opts: EngineOptions): Promise<TfTrainEngine> {
    const rt = await initTf(choice);
    const net = new UNet(tf, opts.spec, opts.weights);
    const optimizer = tf.train.adam(1e-3);
    if (opts.adam && opts.adam.m.size > 0) {
      const trainable = paramInfos(opts.spec).filter((p) => p.trainable);
      const m = trainable.map((p) => ({ name: `${p.name}/m`, tensor: tf.tensor(opts.adam!.m.get(p.name)!, p.shape) }));
      const v = trainable.map((p) => ({ name: `${p.name}/v`, tensor: tf.tensor(opts.adam!.v.get(p.name)!, p.shape) }));
      await optimizer.setWeights([{ name: 'iter', tensor: tf.scalar(opts.adam.iterations, 'int32') }, ...m, ...v]);
      for (const t of [...m, ...v]) t.tensor.dispose();
    }
    return new TfTrainEngine(rt.backend, `TensorFlow.js ${rt.description}`, net, optimizer, opts.batch);
  }

  async step(b: StepBatch, lr: number): Promise<number> {
    const B = this.batch;
    const kind = this.net.spec.kind;
    (this.optimizer as unknown as { learningRate: number }).learningRate = lr;
    const updates: BnUpdate[] = [];
    const lossT = this.optimizer.minimize(
      () =>
        tf.tidy(() => {
          const x = tf.tensor4d(b.x, [B, 28, 28, 1]);
          const y = tf.tensor4d(b.target, [B, 28, 28, 1]);
          const t = kind === 'denoiser' ? undefined : tf.tensor2d(b.t, [B, 1]);
          const c = kind === 'class' ? tf.tensor2d(b.c, [B, NUM_CLASSES]) : undefined;
          const out = this.net.forward(x, { t, c, training: true, bnUpdates: updates });
          return tf.mean(tf.squaredDifference(out, y)) as tf.Scalar;
        }),
      true,
      this.net.trainableVariables(),
    );
    const loss = (await lossT!.data())[0]!;
    lossT!.dispose();
    this.net.applyBnUpdates(updates);
    return loss;
  }

  weights(): Promise<Map<string, Float32Array>> {
    return this.net.weights();
  }

  async adamState(): Promise<AdamState> {
    const named = await this.optimizer.getWeights();
    const trainable = paramInfos(this.net.spec).filter((p) => p.trainable);
    const iterations = named[0] ? (await named[0].tensor.data())[0]! : 0;
    const moments = named.slice(1);
    const state: AdamState = { iterations, m: new Map(), v: new Map() };
    if (moments.length === trainable.length * 2) {
      for (let i = 0; i < trainable.length; i++) {
        state.m.set(trainable[i]!.name, (await moments[i]!.tensor.data()) as Float32Array);
        state.v.set(trainable[i]!.name, (await moments[i + trainable.length]!.tensor.data()) as Float32Array);
      }
    }
    return state;
  }

  async dispose(): Promise<void> {
    this.optimizer.dispose();
    this.net.dispose();
  }
}
