// A small NCHW Float32 tensor and the pure operations the samplers need (linear combinations,
// batch concat/split/take, masks, statistics). Every op returns a new tensor; inputs are never mutated.
import type { Rng } from './random.js';

export type Shape = readonly [n: number, c: number, h: number, w: number];

export interface Tensor {
  readonly shape: Shape;
  readonly data: Float32Array;
}

export function numel(shape: Shape): number {
  return shape[0] * shape[1] * shape[2] * shape[3];
}

/** Wraps `data` (not copied) as a tensor of `shape`; the length must match. */
export function tensor(shape: Shape, data?: Float32Array): Tensor {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 1)
      throw new RangeError(`tensor dims must be positive integers, got [${shape.join(', ')}]`);
  }
  const n = numel(shape);
  const buf = data ?? new Float32Array(n);
  if (buf.length !== n)
    throw new RangeError(`tensor of shape [${shape.join(', ')}] needs ${n} values, got ${buf.length}`);
  return { shape: [shape[0], shape[1], shape[2], shape[3]], data: buf };
}

export const zeros = (shape: Shape): Tensor => tensor(shape);

export function full(shape: Shape, value: number): Tensor {
  return tensor(shape, new Float32Array(numel(shape)).fill(value));
}

/** Standard normal noise drawn from `rng` (the only source of randomness in sampling). */
export function randn(shape: Shape, rng: Rng): Tensor {
  return tensor(shape, rng.normals(numel(shape)));
}

export function clone(a: Tensor): Tensor {
  return tensor(a.shape, a.data.slice());
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a[0] === b[0] && a[1] === b[1] && a[2] === b[2] && a[3] === b[3];
}

export function assertSameShape(a: Tensor, b: Tensor, what = 'tensors'): void {
  if (!sameShape(a.shape, b.shape)) {
    throw new RangeError(`${what} must have the same shape, got [${a.shape.join(', ')}] and [${b.shape.join(', ')}]`);
  }
}

export function map(a: Tensor, f: (v: number, i: number) => number): Tensor {
  const out = new Float32Array(a.data.length);
  for (let i = 0; i < out.length; i++) out[i] = f(a.data[i]!, i);
  return tensor(a.shape, out);
}

/** a·x + b·y, the workhorse of every update rule. */
export function axpby(a: number, x: Tensor, b: number, y: Tensor): Tensor {
  assertSameShape(x, y);
  const out = new Float32Array(x.data.length);
  const xd = x.data,
    yd = y.data;
  for (let i = 0; i < out.length; i++) out[i] = a * xd[i]! + b * yd[i]!;
  return tensor(x.shape, out);
}

export const add = (x: Tensor, y: Tensor): Tensor => axpby(1, x, 1, y);
export const sub = (x: Tensor, y: Tensor): Tensor => axpby(1, x, -1, y);
/** (1 − w)·x + w·y. */
export const lerp = (x: Tensor, y: Tensor, w: number): Tensor => axpby(1 - w, x, w, y);

export function scale(x: Tensor, s: number): Tensor {
  const out = new Float32Array(x.data.length);
  for (let i = 0; i < out.length; i++) out[i] = s * x.data[i]!;
  return tensor(x.shape, out);
}

export function addScalar(x: Tensor, s: number): Tensor {
  return map(x, (v) => v + s);
}

export function clamp(x: Tensor, lo: number, hi: number): Tensor {
  return map(x, (v) => (v < lo ? lo : Math.min(v, hi)));
}

/** Elementwise x·y, where y may broadcast over batch and/or channels (size 1 in those dims). */
export function mul(x: Tensor, y: Tensor): Tensor {
  return broadcast(x, y, (a, b) => a * b);
}

/** Elementwise f(x, y) with y broadcast over any dimension where it has size 1. */
export function broadcast(x: Tensor, y: Tensor, f: (a: number, b: number) => number): Tensor {
  const [n, c, h, w] = x.shape;
  const [yn, yc, yh, yw] = y.shape;
  const dims: Array<[number, number]> = [
    [n, yn],
    [c, yc],
    [h, yh],
    [w, yw],
  ];
  for (const [d, e] of dims) {
    if (e !== d && e !== 1) {
      throw new RangeError(`cannot broadcast [${y.shape.join(', ')}] onto [${x.shape.join(', ')}]`);
    }
  }
  const out = new Float32Array(x.data.length);
  let i = 0;
  for (let a = 0; a < n; a++)
    for (let b = 0; b < c; b++)
      for (let p = 0; p < h; p++)
        for (let q = 0; q < w; q++) {
          const j =
            (((yn === 1 ? 0 : a) * yc + (yc === 1 ? 0 : b)) * yh + (yh === 1 ? 0 : p)) * yw + (yw === 1 ? 0 : q);
          out[i] = f(x.data[i]!, y.data[j]!);
          i++;
        }
  return tensor(x.shape, out);
}

