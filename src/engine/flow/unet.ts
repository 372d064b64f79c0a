// The write-up's MNIST UNet (Part B) in TensorFlow.js, NHWC: unconditional, time-conditioned and
// class-conditioned variants over one named parameter map that checkpoints and the ONNX export share.
import type { tf as TF } from '../runtime/tf.js';
import { Rng } from '../random.js';

type Tf = typeof TF;
type Tensor = TF.Tensor;
type Tensor4D = TF.Tensor4D;
type Tensor2D = TF.Tensor2D;
type Variable = TF.Variable;

export type UNetKind = 'denoiser' | 'time' | 'class';
export const UNET_KINDS: readonly UNetKind[] = ['denoiser', 'time', 'class'];
export const NUM_CLASSES = 10;
export const IMAGE_SIZE = 28;

export interface UNetSpec {
  kind: UNetKind;
  /** Hidden size D (channels of the first block). */
  hidden: number;
}

/** Shape and role of every parameter, in a fixed order (checkpoints and export rely on it). */
export interface ParamInfo {
  name: string;
  shape: number[];
  /** BatchNorm running statistics are state, not trained by the optimiser. */
  trainable: boolean;
  init: 'conv' | 'linear' | 'zeros' | 'ones';
  fanIn: number;
}

/** A conv (3×3 unless noted) followed by BatchNorm and GELU; no conv bias (BatchNorm removes it). */
interface ConvLayer {
  op: 'conv';
  name: string;
  cin: number;
  cout: number;
  k: number;
  stride: number;
  pad: number;
}
interface ConvTLayer {
  op: 'convT';
  name: string;
  cin: number;
  cout: number;
  k: number;
  stride: number;
  pad: number;
}

function convLayers(D: number): Array<ConvLayer | ConvTLayer> {
  const c = (name: string, cin: number, cout: number, stride = 1): ConvLayer => ({
    op: 'conv',
    name,
    cin,
    cout,
    k: 3,
    stride,
    pad: 1,
  });
  const t = (name: string, cin: number, cout: number, k: number, stride: number, pad: number): ConvTLayer => ({
    op: 'convT',
    name,
    cin,
    cout,
    k,
    stride,
    pad,
  });
  return [
    c('conv0.a', 1, D),
    c('conv0.b', D, D),
    c('down1.down', D, D, 2),
    c('down1.a', D, D),
    c('down1.b', D, D),
    c('down2.down', D, 2 * D, 2),
    c('down2.a', 2 * D, 2 * D),
    c('down2.b', 2 * D, 2 * D),
    t('unflatten', 2 * D, 2 * D, 7, 7, 0),
    t('up1.up', 4 * D, D, 4, 2, 1),
    c('up1.a', D, D),
    c('up1.b', D, D),
    t('up2.up', 2 * D, D, 4, 2, 1),
    c('up2.a', D, D),
    c('up2.b', D, D),
    c('out.a', 2 * D, D),
    c('out.b', D, D),
  ];
}

function fcBlocks(spec: UNetSpec): Array<{ name: string; cin: number; cout: number }> {
  const D = spec.hidden;
  const blocks: Array<{ name: string; cin: number; cout: number }> = [];
  if (spec.kind !== 'denoiser') blocks.push({ name: 'fc1_t', cin: 1, cout: 2 * D }, { name: 'fc2_t', cin: 1, cout: D });
  if (spec.kind === 'class')
    blocks.push({ name: 'fc1_c', cin: NUM_CLASSES, cout: 2 * D }, { name: 'fc2_c', cin: NUM_CLASSES, cout: D });
  return blocks;
}

/**
 * What the UNet is wired from. Each runtime implements these in its own layout: TensorFlow.js
 * (NHWC, `UNet.forward`), the ONNX export (NCHW, BatchNorm folded) and the ONNX training step
 * (NCHW, with gradients); `wireUNet` connects them once for all three.
 */
export interface UNetOps<V> {
  /** Conv or transposed conv `name` (see `unetLayers`), its BatchNorm, then GELU. */
  layer(x: V, name: string): V;
  /** GELU of the spatial mean, kept as 1×1: the write-up's Flatten. */
  flatten(x: V): V;
  /** The conditioning MLP `name` (Linear, GELU, Linear) on t or c, shaped to broadcast over a feature map. */
  fc(x: V, name: string): V;
  add(a: V, b: V): V;
  mul(a: V, b: V): V;
  /** Concatenation along the channel axis. */
  concat(a: V, b: V): V;
  /** The last 3×3 conv (with bias) to one channel: the output u. */
  final(x: V): V;
}

