// The view contract of visual anagrams (dangeng/visual_anagrams): view(x), inverseView(ε) and an
// animation frame; plus the shared machinery for views that are pixel permutations.
import { lerp, tensor, type Tensor } from '../tensor.js';

export interface View {
  readonly name: string;
  /** The image as seen through the view (applied to x_t before the model). */
  view(x: Tensor): Tensor;
  /** Maps the model's ε for the viewed image back to the original frame. */
  inverseView(eps: Tensor): Tensor;
  /** Same for the variance channels; absent = inverseView (negate overrides it: variance is not negated). */
  inverseVariance?(v: Tensor): Tensor;
  /** Animation frame at t ∈ [0, 1]: t = 0 the image, t = 1 its view; same size as the image. */
  frame?(img: Tensor, t: number): Tensor;
}

export interface ViewContext {
  height: number;
  width: number;
  /** skew: largest column displacement in pixels; default 50 at 64 px, scaled with width. */
  maxDisp?: number;
  /** Fixed permutation seed of pixel_permute / patch_permute / jigsaw; default 0. */
  seed?: number;
  /** Value outside the image in rotation frames; default −1 (black in [−1, 1]). */
  background?: number;
}

export type ViewFactory = (ctx: ViewContext) => View;

/**
 * A spatial permutation: output position p takes input position src[p], every channel and batch row
 * alike. Permutation matrices are orthogonal, so Gaussian noise stays Gaussian.
 */
export function permute(x: Tensor, src: Int32Array): Tensor {
  const [n, c, h, w] = x.shape;
  const hw = h * w;
  if (src.length !== hw) throw new RangeError(`permutation of ${src.length} positions applied to a ${h}×${w} image`);
  const out = new Float32Array(x.data.length);
  for (let b = 0; b < n * c; b++) {
    const base = b * hw;
    for (let p = 0; p < hw; p++) out[base + p] = x.data[base + src[p]!]!;
  }
  return tensor(x.shape, out);
}

export function invertPermutation(src: Int32Array): Int32Array {
  const inv = new Int32Array(src.length);
  for (let p = 0; p < src.length; p++) inv[src[p]!] = p;
  return inv;
}

/** Build src[p] from a function of output coordinates (y, x) → input coordinates. */
export function permutationFrom(h: number, w: number, f: (y: number, x: number) => [number, number]): Int32Array {
  const src = new Int32Array(h * w);
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      const [sy, sx] = f(y, x);
      src[y * w + x] = sy * w + sx;
    }
  return src;
}

/**
 * Frame of a permutation: every pixel slides in a straight line from where it is to where the view
 * puts it. Drawn over the nearer end state so that no holes appear mid-flight.
 */
export function slideFrame(img: Tensor, src: Int32Array, t: number): Tensor {
  const [n, c, h, w] = img.shape;
  const hw = h * w;
  const end = permute(img, src);
  const out = (t < 0.5 ? img : end).data.slice();
  for (let p = 0; p < hw; p++) {
    const s = src[p]!;
    const y = Math.round((1 - t) * Math.floor(s / w) + t * Math.floor(p / w));
    const x = Math.round((1 - t) * (s % w) + t * (p % w));
    for (let b = 0; b < n * c; b++) out[b * hw + y * w + x] = img.data[b * hw + s]!;
  }
  return tensor(img.shape, out);
}

/** Bilinear rotation by `degrees` clockwise about the centre, for animation frames only (not orthogonal). */
export function rotateFrame(
  img: Tensor,
  degrees: number,
  background = -1,
  inside?: (y: number, x: number) => boolean,
): Tensor {
  const [n, c, h, w] = img.shape;
  const th = (degrees * Math.PI) / 180;
  const cos = Math.cos(th),
    sin = Math.sin(th);
  const cy = (h - 1) / 2,
    cx = (w - 1) / 2;
  const out = img.data.slice();
  for (let y = 0; y < h; y++)
    for (let x = 0; x < w; x++) {
      if (inside && !inside(y, x)) continue;
      // Inverse map: rotate the output position counter-clockwise to find its source.
      const dy = y - cy,
        dx = x - cx;
      const sy = cy + cos * dy - sin * dx;
      const sx = cx + sin * dy + cos * dx;
      const y0 = Math.floor(sy),
        x0 = Math.floor(sx),
        fy = sy - y0,
        fx = sx - x0;
      for (let b = 0; b < n * c; b++) {
        const base = b * h * w;
        const at = (yy: number, xx: number): number =>
          yy < 0 || yy >= h || xx < 0 || xx >= w ? background : img.data[base + yy * w + xx]!;
        out[base + y * w + x] =
          (at(y0, x0) * (1 - fx) + at(y0, x0 + 1) * fx) * (1 - fy) +
          (at(y0 + 1, x0) * (1 - fx) + at(y0 + 1, x0 + 1) * fx) * fy;
      }
    }
  return tensor(img.shape, out);
}

/** A view given by a fixed spatial permutation, with a sliding frame unless one is given. */
export function permutationView(name: string, src: Int32Array, frame?: (img: Tensor, t: number) => Tensor): View {
  const inv = invertPermutation(src);
  return {
    name,
    view: (x) => permute(x, src),
    inverseView: (eps) => permute(eps, inv),
    frame: frame ?? ((img, t) => slideFrame(img, src, t)),
  };
}

/** Cross-fade frame, for views without a geometric motion. */
export function fadeFrame(a: Tensor, b: Tensor, t: number): Tensor {
  return lerp(a, b, t);
}
