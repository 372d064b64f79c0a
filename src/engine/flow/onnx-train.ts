// One training step of the Part B UNet as an ONNX graph, run by onnxruntime: the forward pass with
// batch-statistics BatchNorm, the flow-matching (or denoising) MSE loss, and every trainable
// parameter's gradient, written out by a small reverse-mode differentiator over ONNX nodes.
// Weights go in and gradients come out in the checkpoint (TensorFlow.js) layout, so Adam and the
// checkpoints are shared with the TensorFlow.js trainer. Static shapes: one graph per batch size.
import { GraphBuilder } from '../onnx/graph-builder.js';
import { BN_EPS, NUM_CLASSES, paramInfos, unetLayers, wireUNet, type UNetSpec } from './unet.js';

type Shape = readonly number[];

export const STEP_INPUTS = { x: 'x', target: 'target', t: 't', c: 'c' } as const;
export const STEP_LOSS = 'loss';
export const gradName = (param: string): string => `grad/${param}`;
export const bnMeanName = (layer: string): string => `bn_mean/${layer}`;
export const bnVarName = (layer: string): string => `bn_var/${layer}`;

const numel = (s: Shape): number => s.reduce((a, b) => a * b, 1);

/**
 * Records ONNX nodes for a forward pass with their shapes, and for each one a closure that emits
 * the nodes of its vector–Jacobian product; `backward` replays them in reverse.
 */
class Tape {
  private readonly shapes = new Map<string, Shape>();
  private readonly needsGrad = new Set<string>();
  private readonly steps: Array<() => void> = [];
  private readonly grads = new Map<string, string[]>();
  private readonly consts = new Map<string, string>();

  constructor(readonly g: GraphBuilder) {}

  shape(v: string): Shape {
    const s = this.shapes.get(v);
    if (!s) throw new Error(`no shape recorded for ${v}`);
    return s;
  }

  needs(v: string): boolean {
    return this.needsGrad.has(v);
  }

  /** Declares a value (an input or the result of an op); `grad` marks it as depending on parameters. */
  value(v: string, shape: Shape, grad: boolean): string {
    this.shapes.set(v, shape);
    if (grad) this.needsGrad.add(v);
    return v;
  }

  /** Result of an op over `inputs`: needs a gradient if any input does. */
  result(v: string, shape: Shape, inputs: readonly string[]): string {
    return this.value(
      v,
      shape,
      inputs.some((i) => this.needsGrad.has(i)),
    );
  }

  onBackward(fn: () => void): void {
    this.steps.push(fn);
  }

  addGrad(v: string, grad: string): void {
    if (!this.needsGrad.has(v)) return;
    const list = this.grads.get(v);
    if (list) list.push(grad);
    else this.grads.set(v, [grad]);
  }

  /** The summed gradient of `v`, or undefined when nothing downstream reached it. */
  grad(v: string): string | undefined {
    const list = this.grads.get(v);
    if (!list || list.length === 0) return undefined;
    if (list.length > 1) {
      // A chain of Adds, not Sum: onnxruntime's WebGPU provider placed this graph's Sum nodes on
      // CPU, copying activations off the GPU and back mid-step; Add runs there.
      const sum = list.slice(1).reduce((acc, grad) => this.g.op('Add', [acc, grad]), list[0]!);
      this.grads.set(v, [sum]);
      return sum;
    }
    return list[0];
  }

  backward(): void {
    for (let i = this.steps.length - 1; i >= 0; i--) this.steps[i]!();
  }

  i64(values: readonly number[]): string {
    const key = `i64:${values.join(',')}`;
    let name = this.consts.get(key);
    if (!name) {
      name = this.g.initializer(this.g.fresh('const_i64'), BigInt64Array.from(values.map((v) => BigInt(v))), [
        values.length,
      ]);
      this.consts.set(key, name);
    }
    return name;
  }

  f32(value: number): string {
    const key = `f32:${value}`;
    let name = this.consts.get(key);
    if (!name) {
      name = this.g.initializer(this.g.fresh('const_f32'), new Float32Array([value]), []);
      this.consts.set(key, name);
    }
    return name;
  }
}

/** Differentiable ops over the tape (NCHW activations). */
class Ops {
  constructor(readonly tape: Tape) {}

  private get g(): GraphBuilder {
    return this.tape.g;
  }

