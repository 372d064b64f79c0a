// Moves images between the engine's float pixels and files: PNG encoding, guarded decoding of
// user uploads (size and decompression-bomb limits), and the resizes the denoisers need.
import sharp, { type Metadata, type Sharp } from 'sharp';

/**
 * A float image with interleaved channels (HWC, row-major), as sharp's raw buffers are laid
 * out. Engine tensors are planar (NCHW): convert with planarToInterleaved / interleavedToPlanar.
 */
export interface RasterImage {
  data: Float32Array;
  width: number;
  height: number;
  channels: 1 | 3;
}

export type PixelRange = readonly [lo: number, hi: number];

export interface EncodePngOptions {
  /** Values mapped to black and white; default [0, 1] ([-1, 1] for the MNIST flow model). */
  range?: PixelRange;
  /** Integer nearest-neighbour upscale, so 28×28 digits stay crisp when shown in chat. */
  scale?: number;
}

export function checkImageSize(what: string, length: number, width: number, height: number, channels: number): void {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`${what}: width and height must be positive integers, got ${width}×${height}`);
  }
  if (channels !== 1 && channels !== 3) {
    throw new RangeError(`${what}: channels must be 1 (grey) or 3 (RGB), got ${channels}`);
  }
  if (length !== width * height * channels) {
    throw new RangeError(
      `${what}: ${length} values do not make a ${width}×${height}×${channels} image (${width * height * channels} expected)`,
    );
  }
}

export function checkScale(scale: number): void {
  if (!Number.isInteger(scale) || scale < 1 || scale > 64) {
    throw new RangeError(`scale must be an integer from 1 to 64, got ${scale}`);
  }
}

/** Clamps to `range` and quantises to bytes; sharp would read floats as 16-bit grey. */
export function quantize(pixels: Float32Array, range: PixelRange = [0, 1]): Uint8Array {
  const [lo, hi] = range;
  if (!(hi > lo)) throw new RangeError(`pixel range must have hi > lo, got [${lo}, ${hi}]`);
  const out = new Uint8Array(pixels.length);
  const k = 255 / (hi - lo);
  for (let i = 0; i < pixels.length; i++) {
    // NaN clamps to black rather than poisoning the byte conversion.
    const v = (pixels[i]! - lo) * k;
    out[i] = v > 0 ? (v < 255 ? Math.round(v) : 255) : 0;
  }
  return out;
}

function rawInput(bytes: Uint8Array, width: number, height: number, channels: 1 | 3): Sharp {
  // Without b-w, sharp writes one-channel raw input as RGB.
  return sharp(bytes, { raw: { width, height, channels } }).toColourspace(channels === 1 ? 'b-w' : 'srgb');
}

/**
 * Encodes a float image as an 8-bit PNG (grey or RGB).
 * @example await encodePng(digit, 28, 28, 1, { range: [-1, 1], scale: 8 })
 */
export async function encodePng(
  pixels: Float32Array,
  width: number,
  height: number,
  channels: 1 | 3,
  opts: EncodePngOptions = {},
): Promise<Buffer> {
  checkImageSize('encodePng', pixels.length, width, height, channels);
  const scale = opts.scale ?? 1;
  checkScale(scale);
  let img = rawInput(quantize(pixels, opts.range), width, height, channels);
  if (scale > 1) img = img.resize(width * scale, height * scale, { kernel: 'nearest' });
  return img.png().toBuffer();
}

export type ImageDecodeErrorCode = 'too-many-bytes' | 'too-many-pixels' | 'not-an-image';

