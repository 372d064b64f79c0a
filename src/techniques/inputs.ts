// The uploads a Part A job reads, added to its parameters once the front end has stored them: the
// input picture (or, for models with digit inputs, a digit of the embedded MNIST set) and the mask.
import { InputError } from '../engine/techniques/errors.js';
import type { ModelEntry } from '../engine/models/registry.js';
import type { InpaintParams, PartAParams, StoredImage } from '../jobs/part-a-jobs.js';
import { checkBoxFits } from './inpaint.js';
import type { Technique } from './technique.js';

export interface TechniqueInputs {
  readonly image?: StoredImage | { readonly digitIndex: number } | undefined;
  readonly mask?: StoredImage | undefined;
}

/** Whether the technique reads an input picture (its options hold an 'image' named image). */
export function takesImage(technique: Technique): boolean {
  return technique.options.some((o) => o.kind === 'image' && o.name === 'image');
}

/** The parameters with the inputs in their one place; checks a box against the input's size. */
export function withInputs<P extends PartAParams>(technique: Technique<P>, params: P, model: ModelEntry, inputs: TechniqueInputs): P {
  if (!takesImage(technique)) return params;
  const { image, mask } = inputs;
  if (!image) throw new InputError(`/${technique.name} needs image: the picture to start from`, 'image: an uploaded image', 'missing-option');
  let size: { width: number; height: number };
  let input: Record<string, unknown>;
  if ('digitIndex' in image) {
    if (!model.supports.digitInputs) throw new InputError(`${model.id} does not take embedded MNIST digits as input`, 'send an image instead');
    size = { width: model.shape[2], height: model.shape[1] };
    input = { digitIndex: image.digitIndex };
  } else {
    size = image;
    input = { image };
  }
  const box = (params as Partial<InpaintParams>).box;
  if (box) checkBoxFits(box, size.width, size.height);
  return { ...params, ...input, ...(mask ? { mask } : {}) };
}