  transpose(x: string, perm: readonly number[]): string {
    const s = this.tape.shape(x);
    const y = this.tape.result(
      this.g.op('Transpose', [x], { perm: [...perm] }),
      perm.map((p) => s[p]!),
      [x],
    );
    if (this.tape.needs(x)) {
      const inverse = perm.map((_, i) => perm.indexOf(i));
      this.tape.onBackward(() => {
        const dy = this.tape.grad(y);
        if (dy) this.tape.addGrad(x, this.g.op('Transpose', [dy], { perm: inverse }));
      });
    }
    return y;
  }

  reshape(x: string, shape: Shape): string {
    const from = this.tape.shape(x);
    if (numel(from) !== numel(shape)) throw new Error(`cannot reshape [${from.join(',')}] to [${shape.join(',')}]`);
    const y = this.tape.result(this.g.op('Reshape', [x, this.tape.i64(shape)]), shape, [x]);
    if (this.tape.needs(x)) {
      this.tape.onBackward(() => {
        const dy = this.tape.grad(y);
        if (dy) this.tape.addGrad(x, this.g.op('Reshape', [dy, this.tape.i64(from)]));
      });
    }
    return y;
  }

  /** Sums `grad` (of broadcast shape `from`) down to `to` (NumPy broadcasting, right-aligned). */
  private unbroadcast(grad: string, from: Shape, to: Shape): string {
    if (from.length === to.length && from.every((d, i) => d === to[i])) return grad;
    const offset = from.length - to.length;
    const axes: number[] = [];
    for (let i = 0; i < from.length; i++) if (i < offset || (to[i - offset] === 1 && from[i] !== 1)) axes.push(i);
    let out = grad;
    if (axes.length) out = this.g.op('ReduceSum', [grad, this.tape.i64(axes)], { keepdims: 1 });
    return this.g.op('Reshape', [out, this.tape.i64(to)]);
  }

  private broadcastShape(a: Shape, b: Shape): Shape {
    const n = Math.max(a.length, b.length);
    const out: number[] = [];
    for (let i = 0; i < n; i++) {
      const da = a[a.length - n + i] ?? 1;
      const db = b[b.length - n + i] ?? 1;
      if (da !== db && da !== 1 && db !== 1)
        throw new Error(`shapes [${a.join(',')}] and [${b.join(',')}] do not broadcast`);
      out.push(Math.max(da, db));
    }
    return out;
  }

  add(a: string, b: string): string {
    return this.binary(
      'Add',
      a,
      b,
      (dy) => dy,
      (dy) => dy,
    );
  }

  mul(a: string, b: string): string {
    return this.binary(
      'Mul',
      a,
      b,
      (dy) => this.g.op('Mul', [dy, b]),
      (dy) => this.g.op('Mul', [dy, a]),
    );
  }

  /** A broadcasting elementwise op; `da`/`db` give each operand's gradient at the broadcast shape. */
  private binary(opType: string, a: string, b: string, da: (dy: string) => string, db: (dy: string) => string): string {
    const sa = this.tape.shape(a);
    const sb = this.tape.shape(b);
    const shape = this.broadcastShape(sa, sb);
    const y = this.tape.result(this.g.op(opType, [a, b]), shape, [a, b]);
    if (this.tape.needs(y)) {
      this.tape.onBackward(() => {
        const dy = this.tape.grad(y);
        if (!dy) return;
        if (this.tape.needs(a)) this.tape.addGrad(a, this.unbroadcast(da(dy), shape, sa));
        if (this.tape.needs(b)) this.tape.addGrad(b, this.unbroadcast(db(dy), shape, sb));
      });
    }
    return y;
  }

  /** [B, cin] × [cin, cout]. */
  matmul(a: string, w: string): string {
    const [B, cin] = this.tape.shape(a) as [number, number];
    const [wIn, cout] = this.tape.shape(w) as [number, number];
    if (wIn !== cin) throw new Error(`matmul: [${B},${cin}] × [${wIn},${cout}]`);
    const y = this.tape.result(this.g.op('MatMul', [a, w]), [B, cout], [a, w]);
    if (this.tape.needs(y)) {
      this.tape.onBackward(() => {
        const dy = this.tape.grad(y);
        if (!dy) return;
        if (this.tape.needs(a)) this.tape.addGrad(a, this.g.op('Gemm', [dy, w], { transB: 1 }));
        if (this.tape.needs(w)) this.tape.addGrad(w, this.g.op('Gemm', [a, dy], { transA: 1 }));
      });
    }
    return y;
  }

