// inpaint: repaint part of the input (write-up A.1.7.2): the region is a mask image (white = repaint)
// or a box "x,y,width,height" in the input image's pixels, for chat and the CLI alike.
import { InputError } from '../engine/errors.js';
import type { Box } from '../engine/techniques/inputs.js';
import { samplerFor } from '../engine/techniques/timesteps.js';
import type { InpaintParams } from '../jobs/technique-jobs.js';
import {
  checkPrompts,
  commonParams,
  thresholdingOption,
  guidanceOption,
  modelOption,
  promptOption,
  seedOption,
  stepsOption,
} from './common.js';
import { text, type TechniqueOption } from './options.js';
import { defineTechnique } from './technique.js';

export const BOX_HELP =
  'box: "x,y,width,height" in pixels of your image (0,0 top-left), e.g. "8,8,12,12"; or a mask image (white = repaint)';

const image: TechniqueOption = { name: 'image', kind: 'image', required: true, help: 'the image to repaint part of' };
const mask: TechniqueOption = { name: 'mask', kind: 'image', help: 'same-shaped image, white where to repaint' };
const box: TechniqueOption = {
  name: 'box',
  kind: 'string',
  maxLength: 64,
  help: 'region to repaint: "x,y,width,height" in pixels of your image',
};
const prompt = promptOption('prompt', 'what to paint there (mnist-flow: a digit)', false, true);

/** "x,y,width,height" (commas or spaces) in the input image's pixels, 0,0 top-left. */
export function parseBox(textValue: string): Box {
  const parts = textValue.split(/[\s,]+/).filter(Boolean);
  if (parts.length !== 4 || !parts.every((p) => /^\d+$/.test(p))) {
    throw new InputError(
      `box "${textValue}" is not four whole numbers: give four non-negative integers x,y,width,height`,
      BOX_HELP,
    );
  }
  const [x, y, width, height] = parts.map(Number) as [number, number, number, number];
  return { x, y, width, height };
}

/** Refuses a box that is empty or reaches outside the width × height input. */
export function checkBoxFits(b: Box, width: number, height: number): void {
  if (b.width < 1 || b.height < 1 || b.x + b.width > width || b.y + b.height > height) {
    throw new InputError(
      `box ${b.x},${b.y},${b.width},${b.height} does not fit inside your ${width}×${height} image`,
      BOX_HELP,
    );
  }
}

export const inpaint = defineTechnique<InpaintParams>({
  name: 'inpaint',
  description: 'repaint a region of your image: give a mask image or a box',
  options: [image, mask, box, prompt, modelOption, guidanceOption, stepsOption, thresholdingOption, seedOption],
  variations: true,
  describeKeys: ['prompt', 'box', 'model', 'steps', 'guidance'],
  normalize(values, model) {
    const hasMask = values[mask.name] !== undefined;
    const boxText = text(values, box, model);
    if (!hasMask && boxText === undefined)
      throw new InputError('/inpaint needs the region to repaint', BOX_HELP, 'missing-option');
    if (hasMask && boxText !== undefined) throw new InputError('give either mask or box, not both', BOX_HELP);
    const p = text(values, prompt, model)!;
    checkPrompts(model, [['prompt', p]]);
    const params = {
      ...commonParams(values, model, true),
      prompt: p,
      ...(boxText !== undefined ? { box: parseBox(boxText) } : {}),
    } as InpaintParams;
    samplerFor(params.steps, params.thresholding);
    // The mask image is checked where it is read: withInputs (size) and the worker (it has white).
    return params;
  },
});
