// Exports a trained Part B UNet to ONNX (NCHW, BatchNorm folded into the convolutions, opset 20
// Gelu) so digits are sampled by onnxruntime, the same fast runtime DeepFloyd IF runs on.
import { GraphBuilder } from '../onnx/graph-builder.js';
import { BN_EPS, NUM_CLASSES, paramInfos, unetLayers, wireUNet, type UNetOps, type UNetSpec } from './unet.js';

export const FLOW_INPUTS = { x: 'x', t: 't', c: 'c' } as const;
export const FLOW_OUTPUT = 'u';

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
    if (l.op === 'conv') {
      const w = toOnnxLayout(get(`${name}.w`), shape, 'swap'); // [co, ci, kh, kw]
      const per = l.cin * l.k * l.k;
      for (let o = 0; o < l.cout; o++) for (let i = 0; i < per; i++) w[o * per + i]! *= scale[o]!;
      const wn = g.initializer(`${name}.weight`, w, [l.cout, l.cin, l.k, l.k]);
      const bn = g.initializer(`${name}.bias`, bias, [l.cout]);
      return gelu(
        g.op('Conv', [input, wn, bn], {
          kernel_shape: [l.k, l.k],
          strides: [l.stride, l.stride],
          pads: [l.pad, l.pad, l.pad, l.pad],
        }),
      );
    }
    // tfjs transposed-conv filter [kh, kw, cout, cin] → ONNX ConvTranspose [cin, cout, kh, kw].
    const w = toOnnxLayout(get(`${name}.w`), shape, 'swap');
    const kk = l.k * l.k;
    for (let i = 0; i < l.cin; i++)
      for (let o = 0; o < l.cout; o++) for (let k = 0; k < kk; k++) w[(i * l.cout + o) * kk + k]! *= scale[o]!;
    const wn = g.initializer(`${name}.weight`, w, [l.cin, l.cout, l.k, l.k]);
    const bn = g.initializer(`${name}.bias`, bias, [l.cout]);
    return gelu(
      g.op('ConvTranspose', [input, wn, bn], {
        kernel_shape: [l.k, l.k],
        strides: [l.stride, l.stride],
        pads: [l.pad, l.pad, l.pad, l.pad],
      }),
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

  const ops: UNetOps<string> = {
    layer,
    flatten: (x) =>
      gelu(g.op('ReduceMean', [x, g.initializer('reduce_axes', new BigInt64Array([2n, 3n]), [2])], { keepdims: 1 })),
    fc,
    add: (a, b) => g.op('Add', [a, b]),
    mul: (a, b) => g.op('Mul', [a, b]),
    concat: (a, b) => g.op('Concat', [a, b], { axis: 1 }),
    final: (x) => {
      const finalW = toOnnxLayout(get('final.w'), shapes.get('final.w')!, 'swap');
      return g.node(
        'Conv',
        [
          x,
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
