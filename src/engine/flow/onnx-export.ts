// Exports a trained Part B UNet to ONNX (NCHW, BatchNorm folded into the convolutions, opset 20
// Gelu) so digits are sampled by onnxruntime, the same fast runtime DeepFloyd IF runs on.
import { GraphBuilder } from '../onnx/graph-builder.js';
import { type Phase, PhaseInterleaver, phaseTap, transposedConvPhases } from '../onnx/phase-conv.js';
import { BN_EPS, NUM_CLASSES, paramInfos, unetLayers, wireUNet, type UNetOps, type UNetSpec } from './unet.js';

import { FLOW_INPUTS, FLOW_OUTPUT } from './flow-io.js';

export { FLOW_INPUTS, FLOW_OUTPUT };

/** A layer's geometry, as unetLayers gives it. */
type Geometry = Pick<ReturnType<typeof unetLayers>[number], 'cin' | 'cout' | 'k' | 'stride' | 'pad'>;

/** [kh, kw, a, b] (tfjs) → [b, a, kh, kw] or [a, b, kh, kw] (ONNX), as asked by `order`. */
function toOnnxLayout(w: Float32Array, shape: number[], order: 'swap' | 'keep'): Float32Array {
  const [kh, kw, a, b] = shape as [number, number, number, number];
  const out = new Float32Array(w.length);
  for (let y = 0; y < kh; y++) {
    for (let x = 0; x < kw; x++) {
      for (let i = 0; i < a; i++) {
        for (let j = 0; j < b; j++) {
          const src = ((y * kw + x) * a + i) * b + j;
          const dst = order === 'swap' ? ((j * a + i) * kh + y) * kw + x : ((i * b + j) * kh + y) * kw + x;
          out[dst] = w[src]!;
        }
      }
    }
  }
  return out;
}

/**
 * Builds the ONNX model: inputs x [B,1,28,28], t [B,1] (time and class kinds), c [B,10] one-hot
 * or zeros (class kind); output u [B,1,28,28]. Eval-mode BatchNorm (running statistics).
 */