  /** Exact GELU; backward dy·(Φ(z) + z·φ(z)) = dy·(½ + ½erf(u) + u·e^(−u²)/√π) with u = z/√2. */
  gelu(z: string): string {
    const y = this.tape.result(this.g.op('Gelu', [z]), this.tape.shape(z), [z]);
    if (this.tape.needs(z)) {
      this.tape.onBackward(() => {
        const dy = this.tape.grad(y);
        if (!dy) return;
        const g = this.g;
        const u = g.op('Mul', [z, this.tape.f32(Math.SQRT1_2)]);
        const half = g.op('Add', [g.op('Mul', [g.op('Erf', [u]), this.tape.f32(0.5)]), this.tape.f32(0.5)]);
        const bump = g.op('Mul', [
          g.op('Mul', [u, g.op('Exp', [g.op('Neg', [g.op('Mul', [u, u])])])]),
          this.tape.f32(1 / Math.sqrt(Math.PI)),
        ]);
        this.tape.addGrad(z, g.op('Mul', [dy, g.op('Add', [half, bump])]));
      });
    }
    return y;
  }

  /** Mean over H and W, keeping them as 1×1. */
  meanHW(x: string): string {
    const [B, C, H, W] = this.tape.shape(x) as [number, number, number, number];
    const y = this.tape.result(this.g.op('ReduceMean', [x, this.tape.i64([2, 3])], { keepdims: 1 }), [B, C, 1, 1], [x]);
    if (this.tape.needs(x)) {
      this.tape.onBackward(() => {
        const dy = this.tape.grad(y);
        if (dy)
          this.tape.addGrad(
            x,
            this.g.op('Expand', [this.g.op('Mul', [dy, this.tape.f32(1 / (H * W))]), this.tape.i64([B, C, H, W])]),
          );
      });
    }
    return y;
  }

  concatChannels(a: string, b: string): string {
    const sa = this.tape.shape(a);
    const sb = this.tape.shape(b);
    const y = this.tape.result(
      this.g.op('Concat', [a, b], { axis: 1 }),
      [sa[0]!, sa[1]! + sb[1]!, sa[2]!, sa[3]!],
      [a, b],
    );
    if (this.tape.needs(y)) {
      this.tape.onBackward(() => {
        const dy = this.tape.grad(y);
        if (!dy) return;
        const [da, db] = this.g.node(
          'Split',
          [dy, this.tape.i64([sa[1]!, sb[1]!])],
          [this.g.fresh('split'), this.g.fresh('split')],
          { axis: 1 },
        );
        this.tape.addGrad(a, da!);
        this.tape.addGrad(b, db!);
      });
    }
    return y;
  }

  /**
   * Σ over n and output positions of src's k×k taps (stride s, padding p) times `other`, as
   * [k·k·C, O] ordered (tap, channel), from src [B, C, H, W] and other [B, O, outH, outW]: one Gemm
   * per tap over [C, B·outH·outW] slices. (One Gemm over all taps stacked costs a copy of the
   * k²-times larger stack: 7–16% of the step, measured, and twice the peak memory.)
   */
  private filterGrad(
    src: string,
    srcShape: Shape,
    other: string,
    otherShape: Shape,
    k: number,
    s: number,
    p: number,
  ): string {
    const g = this.g;
    const [B, C, H, W] = srcShape as [number, number, number, number];
    const [, O, outH, outW] = otherShape as [number, number, number, number];
    const scb = g.op('Transpose', [src], { perm: [1, 0, 2, 3] });
    const padded = p > 0 ? g.op('Pad', [scb, this.tape.i64([0, 0, p, p, 0, 0, p, p])]) : scb;
    const ocb = this.channelsFirst(other, otherShape);
    const whole = s === 1 && outH === H && outW === W;
    const parts: string[] = [];
    for (let a = 0; a < k; a++) {
      for (let b = 0; b < k; b++) {
        const tap =
          whole && a === p && b === p
            ? scb
            : g.op('Slice', [
                padded,
                this.tape.i64([a, b]),
                this.tape.i64([a + s * (outH - 1) + 1, b + s * (outW - 1) + 1]),
                this.tape.i64([2, 3]),
                this.tape.i64([s, s]),
              ]);
        const cols = g.op('Reshape', [tap, this.tape.i64([C, B * outH * outW])]);
        parts.push(g.op('Unsqueeze', [g.op('Gemm', [cols, ocb], { transB: 1 }), this.tape.i64([0])]));
      }
    }
    const stacked = parts.length === 1 ? parts[0]! : g.op('Concat', parts, { axis: 0 });
    return g.op('Reshape', [stacked, this.tape.i64([k * k * C, O])]);
  }