/** A user upload that cannot be used; `code` lets chat front ends word the reply. */
export class ImageDecodeError extends Error {
  override name = 'ImageDecodeError';
  constructor(
    readonly code: ImageDecodeErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface DecodeLimits {
  /** Largest accepted file, in bytes. */
  maxBytes: number;
  /** Largest accepted width × height, checked from the header before any pixel is inflated. */
  maxPixels: number;
}

const SUPPORTED_FORMATS = 'PNG, JPEG, WebP, GIF, TIFF or AVIF';

/**
 * Decodes an uploaded image to floats in [0, 1]. EXIF orientation is applied (phone photos of
 * sketches), transparency is flattened onto white (drawing apps export strokes on transparent),
 * and the result is grey when the file is grey, RGB otherwise. Only the first frame of an
 * animation is read.
 */
export interface DecodeOptions {
  /**
   * Shrinks the picture inside sharp (on libuv's threads) so neither side exceeds this many pixels
   * (never enlarges): a huge upload then never exists as a full-size raster in JS.
   */
  fitInside?: number;
}

/** A decoded upload, with the size it had (after EXIF orientation) before any `fitInside` shrink. */
export interface DecodedImage extends RasterImage {
  sourceWidth: number;
  sourceHeight: number;
}

export async function decodeImage(buf: Buffer, limits: DecodeLimits, opts: DecodeOptions = {}): Promise<DecodedImage> {
  const { maxBytes, maxPixels } = limits;
  if (buf.length > maxBytes) {
    throw new ImageDecodeError('too-many-bytes', `image is ${buf.length} bytes; the limit is ${maxBytes} bytes`);
  }
  let meta: Metadata;
  try {
    // metadata() reads only the header, so it is safe unlimited, and it gives the dimensions
    // that the too-many-pixels message reports.
    meta = await sharp(buf, { limitInputPixels: false }).metadata();
  } catch (err) {
    throw new ImageDecodeError(
      'not-an-image',
      `not a readable image (${(err as Error).message}); send a ${SUPPORTED_FORMATS} file`,
    );
  }
  const { width = 0, height = 0 } = meta;
  if (width * height > maxPixels) {
    throw new ImageDecodeError(
      'too-many-pixels',
      `image is ${width}×${height} = ${width * height} pixels; the limit is ${maxPixels} pixels`,
    );
  }
  const grey = meta.channels !== undefined && meta.channels - (meta.hasAlpha ? 1 : 0) === 1;
  try {
    // limitInputPixels again: the header check above can be fooled by formats whose frames
    // are larger than the canvas they declare.
    let pipeline = sharp(buf, { limitInputPixels: maxPixels }).autoOrient().flatten({ background: '#ffffff' });
    if (opts.fitInside !== undefined)
      pipeline = pipeline.resize({
        width: opts.fitInside,
        height: opts.fitInside,
        fit: 'inside',
        withoutEnlargement: true,
      });
    const { data, info } = await pipeline
      .toColourspace(grey ? 'b-w' : 'srgb')
      .raw({ depth: 'uchar' })
      .toBuffer({ resolveWithObject: true });
    if (info.channels !== 1 && info.channels !== 3) {
      throw new Error(`decoded to ${info.channels} channels`);
    }
    const out = new Float32Array(data.length);
    for (let i = 0; i < data.length; i++) out[i] = data[i]! / 255;
    const source = meta.autoOrient ?? { width, height };
    return {
      data: out,
      width: info.width,
      height: info.height,
      channels: info.channels,
      sourceWidth: source.width,
      sourceHeight: source.height,
    };
  } catch (err) {
    const message = (err as Error).message;
    if (/pixel limit/i.test(message)) {
      throw new ImageDecodeError('too-many-pixels', `image is larger than the limit of ${maxPixels} pixels`);
    }
    throw new ImageDecodeError(
      'not-an-image',
      `image could not be decoded, it may be corrupt or truncated (${message}); send a ${SUPPORTED_FORMATS} file`,
    );
  }
}

/** Grey ↔ RGB; grey is Rec. 601 luma, as PIL's convert('L') and torchvision use. */
export function convertChannels(img: RasterImage, channels: 1 | 3): RasterImage {
  if (img.channels === channels) return img;
  const n = img.width * img.height;
  const out = new Float32Array(n * channels);
  const src = img.data;
  if (channels === 1) {
    for (let i = 0; i < n; i++) out[i] = 0.299 * src[3 * i]! + 0.587 * src[3 * i + 1]! + 0.114 * src[3 * i + 2]!;
  } else {
    for (let i = 0; i < n; i++) out[3 * i] = out[3 * i + 1] = out[3 * i + 2] = src[i]!;
  }
  return { data: out, width: img.width, height: img.height, channels };
}

export interface ResizeOptions {
  /** cover: centre-crop to the aspect (default); contain: letterbox in black; fill: stretch. */
  fit?: 'cover' | 'contain' | 'fill';
  /** Output channels; default the input's. DeepFloyd wants 3. */
  channels?: 1 | 3;
}

async function resizeBytes(
  bytes: Uint8Array,
  src: { width: number; height: number; channels: 1 | 3 },
  width: number,
  height: number,
  fit: 'cover' | 'contain' | 'fill',
): Promise<Float32Array> {
  const { data, info } = await rawInput(bytes, src.width, src.height, src.channels)
    .resize(width, height, { fit, kernel: 'lanczos3', background: { r: 0, g: 0, b: 0, alpha: 1 } })
    .raw({ depth: 'uchar' })
    .toBuffer({ resolveWithObject: true });
  if (info.channels !== src.channels || info.width !== width || info.height !== height) {
    throw new Error(
      `resize gave ${info.width}×${info.height}×${info.channels}, expected ${width}×${height}×${src.channels}`,
    );
  }
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i]! / 255;
  return out;
}

/**
 * Resizes (Lanczos) to the denoiser's input size, e.g. 64×64 RGB for DeepFloyd stage I.
 * @example await resizeTo(upload, 64, 64, { channels: 3 })
 */
export async function resizeTo(
  img: RasterImage,
  width: number,
  height: number,
  opts: ResizeOptions = {},
): Promise<RasterImage> {
  checkImageSize('resizeTo', img.data.length, img.width, img.height, img.channels);
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`resizeTo: target size must be positive integers, got ${width}×${height}`);
  }
  const src = convertChannels(img, opts.channels ?? img.channels);
  const data = await resizeBytes(quantize(src.data), src, width, height, opts.fit ?? 'cover');
  return { data, width, height, channels: src.channels };
}