/** mask·a + (1 − mask)·b with a 0/1 (or soft) mask broadcast over batch/channels. */
export function where(mask: Tensor, a: Tensor, b: Tensor): Tensor {
  assertSameShape(a, b);
  const m = broadcast(a, mask, (_v, mv) => mv);
  const out = new Float32Array(a.data.length);
  for (let i = 0; i < out.length; i++) {
    const mv = m.data[i]!;
    // Exact selection for hard masks so that kept pixels are bit-identical (inpainting relies on it).
    out[i] = mv === 1 ? a.data[i]! : mv === 0 ? b.data[i]! : mv * a.data[i]! + (1 - mv) * b.data[i]!;
  }
  return tensor(a.shape, out);
}

/** Concatenates along the batch axis. */
export function concat(parts: readonly Tensor[]): Tensor {
  const first = parts[0];
  if (!first) throw new RangeError('concat needs at least one tensor');
  const [, c, h, w] = first.shape;
  let n = 0;
  for (const p of parts) {
    if (p.shape[1] !== c || p.shape[2] !== h || p.shape[3] !== w) {
      throw new RangeError(`concat needs equal [c, h, w], got [${first.shape.join(', ')}] and [${p.shape.join(', ')}]`);
    }
    n += p.shape[0];
  }
  const out = new Float32Array(n * c * h * w);
  let off = 0;
  for (const p of parts) {
    out.set(p.data, off);
    off += p.data.length;
  }
  return tensor([n, c, h, w], out);
}

/** Batch rows [start, end) (a copy). */
export function sliceBatch(x: Tensor, start: number, end: number): Tensor {
  const [n, c, h, w] = x.shape;
  if (!(0 <= start && start < end && end <= n))
    throw new RangeError(`batch slice [${start}, ${end}) out of range for batch ${n}`);
  const per = c * h * w;
  return tensor([end - start, c, h, w], x.data.slice(start * per, end * per));
}

/** Splits the batch into consecutive pieces of the given sizes. */
export function split(x: Tensor, sizes: readonly number[]): Tensor[] {
  const total = sizes.reduce((s, v) => s + v, 0);
  if (total !== x.shape[0]) throw new RangeError(`split sizes [${sizes.join(', ')}] do not sum to batch ${x.shape[0]}`);
  const out: Tensor[] = [];
  let start = 0;
  for (const s of sizes) {
    out.push(sliceBatch(x, start, start + s));
    start += s;
  }
  return out;
}

/** Splits into `k` equal pieces. */
export function chunk(x: Tensor, k: number): Tensor[] {
  if (x.shape[0] % k !== 0) throw new RangeError(`batch ${x.shape[0]} does not split into ${k} equal chunks`);
  return split(x, new Array<number>(k).fill(x.shape[0] / k));
}

/** Row i of the result is row rows[i] of x (gather on the batch axis). */
export function takeBatch(x: Tensor, rows: readonly number[]): Tensor {
  const [n, c, h, w] = x.shape;
  const per = c * h * w;
  const out = new Float32Array(rows.length * per);
  rows.forEach((r, i) => {
    if (!Number.isInteger(r) || r < 0 || r >= n) throw new RangeError(`row ${r} out of range for batch ${n}`);
    out.set(x.data.subarray(r * per, (r + 1) * per), i * per);
  });
  return tensor([rows.length, c, h, w], out);
}

/** Channels [start, end) of every row (DeepFloyd's 6-channel output is ε ⊕ variance). */
export function sliceChannels(x: Tensor, start: number, end: number): Tensor {
  const [n, c, h, w] = x.shape;
  if (!(0 <= start && start < end && end <= c))
    throw new RangeError(`channel slice [${start}, ${end}) out of range for ${c} channels`);
  const hw = h * w;
  const out = new Float32Array(n * (end - start) * hw);
  for (let b = 0; b < n; b++) {
    out.set(x.data.subarray((b * c + start) * hw, (b * c + end) * hw), b * (end - start) * hw);
  }
  return tensor([n, end - start, h, w], out);
}

