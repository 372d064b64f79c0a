// PNGs of MNIST-sized images (single digits, their grids, sampling previews) encoded in JS by
// pngjs: a job that makes only those never loads libvips, whose import alone was ~130 ms of a 2 s
// `illusionist digits`, and at this size pngjs encodes as fast as sharp (a 28 × 28 digit 0.4 ms,
// the 40-digit grid 3 ms). Larger images keep sharp's encoder (encodePng), 2–3× faster at 1024².
import { PNG } from 'pngjs';
import { checkImageSize, checkScale } from './encode.js';

/** Paeth on every row: as small as pngjs's per-row choice for digits, at a quarter of its time. */
const PAETH = 4;

/**
 * 8-bit grey or RGB bytes (HWC) as a PNG, upscaled `scale`× by nearest neighbour.
 * @example smallPng(quantize(digit, [0, 1]), 28, 28, 1, 2)
 */
export function smallPng(bytes: Uint8Array, width: number, height: number, channels: 1 | 3, scale = 1): Buffer {
  checkImageSize('smallPng', bytes.length, width, height, channels);
  checkScale(scale);
  const w = width * scale;
  const h = height * scale;
  let data = bytes;
  if (scale > 1) {
    data = new Uint8Array(w * h * channels);
    for (let y = 0; y < h; y++) {
      const src = Math.floor(y / scale) * width * channels;
      const dst = y * w * channels;
      for (let x = 0; x < w; x++) {
        const s = src + Math.floor(x / scale) * channels;
        for (let c = 0; c < channels; c++) data[dst + x * channels + c] = bytes[s + c]!;
      }
    }
  }
  const colorType = channels === 1 ? 0 : 2;
  return PNG.sync.write(
    // pngjs reads `data` as given by inputColorType; the rest of a PNG object it does not use here.
    { width: w, height: h, data: Buffer.from(data.buffer, data.byteOffset, data.byteLength) } as PNG,
    { colorType, inputColorType: colorType, inputHasAlpha: false, filterType: PAETH },
  );
}
