// The GIFs of illusions: an anagram turning from view to view (held with captions, quintic easing,
// played back, ~30 fps, on a white canvas 1.5× the image) and a hybrid image zooming out.
import sharp, { type OverlayOptions } from 'sharp';
import { encodeGif } from '../images/gif.js';
import { sliceBatch, type Tensor } from '../tensor.js';
import { fadeFrame, type View } from '../views/view.js';
import { displayScale, PIXEL_RANGE, toHwc } from './outputs.js';

/** ~30 fps; GIF delays are whole centiseconds. */
const FRAME_MS = 30;
const HOLD_MS = 1000;
/** Frames per transition: 0.6 s at 30 fps keeps the GIF small and quick to encode. */
const TRANSITION_FRAMES = 20;

/** Quintic ease-in-out on [0, 1]. */
export function easeQuinticInOut(t: number): number {
  return t < 0.5 ? 16 * t ** 5 : 1 - (-2 * t + 2) ** 5 / 2;
}

interface Canvas {
  side: number;
  channels: 1 | 3;
}

/** [−1, 1] → [0, 1] HWC, upscaled by an integer factor with nearest-neighbour. */
function displayPixels(x: Tensor, scale: number): Float32Array {
  const [, c, h, w] = x.shape;
  const src = toHwc(x);
  const out = new Float32Array(h * scale * w * scale * c);
  const ow = w * scale;
  for (let y = 0; y < h * scale; y++)
    for (let q = 0; q < ow; q++) {
      const s = (Math.floor(y / scale) * w + Math.floor(q / scale)) * c;
      for (let k = 0; k < c; k++)
        out[(y * ow + q) * c + k] = (src[s + k]! - PIXEL_RANGE[0]) / (PIXEL_RANGE[1] - PIXEL_RANGE[0]);
    }
  return out;
}

/** Pastes an HWC image (side×side) onto a white canvas at (left, top). */
function paste(
  canvas: Canvas,
  img: Float32Array,
  width: number,
  height: number,
  left: number,
  top: number,
): Float32Array {
  const { side, channels: c } = canvas;
  const out = new Float32Array(side * side * c).fill(1);
  for (let y = 0; y < height; y++) {
    const ty = y + top;
    if (ty < 0 || ty >= side) continue;
    for (let x = 0; x < width; x++) {
      const tx = x + left;
      if (tx < 0 || tx >= side) continue;
      for (let k = 0; k < c; k++) out[(ty * side + tx) * c + k] = img[(y * width + x) * c + k]!;
    }
  }
  return out;
}

/** Black caption text centred in a white band, as [0, 1] HWC pixels. */
async function captionBand(text: string, width: number, height: number, channels: 1 | 3): Promise<Float32Array> {
  const fontSize = Math.max(8, Math.round(Math.min(height * 0.5, width / (0.6 * Math.max(1, text.length)))));
  const safe = text.replace(/[<>&'"]/g, (ch) => `&#${ch.charCodeAt(0)};`);
  const svg =
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}"><rect width="100%" height="100%" fill="#fff"/>` +
    `<text x="${width / 2}" y="${height * 0.62}" font-size="${fontSize}" text-anchor="middle" font-family="DejaVu Sans, sans-serif" fill="#000">${safe}</text></svg>`;
  const { data, info } = await sharp(Buffer.from(svg))
    .flatten({ background: '#ffffff' })
    .toColourspace(channels === 1 ? 'b-w' : 'srgb')
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== channels || info.width !== width || info.height !== height)
    throw new Error(`caption rendered as ${info.width}×${info.height}×${info.channels}`);
  return Float32Array.from(data, (v) => v / 255);
}

export interface AnagramAnimationOptions {
  /** Display upscale of the image; default displayScale(side). */
  scale?: number;
}

/**
 * The anagram turning: hold view 1 (captioned), ease into view j, hold (captioned), ease back; once per
 * further view. Each transition uses the view's own frame() (rotation, negation fade, sliding pixels).
 */
export async function anagramAnimation(
  image: Tensor,
  views: readonly View[],
  captions: readonly string[],
  opts: AnagramAnimationOptions = {},
): Promise<Buffer> {
  const [, c, h, w] = image.shape;
  if (c !== 1 && c !== 3) throw new RangeError(`animations need 1 or 3 channels, got ${c}`);
  if (h !== w) throw new RangeError(`animations need a square image, got ${w}×${h}`);
  const scale = opts.scale ?? displayScale(w);
  const shown = w * scale;
  const canvas: Canvas = { side: Math.round(1.5 * shown), channels: c };
  const margin = Math.floor((canvas.side - shown) / 2);
  const bands = await Promise.all(captions.map((t) => captionBand(t, canvas.side, margin, c)));

  const compose = (x: Tensor, caption?: number): Float32Array => {
    const out = paste(canvas, displayPixels(x, scale), shown, shown, margin, margin);
    if (caption !== undefined) out.set(bands[caption]!, (margin + shown) * canvas.side * c);
    return out;
  };
  const frameOf = (v: View, t: number): Tensor => (v.frame ? v.frame(image, t) : fadeFrame(image, v.view(image), t));

  const frames: Float32Array[] = [];
  const delays: number[] = [];
  const push = (f: Float32Array, ms: number): void => {
    frames.push(f);
    delays.push(ms);
  };
  const ramp = Array.from({ length: TRANSITION_FRAMES }, (_, i) => easeQuinticInOut((i + 1) / (TRANSITION_FRAMES + 1)));
  for (let j = 1; j < views.length; j++) {
    const v = views[j]!;
    push(compose(views[0]!.view(image), 0), HOLD_MS);
    for (const t of ramp) push(compose(frameOf(v, t)), FRAME_MS);
    push(compose(v.view(image), j), HOLD_MS);
    for (const t of [...ramp].reverse()) push(compose(frameOf(v, t)), FRAME_MS);
  }
  return encodeGif(frames, {
    width: canvas.side,
    height: canvas.side,
    channels: c,
    delaysMs: delays,
    rgbPalette: 'global',
  });
}

