// The uploads a Part A job reads, added to its parameters once the front end has stored them: the
// input picture (or, for models with digit inputs, a digit of the embedded MNIST set) and the mask.
import { InputError } from '../engine/errors.js';
import type { Box } from '../engine/techniques/inputs.js';
import type { ModelEntry } from '../engine/models/registry.js';
import type { InpaintParams, TechniqueParams, StoredImage } from '../jobs/technique-jobs.js';
import { checkBoxFits } from './inpaint.js';
import type { Technique } from './technique.js';

export interface TechniqueInputs {
  readonly image?: StoredImage | { readonly digitIndex: number } | undefined;
  readonly mask?: StoredImage | undefined;
}

/** A box in a from-sized picture in the pixels of its to-sized copy, covering at least the same area. */
export function scaleBox(
  box: Box,
  from: { width: number; height: number },
  to: { width: number; height: number },
): Box {
  if (from.width === to.width && from.height === to.height) return box;
  const sx = to.width / from.width;
  const sy = to.height / from.height;
  const x = Math.min(to.width - 1, Math.floor(box.x * sx));
  const y = Math.min(to.height - 1, Math.floor(box.y * sy));
  const right = Math.min(to.width, Math.max(x + 1, Math.ceil((box.x + box.width) * sx)));
  const bottom = Math.min(to.height, Math.max(y + 1, Math.ceil((box.y + box.height) * sy)));
  return { x, y, width: right - x, height: bottom - y };
}

/** Whether the technique reads an input picture (its options hold an 'image' named image). */
export function takesImage(technique: Technique): boolean {
  return technique.options.some((o) => o.kind === 'image' && o.name === 'image');
}

/** The parameters with the inputs in their one place; checks a box against the input's size. */
export function withInputs<P extends TechniqueParams>(
  technique: Technique<P>,
  params: P,
  model: ModelEntry,
  inputs: TechniqueInputs,
): P {
  if (!takesImage(technique)) return params;
  const { image, mask } = inputs;
  if (!image)
    throw new InputError(
      `/${technique.name} needs image: the picture to start from`,
      'image: an uploaded image',
      'missing-option',
    );
  let size: { width: number; height: number };
  let input: Record<string, unknown>;
  if ('digitIndex' in image) {
    if (!model.supports.digitInputs)
      throw new InputError(`${model.id} does not take embedded MNIST digits as input`, 'send an image instead');
    size = { width: model.shape[2], height: model.shape[1] };
    input = { digitIndex: image.digitIndex };
  } else {
    size = { width: image.sourceWidth ?? image.width, height: image.sourceHeight ?? image.height };
    input = { image };
  }
  const box = (params as Partial<InpaintParams>).box;
  if (!box) return { ...params, ...input, ...(mask ? { mask } : {}) };
  // The box is given in the picture's own pixels and kept in the stored (possibly shrunk) one's.
  checkBoxFits(box, size.width, size.height);
  const stored = 'digitIndex' in image ? box : scaleBox(box, size, image);
  return { ...params, ...input, box: stored, ...(mask ? { mask } : {}) };
}