  /** x [B,C,H,W] → [C, B·H·W]. */
  private channelsFirst(x: string, shape: Shape): string {
    const [B, C, H, W] = shape as [number, number, number, number];
    return this.g.op('Reshape', [this.g.op('Transpose', [x], { perm: [1, 0, 2, 3] }), this.tape.i64([C, B * H * W])]);
  }

  /**
   * ONNX ConvTranspose(x, w), w [cin, cout, k, k], to output size `out`. At stride 1 it is a Conv
   * with w's channels swapped and its taps flipped, padded by k − 1 − p: onnxruntime's CPU
   * ConvTranspose runs a GEMM per image and a single-threaded col2im, about twice the time of the
   * Conv of the same size. (At stride 2 the same trick as s² phase Convs and a DepthToSpace cost
   * as much as ConvTranspose or more, measured.) The same sums, in another order.
   */
  private transposedConv(
    x: string,
    w: string,
    xShape: Shape,
    k: number,
    s: number,
    p: number,
    out: readonly [number, number],
  ): string {
    const g = this.g;
    const [, , H, W] = xShape as [number, number, number, number];
    if (s > 1 || p > k - 1) {
      const extra = [out[0] - ((H - 1) * s - 2 * p + k), out[1] - ((W - 1) * s - 2 * p + k)];
      return g.op('ConvTranspose', [x, w], {
        kernel_shape: [k, k],
        strides: [s, s],
        pads: [p, p, p, p],
        output_padding: extra,
      });
    }
    const flipped = g.op('Slice', [
      g.op('Transpose', [w], { perm: [1, 0, 2, 3] }),
      this.tape.i64([k - 1, k - 1]),
      this.tape.i64([-k - 1, -k - 1]),
      this.tape.i64([2, 3]),
      this.tape.i64([-1, -1]),
    ]);
    const q = k - 1 - p;
    return g.op('Conv', [x, flipped], { kernel_shape: [k, k], pads: [q, q, q, q] });
  }

  /** Conv without bias; `w` in ONNX layout [cout, cin, k, k]. */
  conv(x: string, w: string, stride: number, pad: number): string {
    const [B, cin, H, W] = this.tape.shape(x) as [number, number, number, number];
    const [cout, wIn, k] = this.tape.shape(w) as [number, number, number, number];
    if (wIn !== cin) throw new Error(`conv: input has ${cin} channels, filter ${wIn}`);
    const outH = Math.floor((H + 2 * pad - k) / stride) + 1;
    const outW = Math.floor((W + 2 * pad - k) / stride) + 1;
    const attrs = { kernel_shape: [k, k], strides: [stride, stride], pads: [pad, pad, pad, pad] };
    const y = this.tape.result(this.g.op('Conv', [x, w], attrs), [B, cout, outH, outW], [x, w]);
    if (this.tape.needs(y)) {
      this.tape.onBackward(() => {
        const dy = this.tape.grad(y);
        if (!dy) return;
        const g = this.g;
        if (this.tape.needs(x)) {
          this.tape.addGrad(x, this.transposedConv(dy, w, [B, cout, outH, outW], k, stride, pad, [H, W]));
        }
        if (this.tape.needs(w)) {
          // dW[(a,b,ci), co] = Σ_{n,i,j} x[n, ci, s·i + a − p, s·j + b − p] · dy[n, co, i, j]
          const dwTf = this.filterGrad(x, [B, cin, H, W], dy, [B, cout, outH, outW], k, stride, pad); // [k·k·cin, cout]
          this.tape.addGrad(
            w,
            g.op('Transpose', [g.op('Reshape', [dwTf, this.tape.i64([k, k, cin, cout])])], { perm: [3, 2, 0, 1] }),
          );
        }
      });
    }
    return y;
  }