/**
 * The denoising trajectory of image b: the kept x_t (every 5th step) then the result, held, upscaled
 * for display; what a chat reply shows for techniques that are not illusions.
 */
export function progressionAnimation(progression: readonly { x: Tensor }[], image: Tensor, b = 0): Buffer {
  const [, c, h, w] = image.shape;
  if (c !== 1 && c !== 3) throw new RangeError(`animations need 1 or 3 channels, got ${c}`);
  const scale = displayScale(Math.max(w, h));
  const frames = [
    ...progression.map((f) => displayPixels(sliceBatch(f.x, b, b + 1), scale)),
    displayPixels(sliceBatch(image, b, b + 1), scale),
  ];
  const delays = frames.map((_, i) => (i === frames.length - 1 ? 1500 : 150));
  return encodeGif(frames, {
    width: w * scale,
    height: h * scale,
    channels: c,
    delaysMs: delays,
    rgbPalette: 'global',
  });
}

/** `image` ([−1, 1]) resized to `size` px as [0, 1] HWC: nearest when enlarging (crisp), Lanczos when shrinking (low-passed, as the eye sees it from afar). */
export async function resizedPixels(image: Tensor, size: number): Promise<Float32Array> {
  const [, c, h, w] = image.shape;
  const bytes = Uint8Array.from(displayPixels(image, 1), (v) => Math.max(0, Math.min(255, Math.round(v * 255))));
  const { data } = await sharp(bytes, { raw: { width: w, height: h, channels: c as 1 | 3 } })
    .toColourspace(c === 1 ? 'b-w' : 'srgb')
    .resize(size, size, { fit: 'fill', kernel: size >= Math.max(w, h) ? 'nearest' : 'lanczos3' })
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  return Float32Array.from(data, (v) => v / 255);
}

/** Display size of a hybrid and the sizes it is shown at (full down to 1/8), for the strip and the zoom. */
export function hybridSizes(side: number): number[] {
  const full = side * displayScale(side);
  return [full, Math.round(full / 2), Math.round(full / 4), Math.round(full / 8)];
}

/** A hybrid image shrinking from display size to 1/8 of it (the far prompt takes over) and back. */
export async function hybridZoomAnimation(image: Tensor): Promise<Buffer> {
  const [, c, , w] = image.shape;
  const sizes = hybridSizes(w);
  const full = sizes[0]!;
  const smallest = sizes.at(-1)!;
  const canvas: Canvas = { side: full, channels: c as 1 | 3 };
  const at = async (size: number): Promise<Float32Array> => {
    const off = Math.floor((full - size) / 2);
    return paste(canvas, await resizedPixels(image, size), size, size, off, off);
  };
  const frames: Float32Array[] = [];
  const delays: number[] = [];
  const ramp = Array.from({ length: TRANSITION_FRAMES }, (_, i) => easeQuinticInOut((i + 1) / (TRANSITION_FRAMES + 1)));
  // Geometric interpolation of the size, so the zoom looks steady.
  const sizeAt = (t: number): number => Math.max(1, Math.round(full * (smallest / full) ** t));
  frames.push(await at(full));
  delays.push(HOLD_MS);
  for (const t of ramp) {
    frames.push(await at(sizeAt(t)));
    delays.push(FRAME_MS);
  }
  frames.push(await at(smallest));
  delays.push(HOLD_MS);
  for (const t of [...ramp].reverse()) {
    frames.push(await at(sizeAt(t)));
    delays.push(FRAME_MS);
  }
  return encodeGif(frames, { width: full, height: full, channels: c as 1 | 3, delaysMs: delays, rgbPalette: 'global' });
}

/** The hybrid at each of `hybridSizes`, left to right, bottom-aligned on white. */
export async function hybridSizesPng(image: Tensor): Promise<Buffer> {
  const [, c, , w] = image.shape;
  const sizes = hybridSizes(w);
  const gap = 8;
  const width = sizes.reduce((a, s) => a + s + gap, gap);
  const height = sizes[0]! + 2 * gap;
  const layers: OverlayOptions[] = [];
  let left = gap;
  for (const s of sizes) {
    const px = await resizedPixels(image, s);
    const bytes = Buffer.from(Uint8Array.from(px, (v) => Math.round(v * 255)));
    layers.push({ input: bytes, raw: { width: s, height: s, channels: c as 1 | 3 }, left, top: height - gap - s });
    left += s + gap;
  }
  const img = sharp({ create: { width, height, channels: 3, background: '#ffffff' } }).composite(layers);
  return (c === 1 ? img.toColourspace('b-w') : img).png().toBuffer();
}