/**
 * The write-up's UNet: conv0 → down1 → down2 → flatten → unflatten → up1 → up2 → out, with skip
 * connections by concatenation. The time model scales unflatten and up1 by fc(t); the class
 * model computes fc(c)·h + fc(t) there. Operations are issued in a fixed order (the ONNX graphs'
 * node names follow it).
 */
export function wireUNet<V>(
  kind: UNetKind,
  ops: UNetOps<V>,
  inputs: { x: V; t?: V | undefined; c?: V | undefined },
): V {
  const { x, t, c } = inputs;
  if (kind !== 'denoiser' && t === undefined) throw new Error(`a ${kind} UNet needs t`);
  if (kind === 'class' && c === undefined) throw new Error('a class UNet needs c');
  const layers = (input: V, ...names: string[]): V => names.reduce((z, name) => ops.layer(z, name), input);
  const condition = (h: V, block: 1 | 2): V => {
    if (kind === 'time') return ops.mul(h, ops.fc(t!, `fc${block}_t`));
    if (kind === 'class') return ops.add(ops.mul(ops.fc(c!, `fc${block}_c`), h), ops.fc(t!, `fc${block}_t`));
    return h;
  };
  const conv0 = layers(x, 'conv0.a', 'conv0.b');
  const down1 = layers(conv0, 'down1.down', 'down1.a', 'down1.b');
  const down2 = layers(down1, 'down2.down', 'down2.a', 'down2.b');
  const unflatten = condition(ops.layer(ops.flatten(down2), 'unflatten'), 1);
  const up1 = condition(layers(ops.concat(unflatten, down2), 'up1.up', 'up1.a', 'up1.b'), 2);
  const up2 = layers(ops.concat(up1, down1), 'up2.up', 'up2.a', 'up2.b');
  const out = layers(ops.concat(up2, conv0), 'out.a', 'out.b');
  return ops.final(out);
}

/** Every parameter of the model described by `spec`. */
export function paramInfos(spec: UNetSpec): ParamInfo[] {
  if (!Number.isInteger(spec.hidden) || spec.hidden < 1)
    throw new Error(`hidden size must be a positive integer, got ${spec.hidden}`);
  const out: ParamInfo[] = [];
  for (const l of convLayers(spec.hidden)) {
    const shape = l.op === 'conv' ? [l.k, l.k, l.cin, l.cout] : [l.k, l.k, l.cout, l.cin];
    out.push({ name: `${l.name}.w`, shape, trainable: true, init: 'conv', fanIn: l.cin * l.k * l.k });
    out.push({ name: `${l.name}.gamma`, shape: [l.cout], trainable: true, init: 'ones', fanIn: 1 });
    out.push({ name: `${l.name}.beta`, shape: [l.cout], trainable: true, init: 'zeros', fanIn: 1 });
    out.push({ name: `${l.name}.mean`, shape: [l.cout], trainable: false, init: 'zeros', fanIn: 1 });
    out.push({ name: `${l.name}.var`, shape: [l.cout], trainable: false, init: 'ones', fanIn: 1 });
  }
  out.push({ name: 'final.w', shape: [3, 3, spec.hidden, 1], trainable: true, init: 'conv', fanIn: spec.hidden * 9 });
  out.push({ name: 'final.b', shape: [1], trainable: true, init: 'zeros', fanIn: 1 });
  for (const fc of fcBlocks(spec)) {
    out.push({ name: `${fc.name}.l1.w`, shape: [fc.cin, fc.cout], trainable: true, init: 'linear', fanIn: fc.cin });
    out.push({ name: `${fc.name}.l1.b`, shape: [fc.cout], trainable: true, init: 'zeros', fanIn: 1 });
    out.push({ name: `${fc.name}.l2.w`, shape: [fc.cout, fc.cout], trainable: true, init: 'linear', fanIn: fc.cout });
    out.push({ name: `${fc.name}.l2.b`, shape: [fc.cout], trainable: true, init: 'zeros', fanIn: 1 });
  }
  return out;
}