export interface Grayscale28Options {
  /** Invert dark-on-light sketches so the digit is white on black like MNIST (default true). */
  invertIfLightBackground?: boolean;
  /**
   * Frame the digit the way MNIST was made (default true): crop to the strokes, fit them in a
   * 20×20 box and put their centre of mass at the centre of the 28×28 image. Off: the whole
   * image is letterboxed into 28×28.
   */
  centerDigit?: boolean;
}

/** Mean of a border ring ~5% of the short side wide: the background of a sketch. */
function borderMean(grey: Float32Array, width: number, height: number): number {
  const ring = Math.max(1, Math.round(Math.min(width, height) * 0.05));
  let sum = 0;
  let n = 0;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (y < ring || y >= height - ring || x < ring || x >= width - ring) {
        sum += grey[y * width + x]!;
        n++;
      }
    }
  }
  return sum / n;
}

/** Pixels brighter than this count as stroke when looking for the digit's bounding box. */
const STROKE_THRESHOLD = 0.1;

/**
 * Turns a user's sketch into a 28×28 white-on-black digit for the MNIST flow model.
 * Light backgrounds are detected from the image border (more robust than the overall mean for
 * a bold digit that fills the frame), and the result is stretched so its brightest pixel is 1,
 * as in MNIST, which keeps thin pen strokes visible after the downscale.
 */
