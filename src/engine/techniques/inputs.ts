// Turns what a user uploads into the denoiser's input: images decoded under size limits to 28×28
// white-on-black digits or 64×64 RGB, masks from a mask image (white = repaint) or a box, demo digits.
import { loadEmbeddedMnist } from '../data/mnist.js';
import { DIGIT_PIXELS } from '../data/dataset.js';
import {
  decodeImage,
  ImageDecodeError,
  interleavedToPlanar,
  resizeTo,
  toGrayscale28,
  type DecodedImage,
  type DecodeLimits,
  type DecodeOptions,
} from '../images/encode.js';
import { boxMask } from '../sampling/inpaint.js';
import { tensor, type Tensor } from '../tensor.js';
import { InputError } from '../errors.js';

/**
 * What one upload may be, for the bot (whose operator may change them: MAX_UPLOAD_BYTES,
 * MAX_UPLOAD_PIXELS) and the CLI alike: 8 MiB and 4096 × 4096 pixels. Every image is fitted to 28 or
 * 64 px, so a larger one would only cost memory to decode.
 */
export const UPLOAD_LIMITS: DecodeLimits = { maxBytes: 8 * 1024 * 1024, maxPixels: 4096 * 4096 };

/**
 * An uploaded file, or (digit model only) a digit of the embedded MNIST set, handy for demos. `limits`
 * replaces UPLOAD_LIMITS for files a front end has already checked against its own (configured) limits.
 */
export type ImageSource = { bytes: Buffer; name?: string; limits?: DecodeLimits } | { digitIndex: number };

export interface PreparedImage {
  /** [1, c, h, w] in [−1, 1]. */
  x: Tensor;
  /** What it came from, for job.json. */
  description: string;
}

const toSigned = (v: number): number => 2 * v - 1;

/**
 * The longest side an upload is kept at by the bot: four times the largest model input (64 px),
 * so cropping, fitting and digit centring still work from detail, while a 4096×4096 photo costs
 * the process a 256×256 raster instead of a 200 MB one.
 */
export const UPLOAD_WORKING_SIZE = 256;

/** Decodes an upload under `limits`; an unreadable or oversized file is an InputError naming it. */
export async function decodeUpload(
  bytes: Buffer,
  name: string,
  limits: DecodeLimits = UPLOAD_LIMITS,
  opts: DecodeOptions = {},
): Promise<DecodedImage> {
  try {
    return await decodeImage(bytes, limits, opts);
  } catch (err) {
    if (err instanceof ImageDecodeError) throw new InputError(`${name}: ${err.message}`);
    throw err;
  }
}

export interface PrepareImageOptions {
  /**
   * Re-centre a drawn digit like MNIST (default true). Inpainting turns it off so that a mask drawn on
   * the upload still covers the same pixels (the digit is then fitted whole, 'contain').
   */
  centerDigit?: boolean;
}

/** The image in the denoiser's shape [c, h, w] (1×28×28: a white-on-black digit, centred by default; 3×64×64: RGB, centre-cropped). */
export async function prepareImage(
  source: ImageSource,
  shape: readonly [number, number, number],
  opts: PrepareImageOptions = {},
): Promise<PreparedImage> {
  const [c, h, w] = shape;
  if ('digitIndex' in source) {
    const data = loadEmbeddedMnist();
    const i = source.digitIndex;
    if (c !== 1 || h !== 28 || w !== 28)
      throw new InputError(
        '--digit-index picks an MNIST digit, which only the mnist-flow model draws; send an image (--image) instead',
      );
    if (!Number.isInteger(i) || i < 0 || i >= data.count)
      throw new InputError(`--digit-index must be an integer from 0 to ${data.count - 1}, got ${i}`);
    const x = Float32Array.from(data.images.subarray(i * DIGIT_PIXELS, (i + 1) * DIGIT_PIXELS), toSigned);
    return { x: tensor([1, 1, 28, 28], x), description: `embedded MNIST digit #${i} (a ${data.labels[i]})` };
  }
  const name = source.name ?? 'image';
  const img = await decodeUpload(source.bytes, name, source.limits);
  const fitted = isDigitShape(shape)
    ? await toGrayscale28(img, { centerDigit: opts.centerDigit ?? true })
    : await resizeTo(img, w, h, { channels: c === 1 ? 1 : 3 });
  const planar = interleavedToPlanar(fitted.data, fitted.channels, h, w).map(toSigned);
  return { x: tensor([1, c, h, w], planar), description: `${name} (${img.width}×${img.height})` };
}

export interface Box {
  x: number;
  y: number;
  width: number;
  height: number;
}

export type MaskSource = { box: Box } | { bytes: Buffer; name?: string; limits?: DecodeLimits };

function isDigitShape(shape: readonly [number, number, number]): boolean {
  return shape[0] === 1 && shape[1] === 28 && shape[2] === 28;
}

/**
 * The repaint mask [1, 1, h, w]: 1 where the mask image is light (white = regenerate), 0 elsewhere.
 * The mask image is fitted like an uploaded image with `centerDigit: false` (a digit whole, RGB centre-cropped),
 * so a mask of the upload's size lines up with it.
 */
export async function prepareMask(source: MaskSource, shape: readonly [number, number, number]): Promise<Tensor> {
  const [, h, w] = shape;
  if ('box' in source) return boxMask(h, w, source.box);
  const name = source.name ?? 'mask';
  const img = await decodeUpload(source.bytes, name, source.limits);
  const small = await resizeTo(img, w, h, { channels: 1, fit: isDigitShape(shape) ? 'contain' : 'cover' });
  const m = Float32Array.from(small.data, (v) => (v >= 0.5 ? 1 : 0));
  if (!m.includes(1))
    throw new InputError(
      `${name}: the mask has no white pixels, so nothing would be repainted (white = regenerate, black = keep)`,
    );
  return tensor([1, 1, h, w], m);
}