  /** Transposed conv without bias; `w` in ONNX layout [cin, cout, k, k]. */
  convTranspose(x: string, w: string, stride: number, pad: number): string {
    const [B, cin, H, W] = this.tape.shape(x) as [number, number, number, number];
    const [wIn, cout, k] = this.tape.shape(w) as [number, number, number, number];
    if (wIn !== cin) throw new Error(`convTranspose: input has ${cin} channels, filter ${wIn}`);
    const outH = (H - 1) * stride - 2 * pad + k;
    const outW = (W - 1) * stride - 2 * pad + k;
    const attrs = { kernel_shape: [k, k], strides: [stride, stride], pads: [pad, pad, pad, pad] };
    const y = this.tape.result(
      this.transposedConv(x, w, [B, cin, H, W], k, stride, pad, [outH, outW]),
      [B, cout, outH, outW],
      [x, w],
    );
    if (this.tape.needs(y)) {
      this.tape.onBackward(() => {
        const dy = this.tape.grad(y);
        if (!dy) return;
        const g = this.g;
        if (this.tape.needs(x)) this.tape.addGrad(x, g.op('Conv', [dy, w], attrs));
        if (this.tape.needs(w)) {
          // dW[(a,b,co), ci] = Σ_{n,i,j} dy[n, co, s·i + a − p, s·j + b − p] · x[n, ci, i, j]
          const dwTf = this.filterGrad(dy, [B, cout, outH, outW], x, [B, cin, H, W], k, stride, pad); // [k·k·cout, cin]
          this.tape.addGrad(
            w,
            g.op('Transpose', [g.op('Reshape', [dwTf, this.tape.i64([k, k, cout, cin])])], { perm: [3, 2, 0, 1] }),
          );
        }
      });
    }
    return y;
  }

  /**
   * BatchNorm with batch statistics over (N, H, W): y = γ·(z − μ)·r + β, r = 1/√(σ² + ε). Returns
   * y and the batch mean and biased variance ([1,C,1,1]). Closed-form backward with d = z − μ,
   * m = N·H·W, S = Σdy, T = Σdy·d: dβ = S, dγ = r·T, dz = γr·dy − γr·S/m − γr³·T/m·d.
   */
  batchNorm(z: string, gamma: string, beta: string): { y: string; mean: string; variance: string } {
    const g = this.g;
    const [B, C, H, W] = this.tape.shape(z) as [number, number, number, number];
    const m = B * H * W;
    const axes = this.tape.i64([0, 2, 3]);
    const perChannel = this.tape.i64([1, C, 1, 1]);
    const mean = g.op('ReduceMean', [z, axes], { keepdims: 1 });
    const d = g.op('Sub', [z, mean]);
    const variance = g.op('Mul', [g.op('ReduceSumSquare', [d, axes], { keepdims: 1 }), this.tape.f32(1 / m)]);
    const r = g.op('Reciprocal', [g.op('Sqrt', [g.op('Add', [variance, this.tape.f32(BN_EPS)])])]);
    const gamma4 = g.op('Reshape', [gamma, perChannel]);
    const gr = g.op('Mul', [gamma4, r]);
    const y = this.tape.result(
      g.op('Add', [g.op('Mul', [d, gr]), g.op('Reshape', [beta, perChannel])]),
      [B, C, H, W],
      [z, gamma, beta],
    );
    this.tape.onBackward(() => {
      const dy = this.tape.grad(y);
      if (!dy) return;
      const S = g.op('ReduceSum', [dy, axes], { keepdims: 1 });
      const T = g.op('ReduceSum', [g.op('Mul', [dy, d]), axes], { keepdims: 1 });
      const vec = this.tape.i64([C]);
      this.tape.addGrad(beta, g.op('Reshape', [S, vec]));
      this.tape.addGrad(gamma, g.op('Reshape', [g.op('Mul', [T, r]), vec]));
      if (this.tape.needs(z)) {
        const invM = this.tape.f32(-1 / m);
        const coefD = g.op('Mul', [g.op('Mul', [g.op('Mul', [gr, r]), r]), g.op('Mul', [T, invM])]); // −γr³T/m
        const shift = g.op('Mul', [gr, g.op('Mul', [S, invM])]); // −γrS/m
        this.tape.addGrad(z, g.op('Add', [g.op('Add', [g.op('Mul', [dy, gr]), g.op('Mul', [d, coefD])]), shift]));
      }
    });
    return { y, mean, variance };
  }
}

export interface TrainStepGraph {
  bytes: Uint8Array;
  batch: number;
  /** Trainable parameters, in the order of paramInfos (graph inputs by name, gradients as grad/NAME). */
  params: string[];
  /** BatchNorm layers whose batch statistics are output as bn_mean/NAME and bn_var/NAME, with m = N·H·W. */
  bnLayers: Array<{ name: string; count: number }>;
}