export function exportUNetToOnnx(spec: UNetSpec, weights: Map<string, Float32Array>): Uint8Array {
  const get = (name: string): Float32Array => {
    const w = weights.get(name);
    if (!w) throw new Error(`cannot export: tensor '${name}' missing`);
    return w;
  };
  const shapes = new Map(paramInfos(spec).map((p) => [p.name, p.shape]));
  const g = new GraphBuilder(`illusionist-unet-${spec.kind}-d${spec.hidden}`);
  g.input(FLOW_INPUTS.x, 'float32', ['batch', 1, 28, 28]);
  if (spec.kind !== 'denoiser') g.input(FLOW_INPUTS.t, 'float32', ['batch', 1]);
  if (spec.kind === 'class') g.input(FLOW_INPUTS.c, 'float32', ['batch', NUM_CLASSES]);

  const layers = new Map(unetLayers(spec).map((l) => [l.name, l]));
  const gelu = (v: string): string => g.op('Gelu', [v]);
  // The side of each (square) feature map by value name, from x's 28: the transposed convs are
  // written for their input's size.
  const side = new Map<string, number>([[FLOW_INPUTS.x, 28]]);
  const sized = (v: string, n: number | undefined): string => {
    if (n !== undefined) side.set(v, n);
    return v;
  };
  const channels = new Map<string, number>();
  // A skip connection's concatenation, emitted only where a consumer needs it whole: a conv of it is
  // the sum of convs of its parts, which onnxruntime fuses into one NCHWc conv's accumulation
  // (out.a at batch 80, D = 32: the 1.5 ms Concat saved, the convs as fast).
  const concats = new Map<string, { a: string; b: string; emitted: boolean }>();
  const whole = (v: string): string => {
    const c = concats.get(v);
    if (c && !c.emitted) {
      g.node('Concat', [c.a, c.b], [v], { axis: 1 });
      c.emitted = true;
    }
    return v;
  };
  /** conv or transposed conv with BatchNorm folded in (scale = γ/√(var+ε), bias = β − mean·scale), then GELU. */
  const layer = (input: string, name: string): string => {
    const l = layers.get(name)!;
    const gamma = get(`${name}.gamma`);
    const beta = get(`${name}.beta`);
    const mean = get(`${name}.mean`);
    const variance = get(`${name}.var`);
    const scale = gamma.map((gm, i) => gm / Math.sqrt(variance[i]! + BN_EPS));
    const bias = beta.map((b, i) => b - mean[i]! * scale[i]!);
    const shape = shapes.get(`${name}.w`)!;
    const n = side.get(input);
    if (l.op === 'conv') {
      const w = toOnnxLayout(get(`${name}.w`), shape, 'swap'); // [co, ci, kh, kw]
      const per = l.cin * l.k * l.k;
      for (let o = 0; o < l.cout; o++) for (let i = 0; i < per; i++) w[o * per + i]! *= scale[o]!;
      const attrs = { kernel_shape: [l.k, l.k], strides: [l.stride, l.stride], pads: [l.pad, l.pad, l.pad, l.pad] };
      const bn = g.initializer(`${name}.bias`, bias, [l.cout]);
      const parts = concats.get(input);
      const ca = parts && !parts.emitted ? channels.get(parts.a) : undefined;
      let y: string;
      if (parts && ca !== undefined) {
        const wa = new Float32Array(l.cout * ca * l.k * l.k);
        const wb = new Float32Array(l.cout * (l.cin - ca) * l.k * l.k);
        const kk = l.k * l.k;
        for (let o = 0; o < l.cout; o++) {
          wa.set(w.subarray(o * per, o * per + ca * kk), o * ca * kk);
          wb.set(w.subarray(o * per + ca * kk, (o + 1) * per), o * (l.cin - ca) * kk);
        }
        const ya = g.op('Conv', [parts.a, g.initializer(`${name}.weight_a`, wa, [l.cout, ca, l.k, l.k]), bn], attrs);
        const yb = g.op(
          'Conv',
          [parts.b, g.initializer(`${name}.weight_b`, wb, [l.cout, l.cin - ca, l.k, l.k])],
          attrs,
        );
        y = g.op('Add', [ya, yb]);
      } else {
        const wn = g.initializer(`${name}.weight`, w, [l.cout, l.cin, l.k, l.k]);
        y = g.op('Conv', [whole(input), wn, bn], attrs);
      }
      const out = gelu(y);
      channels.set(out, l.cout);
      return sized(out, n === undefined ? n : Math.floor((n + 2 * l.pad - l.k) / l.stride) + 1);
    }
    // tfjs transposed-conv filter [kh, kw, cout, cin] → ONNX ConvTranspose [cin, cout, kh, kw].
    const w = toOnnxLayout(get(`${name}.w`), shape, 'swap');
    const kk = l.k * l.k;
    for (let i = 0; i < l.cin; i++)
      for (let o = 0; o < l.cout; o++) for (let k = 0; k < kk; k++) w[(i * l.cout + o) * kk + k]! *= scale[o]!;
    if (n === undefined) throw new Error(`cannot export ${name}: the size of its input map is not known`);
    const x = whole(input);
    const y = n === 1 && l.pad === 0 ? fromPoint(x, name, l, w, bias) : phaseConvs(x, name, l, n, w, bias);
    return sized(gelu(y), (n - 1) * l.stride - 2 * l.pad + l.k);
  };
  /**
   * A transposed conv of a 1 × 1 map without padding (unflatten): its output is the input times the
   * filter, read as [cin, cout·k·k], so one Gemm (a tenth of ConvTranspose's time at batch 80, D = 32).
   */
  const fromPoint = (input: string, name: string, l: Geometry, w: Float32Array, bias: Float32Array): string => {
    const kk = l.k * l.k;
    const spread = new Float32Array(l.cout * kk);
    for (let o = 0; o < l.cout; o++) spread.fill(bias[o]!, o * kk, (o + 1) * kk);
    const y = g.op('Gemm', [
      g.op('Flatten', [input], { axis: 1 }),
      g.initializer(`${name}.weight`, w, [l.cin, l.cout * kk]),
      g.initializer(`${name}.bias`, spread, [l.cout * kk]),
    ]);
    return g.op('Reshape', [
      y,
      g.initializer(`${name}.shape`, new BigInt64Array([-1n, BigInt(l.cout), BigInt(l.k), BigInt(l.k)]), [4]),
    ]);
  };
  const interleaver = new PhaseInterleaver(g);
  /** The transposed conv of an n × n map as one stride-1 conv per output phase, interleaved (phase-conv.ts). */
  const phaseConvs = (
    input: string,
    name: string,
    l: Geometry,
    n: number,
    w: Float32Array,
    bias: Float32Array,
  ): string => {
    const { k, stride: s, pad: p, cin, cout } = l;
    const phases = transposedConvPhases(k, s, p);
    if (!phases || (n - 1) * s - 2 * p + k !== s * n)
      throw new Error(
        `cannot export ${name}: a transposed conv of kernel ${k}, stride ${s}, padding ${p} has no phase form`,
      );
    const conv = (py: Phase, px: Phase, id: string): string => {
      const pw = new Float32Array(cout * cin * py.taps * px.taps);
      for (let o = 0; o < cout; o++)
        for (let i = 0; i < cin; i++)
          for (let a = 0; a < py.taps; a++)
            for (let b = 0; b < px.taps; b++)
              pw[((o * cin + i) * py.taps + a) * px.taps + b] =
                w[((i * cout + o) * k + phaseTap(py, s, a)) * k + phaseTap(px, s, b)]!;
      return g.op(
        'Conv',
        [
          input,
          g.initializer(`${id}.weight`, pw, [cout, cin, py.taps, px.taps]),
          g.initializer(`${id}.bias`, bias, [cout]),
        ],
        { kernel_shape: [py.taps, px.taps], pads: [py.before, px.before, py.after, px.after] },
      );
    };
    return interleaver.interleave(
      phases.map((py, ry) => phases.map((px, rx) => conv(py, px, `${name}.phase${ry}${rx}`))),
      n,
    );
  };
  const spatial = g.initializer('unsqueeze_axes', new BigInt64Array([2n, 3n]), [2]);
  const fc = (input: string, name: string): string => {
    const w1 = get(`${name}.l1.w`);
    const w2 = get(`${name}.l2.w`);
    const [cin, cout] = shapes.get(`${name}.l1.w`) as [number, number];
    const h = gelu(
      g.op('Add', [
        g.op('MatMul', [input, g.initializer(`${name}.l1.weight`, w1, [cin, cout])]),
        g.initializer(`${name}.l1.bias`, get(`${name}.l1.b`), [cout]),
      ]),
    );
    const o = g.op('Add', [
      g.op('MatMul', [h, g.initializer(`${name}.l2.weight`, w2, [cout, cout])]),
      g.initializer(`${name}.l2.bias`, get(`${name}.l2.b`), [cout]),
    ]);
    return g.op('Unsqueeze', [o, spatial]); // [B, C, 1, 1]
  };

  /** A broadcast's side: the larger of the two (a 1 × 1 conditioning map spreads over the other). */
  const broadcastSide = (a: string, b: string): number | undefined => {
    const na = side.get(a);
    const nb = side.get(b);
    return na === undefined || nb === undefined ? undefined : Math.max(na, nb);
  };
  const ops: UNetOps<string> = {
    layer,
    flatten: (x) =>
      sized(
        gelu(
          g.op('ReduceMean', [whole(x), g.initializer('reduce_axes', new BigInt64Array([2n, 3n]), [2])], {
            keepdims: 1,
          }),
        ),
        1,
      ),
    fc: (x, name) => sized(fc(x, name), 1),
    add: (a, b) => sized(g.op('Add', [whole(a), whole(b)]), broadcastSide(a, b)),
    mul: (a, b) => sized(g.op('Mul', [whole(a), whole(b)]), broadcastSide(a, b)),
    concat: (a, b) => {
      const v = g.fresh('concat');
      concats.set(v, { a: whole(a), b: whole(b), emitted: false });
      return sized(v, side.get(a));
    },
    final: (x) => {
      const finalW = toOnnxLayout(get('final.w'), shapes.get('final.w')!, 'swap');
      return g.node(
        'Conv',
        [
          whole(x),
          g.initializer('final.weight', finalW, [1, spec.hidden, 3, 3]),
          g.initializer('final.bias', get('final.b'), [1]),
        ],
        [FLOW_OUTPUT],
        { kernel_shape: [3, 3], pads: [1, 1, 1, 1] },
      )[0]!;
    },
  };
  wireUNet(spec.kind, ops, { x: FLOW_INPUTS.x, t: FLOW_INPUTS.t, c: FLOW_INPUTS.c });
  g.output(FLOW_OUTPUT, 'float32', ['batch', 1, 28, 28]);
  return g.toBytes();
}
