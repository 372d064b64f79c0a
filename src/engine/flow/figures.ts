// Sample grids of 28×28 digits as PNG (white on black, nearest-neighbour upscaled so they stay
// crisp): the per-epoch figures of a training run and the `digits` command's grid.
import sharp from 'sharp';
import { DIGIT_PIXELS } from './euler.js';

/** Images (B × 784 in `range`) laid out `cols` per row with a 2-pixel gap. */
export async function digitGridPng(images: Float32Array, opts: { cols: number; range: [number, number]; scale?: number }): Promise<Buffer> {
  const n = images.length / DIGIT_PIXELS;
  const cols = Math.min(opts.cols, n);
  const rows = Math.ceil(n / cols);
  const gap = 2;
  const w = cols * 28 + (cols + 1) * gap;
  const h = rows * 28 + (rows + 1) * gap;
  const out = new Uint8Array(w * h).fill(40);
  const [lo, hi] = opts.range;
  for (let k = 0; k < n; k++) {
    const ox = gap + (k % cols) * (28 + gap);
    const oy = gap + Math.floor(k / cols) * (28 + gap);
    for (let y = 0; y < 28; y++) {
      for (let x = 0; x < 28; x++) {
        const v = (images[k * DIGIT_PIXELS + y * 28 + x]! - lo) / (hi - lo);
        out[(oy + y) * w + ox + x] = Math.round(Math.min(1, Math.max(0, v)) * 255);
      }
    }
  }
  return digitPng(out, w, h, opts.scale ?? 1);
}

/** One 28×28 digit (784 values in `range`) as an 8-bit grayscale PNG. */
export async function singleDigitPng(image: Float32Array, range: [number, number]): Promise<Buffer> {
  const [lo, hi] = range;
  const out = new Uint8Array(DIGIT_PIXELS);
  for (let i = 0; i < DIGIT_PIXELS; i++) out[i] = Math.round(Math.min(1, Math.max(0, (image[i]! - lo) / (hi - lo))) * 255);
  return digitPng(out, 28, 28, 1);
}

function digitPng(gray: Uint8Array, w: number, h: number, scale: number): Promise<Buffer> {
  let img = sharp(Buffer.from(gray.buffer, gray.byteOffset, gray.byteLength), { raw: { width: w, height: h, channels: 1 } });
  if (scale > 1) img = img.resize(w * scale, h * scale, { kernel: 'nearest' });
  return img.toColourspace('b-w').png().toBuffer();
}
