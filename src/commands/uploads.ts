// Uploaded images: checked against the operator's limits from what the platform reports (size, type,
// pixels) before fetching, then decoded (shrunk inside sharp to the working size), re-encoded as PNG
// and stored as an artifact, so the worker only ever reads a PNG this process has already decoded.
import { decodeImage, encodePng, ImageDecodeError } from '../engine/images/encode.js';
import { InputError, type InputErrorCode } from '../engine/errors.js';
import { UPLOAD_WORKING_SIZE } from '../engine/techniques/inputs.js';
import type { Store } from '../store/index.js';
import type { ImageRef, InputLimits } from './command.js';
import type { Attachment } from './contract.js';

/**
 * Uploads decoded at once: each holds the file's bytes and sharp's working memory (libuv has four
 * threads by default), so more would only add memory, not speed.
 */
const MAX_DECODES = 2;

/** At most `n` of the tasks run at once; the others wait in order. */
export function semaphore(n: number): <T>(task: () => Promise<T>) => Promise<T> {
  let running = 0;
  const waiting: Array<() => void> = [];
  return async (task) => {
    if (running >= n) await new Promise<void>((resolve) => waiting.push(resolve));
    else running += 1;
    try {
      return await task();
    } finally {
      const next = waiting.shift();
      if (next) next();
      else running -= 1;
    }
  };
}

export type SaveImage = (attachment: Attachment, option: string) => Promise<ImageRef>;

export function createImageSaver(store: Store, limits: InputLimits): SaveImage {
  const decoding = semaphore(MAX_DECODES);
  const mib = (n: number): string => `${(n / 1024 / 1024).toFixed(1)} MiB`;
  const allowedImage = `an image (PNG, JPEG, WebP, GIF) of at most ${mib(limits.maxUploadBytes)} and ${limits.maxUploadPixels.toLocaleString('en')} pixels`;
  return async (attachment, option) => {
    const allowed = `${option}: ${allowedImage}`;
    if (attachment.size > limits.maxUploadBytes) {
      throw new InputError(
        `${option} (${attachment.name}) is ${mib(attachment.size)}; the limit is ${mib(limits.maxUploadBytes)}`,
        allowed,
        'too-large',
      );
    }
    if (attachment.contentType && !attachment.contentType.startsWith('image/')) {
      throw new InputError(
        `${option} (${attachment.name}) is ${attachment.contentType}, not an image`,
        allowed,
        'not-an-image',
      );
    }
    if (attachment.width && attachment.height && attachment.width * attachment.height > limits.maxUploadPixels) {
      throw new InputError(
        `${option} (${attachment.name}) is ${attachment.width}×${attachment.height} pixels; the limit is ${limits.maxUploadPixels.toLocaleString('en')}`,
        allowed,
        'too-large',
      );
    }
    return decoding(async () => {
      const bytes = await attachment.fetch();
      let raster: Awaited<ReturnType<typeof decodeImage>>;
      try {
        // Shrunk inside sharp: the full-size picture never becomes a JS array on this thread.
        raster = await decodeImage(
          bytes,
          { maxBytes: limits.maxUploadBytes, maxPixels: limits.maxUploadPixels },
          { fitInside: UPLOAD_WORKING_SIZE },
        );
      } catch (error) {
        if (error instanceof ImageDecodeError) {
          const code: InputErrorCode = error.code === 'not-an-image' ? 'not-an-image' : 'too-large';
          throw new InputError(`${option} (${attachment.name}): ${error.message}`, allowed, code);
        }
        throw error;
      }
      const png = await encodePng(raster.data, raster.width, raster.height, raster.channels);
      const artifact = store.artifacts.save(png, 'png');
      return {
        sha256: artifact.sha256,
        path: artifact.path,
        width: raster.width,
        height: raster.height,
        sourceWidth: raster.sourceWidth,
        sourceHeight: raster.sourceHeight,
      };
    });
  };
}
