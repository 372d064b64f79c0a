// Encodes animations (denoising trajectories, anagram transforms, hybrid zoom-outs) as GIFs with
// gifenc, which keeps exact per-frame delays; grey frames map exactly onto a 256-grey palette.
import gifenc from 'gifenc';
import { checkImageSize, checkScale, quantize, type PixelRange } from './encode.js';

/** Browsers play GIF delays under 20 ms at 100 ms, the opposite of what a short delay asks for. */
export const MIN_GIF_DELAY_MS = 20;
/** A GIF delay is a 16-bit count of centiseconds. */
export const MAX_GIF_DELAY_MS = 655_350;

export interface GifOptions {
  width: number;
  height: number;
  channels: 1 | 3;
  /** One delay for every frame, or one per frame; GIF stores them in 10 ms steps. */
  delaysMs: number[] | number;
  /** Integer nearest-neighbour upscale (28×28 digits are too small to see in chat). */
  scale?: number;
  /** Values mapped to black and white (default [0, 1]). */
  range?: PixelRange;
  /** Loop forever (default) or play once. */
  loop?: boolean;
  /**
   * RGB only: a palette per frame (best colours per frame, default) or one palette for the
   * whole animation (no colour flicker between frames of the same picture).
   */
  rgbPalette?: 'per-frame' | 'global';
}

const GREY_PALETTE: gifenc.Palette = Array.from({ length: 256 }, (_, v): gifenc.Color => [v, v, v]);

function frameDelays(delaysMs: number[] | number, count: number): number[] {
  const delays = typeof delaysMs === 'number' ? new Array<number>(count).fill(delaysMs) : delaysMs;
  if (delays.length !== count) {
    throw new RangeError(`encodeGif: ${count} frames but ${delays.length} delays; give one delay or one per frame`);
  }
  delays.forEach((d, i) => {
    if (!Number.isFinite(d) || d < MIN_GIF_DELAY_MS || d > MAX_GIF_DELAY_MS) {
      throw new RangeError(
        `encodeGif: delay ${i} is ${d} ms; delays must be ${MIN_GIF_DELAY_MS}–${MAX_GIF_DELAY_MS} ms ` +
          '(browsers play shorter delays at 100 ms)',
      );
    }
  });
  return delays;
}

/** Nearest-neighbour upscale of one byte-per-pixel plane. */
function upscale(plane: Uint8Array, width: number, height: number, scale: number): Uint8Array {
  if (scale === 1) return plane;
  const outWidth = width * scale;
  const out = new Uint8Array(outWidth * height * scale);
  for (let y = 0; y < height; y++) {
    const row = out.subarray(y * scale * outWidth, (y * scale + 1) * outWidth);
    for (let x = 0; x < width; x++) row.fill(plane[y * width + x]!, x * scale, (x + 1) * scale);
    for (let k = 1; k < scale; k++)
      out.copyWithin((y * scale + k) * outWidth, y * scale * outWidth, (y * scale + 1) * outWidth);
  }
  return out;
}

/** Interleaved RGB bytes → RGBA with opaque alpha, in a fresh buffer as gifenc requires. */
function toRgba(rgb: Uint8Array): Uint8Array {
  const n = rgb.length / 3;
  const rgba = new Uint8Array(n * 4);
  for (let i = 0; i < n; i++) {
    rgba[4 * i] = rgb[3 * i]!;
    rgba[4 * i + 1] = rgb[3 * i + 1]!;
    rgba[4 * i + 2] = rgb[3 * i + 2]!;
    rgba[4 * i + 3] = 255;
  }
  return rgba;
}

/**
 * Encodes HWC float frames as an animated GIF.
 * @example encodeGif(trajectory, { width: 28, height: 28, channels: 1, delaysMs: 80, scale: 8, range: [-1, 1] })
 */
export function encodeGif(frames: Float32Array[], opts: GifOptions): Buffer {
  const { width, height, channels } = opts;
  if (frames.length === 0) throw new RangeError('encodeGif needs at least one frame');
  frames.forEach((f, i) => {
    checkImageSize(`encodeGif frame ${i}`, f.length, width, height, channels);
  });
  const scale = opts.scale ?? 1;
  checkScale(scale);
  const delays = frameDelays(opts.delaysMs, frames.length);
  const bytes = frames.map((f) => quantize(f, opts.range));

  // Index planes at the original size, upscaled afterwards: quantising is per pixel, so the
  // result is the same and scale² times cheaper.
  let indices: Uint8Array[];
  let palettes: gifenc.Palette[];
  if (channels === 1) {
    indices = bytes;
    palettes = [GREY_PALETTE];
  } else if ((opts.rgbPalette ?? 'per-frame') === 'global') {
    const all = new Uint8Array(bytes.length * width * height * 4);
    bytes.forEach((b, i) => {
      all.set(toRgba(b), i * width * height * 4);
    });
    const palette = gifenc.quantize(all, 256);
    indices = bytes.map((b) => gifenc.applyPalette(toRgba(b), palette));
    palettes = [palette];
  } else {
    const rgbas = bytes.map(toRgba);
    palettes = rgbas.map((rgba) => gifenc.quantize(rgba, 256));
    indices = rgbas.map((rgba, i) => gifenc.applyPalette(rgba, palettes[i]!));
  }

  const gif = gifenc.GIFEncoder();
  indices.forEach((index, i) => {
    gif.writeFrame(upscale(index, width, height, scale), width * scale, height * scale, {
      // The first palette becomes the global colour table; later ones are local tables.
      palette: palettes[i],
      delay: delays[i],
      repeat: opts.loop === false ? -1 : 0,
    });
  });
  gif.finish();
  return Buffer.from(gif.bytesView());
}