export async function toGrayscale28(img: RasterImage, opts: Grayscale28Options = {}): Promise<RasterImage> {
  checkImageSize('toGrayscale28', img.data.length, img.width, img.height, img.channels);
  const { width, height } = img;
  const grey = convertChannels(img, 1).data.slice();
  if ((opts.invertIfLightBackground ?? true) && borderMean(grey, width, height) > 0.5) {
    for (let i = 0; i < grey.length; i++) grey[i] = 1 - grey[i]!;
  }

  let out: Float32Array;
  const box = (opts.centerDigit ?? true) ? strokeBox(grey, width, height) : undefined;
  if (!box) {
    out = await resizeBytes(quantize(grey), { width, height, channels: 1 }, 28, 28, 'contain');
  } else {
    // Square the crop with black so the digit keeps its aspect ratio inside the 20×20 box.
    const side = Math.max(box.w, box.h);
    const square = new Float32Array(side * side);
    const ox = Math.floor((side - box.w) / 2);
    const oy = Math.floor((side - box.h) / 2);
    for (let y = 0; y < box.h; y++) {
      for (let x = 0; x < box.w; x++) square[(y + oy) * side + x + ox] = grey[(y + box.y) * width + x + box.x]!;
    }
    const digit = await resizeBytes(quantize(square), { width: side, height: side, channels: 1 }, 20, 20, 'fill');
    out = placeByCentreOfMass(digit, 20, 28);
  }

  let max = 0;
  for (const v of out) max = Math.max(max, v);
  if (max > 0) for (let i = 0; i < out.length; i++) out[i] = out[i]! / max;
  return { data: out, width: 28, height: 28, channels: 1 };
}

function strokeBox(
  grey: Float32Array,
  width: number,
  height: number,
): { x: number; y: number; w: number; h: number } | undefined {
  let x0 = width;
  let y0 = height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (grey[y * width + x]! > STROKE_THRESHOLD) {
        x0 = Math.min(x0, x);
        x1 = Math.max(x1, x);
        y0 = Math.min(y0, y);
        y1 = Math.max(y1, y);
      }
    }
  }
  return x1 < 0 ? undefined : { x: x0, y: y0, w: x1 - x0 + 1, h: y1 - y0 + 1 };
}

/** Pastes a side×side patch into an out×out black image with its centre of mass centred. */
function placeByCentreOfMass(patch: Float32Array, side: number, out: number): Float32Array {
  let mass = 0;
  let cx = 0;
  let cy = 0;
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const v = patch[y * side + x]!;
      mass += v;
      cx += v * x;
      cy += v * y;
    }
  }
  const centre = (side - 1) / 2;
  const comX = mass > 0 ? cx / mass : centre;
  const comY = mass > 0 ? cy / mass : centre;
  const maxOffset = out - side;
  const clamp = (v: number) => Math.min(maxOffset, Math.max(0, v));
  const dx = clamp(Math.round((out - 1) / 2 - comX));
  const dy = clamp(Math.round((out - 1) / 2 - comY));
  const result = new Float32Array(out * out);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) result[(y + dy) * out + x + dx] = patch[y * side + x]!;
  }
  return result;
}

/** CHW (engine tensor layout) → HWC (this module's layout). */
export function planarToInterleaved(chw: Float32Array, channels: number, height: number, width: number): Float32Array {
  checkImageSize('planarToInterleaved', chw.length, width, height, channels);
  const n = width * height;
  const out = new Float32Array(chw.length);
  for (let c = 0; c < channels; c++) for (let i = 0; i < n; i++) out[i * channels + c] = chw[c * n + i]!;
  return out;
}

/** HWC → CHW, for feeding an image to a denoiser. */
export function interleavedToPlanar(hwc: Float32Array, channels: number, height: number, width: number): Float32Array {
  checkImageSize('interleavedToPlanar', hwc.length, width, height, channels);
  const n = width * height;
  const out = new Float32Array(hwc.length);
  for (let c = 0; c < channels; c++) for (let i = 0; i < n; i++) out[c * n + i] = hwc[i * channels + c]!;
  return out;
}