/** Fresh weights, seeded: Kaiming-uniform-like U(−1/√fanIn, 1/√fanIn) as PyTorch's default. */
export function initialWeights(spec: UNetSpec, seed: number): Map<string, Float32Array> {
  const rng = new Rng(seed);
  const weights = new Map<string, Float32Array>();
  for (const p of paramInfos(spec)) {
    const n = p.shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (p.init === 'ones') data.fill(1);
    else if (p.init === 'conv' || p.init === 'linear') {
      const bound = 1 / Math.sqrt(p.fanIn);
      for (let i = 0; i < n; i++) data[i] = (rng.uniform() * 2 - 1) * bound;
    }
    weights.set(p.name, data);
  }
  return weights;
}

/** The model's tensors as tf.Variables (trainable ones get gradients). */
let instances = 0;

export class UNet {
  readonly vars = new Map<string, Variable>();

  constructor(
    readonly tf: Tf,
    readonly spec: UNetSpec,
    weights: Map<string, Float32Array>,
  ) {
    const prefix = `unet${++instances}/`; // tfjs variable names are global to the process
    for (const p of paramInfos(spec)) {
      const data = weights.get(p.name);
      if (!data)
        throw new Error(`checkpoint has no tensor '${p.name}' for a ${spec.kind} UNet with hidden size ${spec.hidden}`);
      const n = p.shape.reduce((a, b) => a * b, 1);
      if (data.length !== n)
        throw new Error(`tensor '${p.name}' has ${data.length} values, expected ${n} (shape ${p.shape.join('×')})`);
      this.vars.set(p.name, tf.variable(tf.tensor(data, p.shape), p.trainable, prefix + p.name));
    }
  }

  trainableVariables(): Variable[] {
    return paramInfos(this.spec)
      .filter((p) => p.trainable)
      .map((p) => this.v(p.name));
  }

  private v(name: string): Variable {
    const t = this.vars.get(name);
    if (!t) throw new Error(`missing parameter ${name}`);
    return t;
  }

  /** Current weights as plain arrays (for checkpoints and export). */
  async weights(): Promise<Map<string, Float32Array>> {
    const out = new Map<string, Float32Array>();
    for (const [name, v] of this.vars) out.set(name, (await v.data()) as Float32Array);
    return out;
  }

  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.vars.clear();
  }

  /**
   * u(x, t, c): x [B,28,28,1]; t [B,1] in [0,1] (time/class kinds); c one-hot [B,10] or zeros.
   * In training mode BatchNorm uses batch statistics and `bnUpdates` collects the running-stat
   * updates (applied by the trainer after the step, outside the gradient tape).
   */
  forward(x: Tensor4D, opts: { t?: Tensor2D; c?: Tensor2D; training: boolean; bnUpdates?: BnUpdate[] }): Tensor4D {
    const tf = this.tf;
    const layers = new Map(convLayers(this.spec.hidden).map((l) => [l.name, l] as const));
    const gelu = (z: Tensor): Tensor => geluOp(tf, z);
    const bn = (z: Tensor4D, name: string): Tensor4D => {
      const gamma = this.v(`${name}.gamma`);
      const beta = this.v(`${name}.beta`);
      if (opts.training) {
        return batchNormTrainingOp(tf, z, gamma, beta, (mean, variance) => {
          if (opts.bnUpdates)
            opts.bnUpdates.push({
              name,
              mean: tf.keep(mean.clone()),
              variance: tf.keep(variance.clone()),
              count: z.shape[0] * z.shape[1] * z.shape[2],
            });
        });
      }
      const scale = tf.mul(gamma, tf.rsqrt(tf.add(this.v(`${name}.var`), BN_EPS)));
      return tf.add(tf.mul(tf.sub(z, this.v(`${name}.mean`)), scale), beta) as Tensor4D;
    };
    const ops: UNetOps<Tensor> = {
      layer: (input, name) => {
        const z = input as Tensor4D;
        const l = layers.get(name)!;
        const w = this.v(`${name}.w`) as unknown as TF.Tensor4D;
        let y: Tensor4D;
        if (l.op === 'conv') {
          y = tf.conv2d(
            z,
            w,
            l.stride,
            l.pad === 0
              ? 'valid'
              : [
                  [0, 0],
                  [l.pad, l.pad],
                  [l.pad, l.pad],
                  [0, 0],
                ],
          );
        } else {
          const [b, h, wd] = z.shape;
          const outH = (h - 1) * l.stride - 2 * l.pad + l.k;
          const outW = (wd - 1) * l.stride - 2 * l.pad + l.k;
          y = tf.conv2dTranspose(z, w, [b, outH, outW, l.cout], l.stride, l.pad === 0 ? 'valid' : l.pad);
        }
        return gelu(bn(y, name));
      },
      flatten: (z) => gelu(tf.mean(z, [1, 2], true)),
      fc: (z, name) => {
        const h = gelu(
          tf.add(tf.matMul(z as Tensor2D, this.v(`${name}.l1.w`) as unknown as Tensor2D), this.v(`${name}.l1.b`)),
        );
        const o = tf.add(
          tf.matMul(h as Tensor2D, this.v(`${name}.l2.w`) as unknown as Tensor2D),
          this.v(`${name}.l2.b`),
        );
        return tf.reshape(o, [o.shape[0]!, 1, 1, o.shape[1]!]);
      },
      add: (a, b) => tf.add(a, b),
      mul: (a, b) => tf.mul(a, b),
      concat: (a, b) => tf.concat([a, b], 3),
      final: (z) =>
        tf.add(
          tf.conv2d(z as Tensor4D, this.v('final.w') as unknown as TF.Tensor4D, 1, [
            [0, 0],
            [1, 1],
            [1, 1],
            [0, 0],
          ]),
          this.v('final.b'),
        ),
    };
    return wireUNet(this.spec.kind, ops, { x, t: opts.t, c: opts.c }) as Tensor4D;
  }

  /** Folds batch statistics into the running averages (PyTorch: momentum 0.1, unbiased variance). */
  applyBnUpdates(updates: BnUpdate[]): void {
    const tf = this.tf;
    for (const { name, mean, variance, count } of updates) {
      const rm = this.v(`${name}.mean`);
      const rv = this.v(`${name}.var`);
      tf.tidy(() => {
        rm.assign(tf.add(tf.mul(rm, 1 - BN_MOMENTUM), tf.mul(mean, BN_MOMENTUM)));
        rv.assign(tf.add(tf.mul(rv, 1 - BN_MOMENTUM), tf.mul(variance, BN_MOMENTUM * unbiasFactor(count))));
      });
      mean.dispose();
      variance.dispose();
    }
  }
}