/** Concatenates along the channel axis. */
export function concatChannels(parts: readonly Tensor[]): Tensor {
  const first = parts[0];
  if (!first) throw new RangeError('concatChannels needs at least one tensor');
  const [n, , h, w] = first.shape;
  const hw = h * w;
  const cs = parts.map((p) => {
    if (p.shape[0] !== n || p.shape[2] !== h || p.shape[3] !== w) {
      throw new RangeError(
        `concatChannels needs equal [n, h, w], got [${first.shape.join(', ')}] and [${p.shape.join(', ')}]`,
      );
    }
    return p.shape[1];
  });
  const c = cs.reduce((s, v) => s + v, 0);
  const out = new Float32Array(n * c * hw);
  for (let b = 0; b < n; b++) {
    let off = b * c * hw;
    parts.forEach((p, k) => {
      const pc = cs[k]!;
      out.set(p.data.subarray(b * pc * hw, (b + 1) * pc * hw), off);
      off += pc * hw;
    });
  }
  return tensor([n, c, h, w], out);
}

/** Repeats the batch `k` times: [x; x; …]. */
export function repeatBatch(x: Tensor, k: number): Tensor {
  return concat(new Array<Tensor>(k).fill(x));
}

/** Mean of several same-shaped tensors. */
export function mean(parts: readonly Tensor[]): Tensor {
  const first = parts[0];
  if (!first) throw new RangeError('mean needs at least one tensor');
  const out = new Float32Array(first.data.length);
  for (const p of parts) {
    assertSameShape(first, p);
    for (let i = 0; i < out.length; i++) out[i]! += p.data[i]!;
  }
  for (let i = 0; i < out.length; i++) out[i]! /= parts.length;
  return tensor(first.shape, out);
}

export function sum(x: Tensor): number {
  let s = 0;
  for (let i = 0; i < x.data.length; i++) s += x.data[i]!;
  return s;
}

export function dot(x: Tensor, y: Tensor): number {
  assertSameShape(x, y);
  let s = 0;
  for (let i = 0; i < x.data.length; i++) s += x.data[i]! * y.data[i]!;
  return s;
}

export const norm = (x: Tensor): number => Math.sqrt(dot(x, x));

/** Mean and (population) variance of all values. */
export function stats(x: Tensor): { mean: number; variance: number } {
  const m = sum(x) / x.data.length;
  let v = 0;
  for (let i = 0; i < x.data.length; i++) v += (x.data[i]! - m) ** 2;
  return { mean: m, variance: v / x.data.length };
}

/** Mean squared difference. */
export function mse(x: Tensor, y: Tensor): number {
  assertSameShape(x, y);
  let s = 0;
  for (let i = 0; i < x.data.length; i++) s += (x.data[i]! - y.data[i]!) ** 2;
  return s / x.data.length;
}

/** Nearest-neighbour resize (crisp display upscales of small images). */
export function resizeNearest(x: Tensor, h2: number, w2: number): Tensor {
  const [n, c, h, w] = x.shape;
  const out = new Float32Array(n * c * h2 * w2);
  let i = 0;
  for (let b = 0; b < n * c; b++)
    for (let p = 0; p < h2; p++) {
      const sp = Math.min(h - 1, Math.floor((p * h) / h2));
      for (let q = 0; q < w2; q++) out[i++] = x.data[(b * h + sp) * w + Math.min(w - 1, Math.floor((q * w) / w2))]!;
    }
  return tensor([n, c, h2, w2], out);
}

/**
 * Bilinear resize as PyTorch's `interpolate(mode='bilinear')`; diffusers' IF stage II upscales the
 * stage I image with `align_corners=True`, so that is the default here.
 */
export function resizeBilinear(x: Tensor, h2: number, w2: number, alignCorners = true): Tensor {
  const [n, c, h, w] = x.shape;
  const out = new Float32Array(n * c * h2 * w2);
  const src = (o: number, inSize: number, outSize: number): [number, number, number] => {
    const f = alignCorners
      ? outSize > 1
        ? (o * (inSize - 1)) / (outSize - 1)
        : 0
      : Math.max(0, ((o + 0.5) * inSize) / outSize - 0.5);
    const i0 = Math.min(inSize - 1, Math.floor(f));
    const i1 = Math.min(inSize - 1, i0 + 1);
    return [i0, i1, f - i0];
  };
  let i = 0;
  for (let b = 0; b < n * c; b++)
    for (let p = 0; p < h2; p++) {
      const [p0, p1, fp] = src(p, h, h2);
      for (let q = 0; q < w2; q++) {
        const [q0, q1, fq] = src(q, w, w2);
        const base = b * h * w;
        const top = x.data[base + p0 * w + q0]! * (1 - fq) + x.data[base + p0 * w + q1]! * fq;
        const bot = x.data[base + p1 * w + q0]! * (1 - fq) + x.data[base + p1 * w + q1]! * fq;
        out[i++] = top * (1 - fp) + bot * fp;
      }
    }
  return tensor([n, c, h2, w2], out);
}
