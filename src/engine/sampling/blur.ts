// Classical denoising baseline (write-up A.1.2): a Gaussian blur, σ = 2 and kernel 6σ + 1 by default.
// The same separable filter is the low-pass of hybrid images (sampling/hybrid.ts).
import { tensor, type Tensor } from '../tensor.js';

/** Normalised 1-D Gaussian taps (torchvision's `_get_gaussian_kernel1d`). */
export function gaussianKernel1d(kernelSize: number, sigma: number): Float32Array {
  if (!Number.isInteger(kernelSize) || kernelSize < 1 || kernelSize % 2 === 0) {
    throw new RangeError(`Gaussian kernel size must be a positive odd integer, got ${kernelSize}`);
  }
  if (!(sigma > 0)) throw new RangeError(`Gaussian σ must be positive, got ${sigma}`);
  const half = (kernelSize - 1) / 2;
  const k = new Float32Array(kernelSize);
  let total = 0;
  for (let i = 0; i < kernelSize; i++) {
    k[i] = Math.exp(-0.5 * ((i - half) / sigma) ** 2);
    total += k[i]!;
  }
  for (let i = 0; i < kernelSize; i++) k[i]! /= total;
  return k;
}

/** Reflect index into [0, n) without repeating the edge (PyTorch 'reflect'); loops for kernels wider than n. */
function reflect(i: number, n: number): number {
  if (n === 1) return 0;
  const period = 2 * (n - 1);
  let j = ((i % period) + period) % period;
  if (j >= n) j = period - j;
  return j;
}

export interface BlurOptions {
  sigma?: number;
  /** Default 6σ + 1 rounded to the nearest odd integer (the write-up's choice: 13 for σ = 2). */
  kernelSize?: number;
}

export function defaultKernelSize(sigma: number): number {
  const k = Math.round(6 * sigma + 1);
  return k % 2 === 1 ? k : k + 1;
}

/** Separable Gaussian blur of every channel with reflect padding (torchvision's gaussian_blur). */
export function gaussianBlur(x: Tensor, opts: BlurOptions = {}): Tensor {
  const sigma = opts.sigma ?? 2;
  const kernel = gaussianKernel1d(opts.kernelSize ?? defaultKernelSize(sigma), sigma);
  const half = (kernel.length - 1) / 2;
  const [n, c, h, w] = x.shape;
  // Reflected source index of every tap, computed once per axis: modulo arithmetic per tap would
  // dominate hybrid sampling's engine time (two blurs per step).
  const taps = (size: number): Int32Array => {
    const idx = new Int32Array(size * kernel.length);
    for (let q = 0; q < size; q++)
      for (let k = 0; k < kernel.length; k++) idx[q * kernel.length + k] = reflect(q + k - half, size);
    return idx;
  };
  const cols = taps(w);
  const rows = taps(h);
  const K = kernel.length;
  const tmp = new Float32Array(x.data.length);
  const out = new Float32Array(x.data.length);
  for (let p = 0; p < n * c; p++) {
    const base = p * h * w;
    for (let r = 0; r < h; r++) {
      const row = base + r * w;
      for (let q = 0; q < w; q++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += kernel[k]! * x.data[row + cols[q * K + k]!]!;
        tmp[row + q] = s;
      }
    }
    for (let r = 0; r < h; r++)
      for (let q = 0; q < w; q++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += kernel[k]! * tmp[base + rows[r * K + k]! * w + q]!;
        out[base + r * w + q] = s;
      }
  }
  return tensor(x.shape, out);
}
