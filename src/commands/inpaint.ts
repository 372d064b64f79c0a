// /inpaint: repaint part of an uploaded image (seed A.1.7.2): the region is a mask image (white =
// repaint) or a box "x,y,width,height" in the uploaded image's pixels.
import { describeParams, doubleSteps, guidanceOption, modelOption, promptOption, seedOption, stepsOption, type ImageRef, type JobCommand } from './command.js';
import { CommandError } from './errors.js';
import { file, str } from './options.js';
import { partADescribeKeys, planPartA, PROMPT_CEILING } from './part-a.js';

const BOX_HELP = 'box: "x,y,width,height" in pixels of your image, e.g. "8,8,12,12"; or a mask image (white = repaint)';

type Box = { x: number; y: number; width: number; height: number };

export function parseBox(text: string, width: number, height: number): Box {
  const parts = text.split(/[\s,]+/).filter(Boolean).map(Number);
  if (parts.length !== 4 || !parts.every((v) => Number.isInteger(v) && v >= 0)) {
    throw new CommandError('invalid-option', `box "${text}" is not four whole numbers`, BOX_HELP);
  }
  const [x, y, w, h] = parts as [number, number, number, number];
  if (w < 1 || h < 1 || x + w > width || y + h > height) {
    throw new CommandError('invalid-option', `box ${x},${y},${w},${h} does not fit inside your ${width}×${height} image`, BOX_HELP);
  }
  return { x, y, width: w, height: h };
}

/** A box in the upload's pixels in the stored (shrunk) image's pixels, covering at least the same area. */
export function scaleBox(box: Box, image: ImageRef): Box {
  const sx = image.width / image.sourceWidth;
  const sy = image.height / image.sourceHeight;
  const x = Math.min(image.width - 1, Math.floor(box.x * sx));
  const y = Math.min(image.height - 1, Math.floor(box.y * sy));
  const right = Math.min(image.width, Math.max(x + 1, Math.ceil((box.x + box.width) * sx)));
  const bottom = Math.min(image.height, Math.max(y + 1, Math.ceil((box.y + box.height) * sy)));
  return { x, y, width: right - x, height: bottom - y };
}

export const command: JobCommand = {
  definition: {
    name: 'inpaint',
    description: 'repaint a region of your image: give a mask image or a box',
    replies: 'public',
    options: [
      { name: 'image', type: 'attachment', description: 'the image to repaint part of', required: true },
      { name: 'mask', type: 'attachment', description: 'same-shaped image, white where to repaint' },
      { name: 'box', type: 'string', description: 'region to repaint: "x,y,width,height" in pixels', maxLength: 64 },
      promptOption('prompt', 'what to paint there (mnist-flow: a digit)', false, PROMPT_CEILING),
      modelOption,
      guidanceOption,
      stepsOption,
      seedOption,
    ],
  },
  promptOptions: ['prompt'],
  variations: true,
  async parse(options, ctx) {
    const mask = file(options, 'mask');
    const boxText = str(options, 'box');
    if (!mask && !boxText) throw new CommandError('missing-option', '/inpaint needs the region to repaint', BOX_HELP);
    if (mask && boxText) throw new CommandError('invalid-option', 'give either mask or box, not both', BOX_HELP);
    const prompt = str(options, 'prompt') ?? '';
    const plan = planPartA(options, ctx, prompt ? [['prompt', prompt]] : [], { prompt });
    const image = await ctx.saveImage(file(options, 'image')!, 'image');
    const region = mask ? { mask: await ctx.saveImage(mask, 'mask') } : { box: scaleBox(parseBox(boxText!, image.sourceWidth, image.sourceHeight), image) };
    return { ...plan, params: { ...plan.params, image, ...region } };
  },
  describe: (p) => describeParams(p, ['prompt', ...partADescribeKeys]),
  moreSteps: (p) => doubleSteps(p),
};