/** Batch statistics of one BatchNorm layer in a training step; `count` = N·H·W values per channel. */
export interface BnUpdate {
  name: string;
  mean: Tensor;
  /** Biased (population) variance of the batch. */
  variance: Tensor;
  count: number;
}

/** Bessel's correction for the running variance, as PyTorch applies it. */
export function unbiasFactor(count: number): number {
  return count > 1 ? count / (count - 1) : 1;
}

/** The same running-average update on plain arrays (the onnxruntime trainer). */
export function foldBnStats(
  runningMean: Float32Array,
  runningVar: Float32Array,
  mean: Float32Array,
  variance: Float32Array,
  count: number,
): void {
  const unbias = unbiasFactor(count);
  for (let i = 0; i < runningMean.length; i++) {
    runningMean[i] = runningMean[i]! * (1 - BN_MOMENTUM) + mean[i]! * BN_MOMENTUM;
    runningVar[i] = runningVar[i]! * (1 - BN_MOMENTUM) + variance[i]! * BN_MOMENTUM * unbias;
  }
}

export const BN_EPS = 1e-5;
export const BN_MOMENTUM = 0.1;

/** The conv layers in order, exported for the ONNX writer. */
export function unetLayers(spec: UNetSpec): ReadonlyArray<{
  op: 'conv' | 'convT';
  name: string;
  cin: number;
  cout: number;
  k: number;
  stride: number;
  pad: number;
}> {
  return convLayers(spec.hidden);
}

/** Forward FLOPs per image (multiply-adds × 2) of the convolutions and linears. */
export function forwardFlopsPerImage(spec: UNetSpec): number {
  const D = spec.hidden;
  const size: Record<string, number> = {
    'conv0.a': 28,
    'conv0.b': 28,
    'down1.down': 14,
    'down1.a': 14,
    'down1.b': 14,
    'down2.down': 7,
    'down2.a': 7,
    'down2.b': 7,
    unflatten: 7,
    'up1.up': 14,
    'up1.a': 14,
    'up1.b': 14,
    'up2.up': 28,
    'up2.a': 28,
    'up2.b': 28,
    'out.a': 28,
    'out.b': 28,
  };
  let flops = 0;
  for (const l of convLayers(D)) {
    const out = size[l.name]!;
    if (l.op === 'conv') flops += 2 * out * out * l.cout * l.cin * l.k * l.k;
    else flops += (2 * (out * out * l.cout * l.cin * l.k * l.k)) / (l.stride * l.stride); // each input pixel scatters k² taps
  }
  flops += 2 * 28 * 28 * D * 9;
  for (const fc of fcBlocks(spec)) flops += 2 * (fc.cin * fc.cout + fc.cout * fc.cout);
  return flops;
}