/**
 * The training step of a UNet with this spec at batch size `batch`: inputs x and target
 * [B,1,28,28], t [B,1] (time and class kinds), c [B,10] (class kind; zeros = null class) and
 * every trainable parameter in checkpoint layout; outputs the loss mean((u(x) − target)²), the
 * gradient of every parameter and the BatchNorm batch statistics.
 */
export function buildTrainStepGraph(spec: UNetSpec, batch: number): TrainStepGraph {
  const B = batch;
  const g = new GraphBuilder(`illusionist-unet-train-${spec.kind}-d${spec.hidden}-b${B}`);
  const tape = new Tape(g);
  const ops = new Ops(tape);
  const params = paramInfos(spec).filter((p) => p.trainable);
  const shapes = new Map(params.map((p) => [p.name, p.shape] as const));
  for (const p of params) tape.value(g.input(p.name, 'float32', p.shape), p.shape, true);
  const x = tape.value(g.input(STEP_INPUTS.x, 'float32', [B, 1, 28, 28]), [B, 1, 28, 28], false);
  const target = tape.value(g.input(STEP_INPUTS.target, 'float32', [B, 1, 28, 28]), [B, 1, 28, 28], false);
  const t = spec.kind === 'denoiser' ? undefined : tape.value(g.input(STEP_INPUTS.t, 'float32', [B, 1]), [B, 1], false);
  const c =
    spec.kind === 'class'
      ? tape.value(g.input(STEP_INPUTS.c, 'float32', [B, NUM_CLASSES]), [B, NUM_CLASSES], false)
      : undefined;

  const bnLayers: TrainStepGraph['bnLayers'] = [];
  const layers = new Map(unetLayers(spec).map((l) => [l.name, l] as const));
  // Checkpoint filters are [k, k, a, b]; ONNX wants [b, a, k, k] for both Conv and ConvTranspose.
  const filter = (name: string): string => ops.transpose(name, [3, 2, 0, 1]);
  const layer = (input: string, name: string): string => {
    const l = layers.get(name)!;
    const z =
      l.op === 'conv'
        ? ops.conv(input, filter(`${name}.w`), l.stride, l.pad)
        : ops.convTranspose(input, filter(`${name}.w`), l.stride, l.pad);
    const { y, mean, variance } = ops.batchNorm(z, `${name}.gamma`, `${name}.beta`);
    const [zb, , zh, zw] = tape.shape(z) as [number, number, number, number];
    g.node('Reshape', [mean, tape.i64([l.cout])], [bnMeanName(name)]);
    g.node('Reshape', [variance, tape.i64([l.cout])], [bnVarName(name)]);
    g.output(bnMeanName(name), 'float32', [l.cout]);
    g.output(bnVarName(name), 'float32', [l.cout]);
    bnLayers.push({ name, count: zb * zh * zw });
    return ops.gelu(y);
  };
  const fc = (input: string, name: string): string => {
    const h = ops.gelu(ops.add(ops.matmul(input, `${name}.l1.w`), `${name}.l1.b`));
    const o = ops.add(ops.matmul(h, `${name}.l2.w`), `${name}.l2.b`);
    const [b, n] = tape.shape(o) as [number, number];
    return ops.reshape(o, [b, n, 1, 1]);
  };

  const u = wireUNet(
    spec.kind,
    {
      layer,
      flatten: (z) => ops.gelu(ops.meanHW(z)),
      fc,
      add: (a, b) => ops.add(a, b),
      mul: (a, b) => ops.mul(a, b),
      concat: (a, b) => ops.concatChannels(a, b),
      final: (z) => ops.add(ops.conv(z, filter('final.w'), 1, 1), ops.reshape('final.b', [1, 1, 1, 1])),
    },
    { x, t, c },
  );

  // loss = mean((u − target)²); dloss/du = 2(u − target)/n.
  const diff = g.op('Sub', [u, target]);
  g.node('ReduceMean', [g.op('Mul', [diff, diff])], [STEP_LOSS], { keepdims: 0 });
  g.output(STEP_LOSS, 'float32', []);
  tape.addGrad(u, g.op('Mul', [diff, tape.f32(2 / (B * 784))]));
  tape.backward();

  for (const p of params) {
    const grad = tape.grad(p.name);
    if (!grad) throw new Error(`parameter ${p.name} got no gradient`);
    g.node('Identity', [grad], [gradName(p.name)]);
    g.output(gradName(p.name), 'float32', shapes.get(p.name)!);
  }
  return { bytes: g.toBytes(), batch: B, params: params.map((p) => p.name), bnLayers };
}
