// A transposed convolution as stride-1 convolutions, one per output phase, interleaved. onnxruntime's
// CPU ConvTranspose is a GEMM and a single-threaded col2im, at under half the speed of its NCHWc
// Conv: the Part B UNet's up2.up at batch 80, D = 32, took 17 ms as ConvTranspose and 7.6 ms as four
// 2×2 convs. The same sums in another order. Used by the ONNX export (weights known) and the
// training graph (weights are inputs).
import type { GraphBuilder } from './graph-builder.js';

/**
 * Output phase r of a transposed conv along one axis: y[s·m + r] = Σ_a x[m − before + a] · w[k0 + s·(taps − 1 − a)],
 * a = 0 … taps − 1, so a stride-1 conv of `taps` taps padded by `before` and `after`.
 */
export interface Phase {
  readonly k0: number;
  readonly taps: number;
  readonly before: number;
  readonly after: number;
}

/**
 * The s phases of a transposed conv of kernel k, stride s and padding p whose output is s× its input
 * (n → s·n: ConvTranspose's (n − 1)·s − 2p + k plus output padding); undefined where a phase would
 * need cropping or has no tap (k < s).
 */
export function transposedConvPhases(k: number, s: number, p: number): Phase[] | undefined {
  if (!Number.isInteger(s) || s < 2 || k < s) return undefined;
  const phases: Phase[] = [];
  for (let r = 0; r < s; r++) {
    const k0 = (r + p) % s;
    const q = Math.floor((r + p) / s);
    const taps = Math.ceil((k - k0) / s);
    const before = taps - 1 - q;
    if (before < 0) return undefined;
    phases.push({ k0, taps, before, after: q });
  }
  return phases;
}

/** Kernel tap of window position a in a phase (see Phase). */
export const phaseTap = (ph: Phase, s: number, a: number): number => ph.k0 + s * (ph.taps - 1 - a);

/**
 * Interleaves the phase outputs of one graph. Columns are spread by products with 0/1 matrices
 * E_r [n, s·n] (E_r[j, s·j + r] = 1: exact, one 1 a column) and summed; rows by a Concat of whole
 * rows and a Reshape. onnxruntime's DepthToSpace took 6 ms for the same at 28 × 28 (batch 80, 32
 * channels), this 2 ms.
 */
export class PhaseInterleaver {
  private readonly consts = new Map<string, string>();

  constructor(private readonly g: GraphBuilder) {}

  private constant(key: string, make: () => string): string {
    let v = this.consts.get(key);
    if (v === undefined) {
      v = make();
      this.consts.set(key, v);
    }
    return v;
  }

  private spread(n: number, s: number, r: number): string {
    return this.constant(`spread:${n}:${s}:${r}`, () => {
      const e = new Float32Array(n * s * n);
      for (let j = 0; j < n; j++) e[j * s * n + s * j + r] = 1;
      return this.g.initializer(this.g.fresh(`phase_spread_${n}x${s}_${r}`), e, [n, s * n]);
    });
  }

  private i64(values: readonly number[]): string {
    return this.constant(`i64:${values.join(',')}`, () =>
      this.g.initializer(this.g.fresh('phase_i64'), BigInt64Array.from(values.map(BigInt)), [values.length]),
    );
  }

  /** `y[ry][rx]`, each [B, C, n, n], as one [B, C, s·n, s·n] map. */
  interleave(y: readonly (readonly string[])[], n: number): string {
    const g = this.g;
    const s = y.length;
    const rows = y.map((phases) => {
      const row = phases
        .map((v, rx) => g.op('MatMul', [v, this.spread(n, s, rx)]))
        .reduce((a, b) => g.op('Add', [a, b])); // [B, C, n, s·n]
      return g.op('Unsqueeze', [row, this.i64([3])]); // [B, C, n, 1, s·n]
    });
    return g.op('Reshape', [g.op('Concat', rows, { axis: 3 }), this.i64([0, 0, s * n, s * n])]);
  }
}