/**
 * How GELU and training-mode BatchNorm get their gradients: closed forms (tf.customGrad, a
 * third of the elementwise passes) or TensorFlow.js autodiff of the forward ops. The forward
 * values are the same ops either way. The tests flip this to compare the two.
 */
export const unetGradients = { closedForm: true };

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const geluCustom = new WeakMap<object, (z: Tensor) => Tensor>();

/** Exact GELU, z·Φ(z) = ½z(1 + erf(z/√2)); gradient Φ(z) + z·φ(z) in closed form. */
export function geluOp(tf: Tf, z: Tensor): Tensor {
  if (!unetGradients.closedForm) return tf.mul(tf.mul(z, 0.5), tf.add(1, tf.erf(tf.mul(z, Math.SQRT1_2))));
  let op = geluCustom.get(tf);
  if (!op) {
    op = tf.customGrad(((x: Tensor, save: TF.GradSaveFunc) => {
      const b = tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))); // 2Φ(x)
      const value = tf.mul(tf.mul(x, 0.5), b);
      save([x, b]);
      return {
        value,
        // ½·(b + x·√(2/π)·exp(−x²/2)) = Φ(x) + x·φ(x)
        gradFunc: (dy: Tensor, [xs, bs]: Tensor[]) =>
          tf.mul(
            dy,
            tf.mul(tf.add(bs!, tf.mul(tf.mul(xs!, SQRT_2_OVER_PI), tf.exp(tf.mul(tf.square(xs!), -0.5)))), 0.5),
          ),
      };
    }) as unknown as CustomGradFunc) as (z: Tensor) => Tensor;
    geluCustom.set(tf, op);
  }
  return op(z);
}

/**
 * BatchNorm over [N,H,W] with batch statistics: γ·(z − μ)/√(σ² + ε) + β. `onStats` sees the
 * batch mean and (biased) variance. The closed-form backward, with x̂ the normalised input,
 * r = 1/√(σ² + ε) and m = N·H·W: dβ = Σdy, dγ = Σdy·x̂, dz = γr·(dy − Σdy/m − x̂·Σ(dy·x̂)/m).
 */
export function batchNormTrainingOp(
  tf: Tf,
  z: Tensor4D,
  gamma: Tensor,
  beta: Tensor,
  onStats?: (mean: Tensor, variance: Tensor) => void,
): Tensor4D {
  const forward = (x: Tensor, g: Tensor, b: Tensor, save?: TF.GradSaveFunc): Tensor4D => {
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    onStats?.(mean, variance);
    const r = tf.rsqrt(tf.add(variance, BN_EPS));
    const xhat = tf.mul(tf.sub(x, mean), r);
    save?.([xhat, r, g]);
    return tf.add(tf.mul(xhat, g), b) as Tensor4D;
  };
  if (!unetGradients.closedForm) return forward(z, gamma, beta);
  const m = z.shape[0] * z.shape[1] * z.shape[2];
  const op = tf.customGrad(((x: Tensor, g: Tensor, b: Tensor, save: TF.GradSaveFunc) => ({
    value: forward(x, g, b, save),
    gradFunc: (dy: Tensor, [xhat, r, gs]: Tensor[]) => {
      const sumDy = tf.sum(dy, [0, 1, 2]);
      const sumDyXhat = tf.sum(tf.mul(dy, xhat!), [0, 1, 2]);
      const dz = tf.mul(tf.sub(tf.sub(dy, tf.div(sumDy, m)), tf.mul(xhat!, tf.div(sumDyXhat, m))), tf.mul(gs!, r!));
      return [dz, sumDyXhat, sumDy];
    },
  })) as unknown as CustomGradFunc);
  return op(z, gamma, beta) as Tensor4D;
}

type CustomGradFunc = Parameters<Tf['customGrad']>[0];
