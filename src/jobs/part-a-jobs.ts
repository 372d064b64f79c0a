// The Part A commands as queued jobs: their parameters as the chat commands and the CLI enqueue them
// (JSON; uploads are stored artifacts), turned into the techniques' jobs, which make the output files.
import { readFileSync } from 'node:fs';
import type { DecodeLimits } from '../engine/images/encode.js';
import { encodePng } from '../engine/images/encode.js';
import { runAnagram } from '../engine/techniques/anagram.js';
import { DENOISE_METHODS, runDenoise, type DenoiseMethod } from '../engine/techniques/denoise.js';
import { runEdit } from '../engine/techniques/edit.js';
import { runHybrid } from '../engine/techniques/hybrid.js';
import { runImagine } from '../engine/techniques/imagine.js';
import { runInpaint } from '../engine/techniques/inpaint.js';
import type { Box, ImageSource, MaskSource } from '../engine/techniques/inputs.js';
import { neutralPrompt, type LoadedModel, type ModelId } from '../engine/techniques/models.js';
import type { RunOptions, TechniqueResult } from '../engine/techniques/outputs.js';
import { timestepsForSteps } from '../engine/techniques/timesteps.js';

export const PART_A_COMMANDS = ['imagine', 'denoise', 'edit', 'inpaint', 'anagram', 'hybrid'] as const;
export type PartACommand = (typeof PART_A_COMMANDS)[number];

export function isPartACommand(command: string): command is PartACommand {
  return (PART_A_COMMANDS as readonly string[]).includes(command);
}

/** An uploaded image kept in the store (the commands layer's ImageRef): a PNG the front end has checked. */
export interface StoredImage {
  readonly path: string;
  readonly width: number;
  readonly height: number;
  /** What the user called it (the CLI's file path), for messages and job.json. */
  readonly name?: string | undefined;
}

export interface PartAParams {
  readonly model: ModelId;
  /** mnist-flow: the checkpoint file, resolved when the job was enqueued (so a rerun uses the same one). */
  readonly checkpointPath?: string | undefined;
  readonly steps: number;
  readonly guidance: number;
}

/** The input picture: an upload, or (mnist-flow) a digit of the embedded MNIST set. */
export interface InputParams {
  readonly image?: StoredImage | undefined;
  readonly digitIndex?: number | undefined;
}

export interface ImagineParams extends PartAParams { readonly prompt: string; readonly count: number }

/** Chat gives one i_start (t = timesteps[iStart]); the CLI gives noise levels `ts` and methods. */
export interface DenoiseParams extends PartAParams, InputParams {
  readonly prompt: string;
  readonly iStart?: number | undefined;
  readonly ts?: readonly number[] | undefined;
  readonly methods?: readonly DenoiseMethod[] | undefined;
}

export interface EditParams extends PartAParams, InputParams { readonly prompt: string; readonly iStarts: readonly number[] }

/** The region: a mask upload, a box in the upload's pixels (chat), or a box in the model's pixels (CLI). */
export interface InpaintParams extends PartAParams, InputParams {
  readonly prompt: string;
  readonly mask?: StoredImage | undefined;
  readonly box?: Box | undefined;
  readonly modelBox?: Box | undefined;
}

/** `views` may start with 'identity' (as chat lists them, one per prompt). */
export interface AnagramParams extends PartAParams { readonly prompts: readonly string[]; readonly views: readonly string[]; readonly maxDisp?: number | undefined }

export interface HybridParams extends PartAParams { readonly far: string; readonly near: string; readonly sigma?: number | undefined }

/** Stored uploads were checked by the front end against its configured limits; these only guard against a swapped file. */
const STORED_LIMITS: DecodeLimits = { maxBytes: 512 * 1024 * 1024, maxPixels: 268_435_456 };

function readStored(ref: StoredImage, name: string): { bytes: Buffer; name: string; limits: DecodeLimits } {
  return { bytes: readFileSync(ref.path), name: ref.name ?? name, limits: STORED_LIMITS };
}

function imageSource(p: InputParams): ImageSource {
  if (p.image) return readStored(p.image, 'image');
  if (p.digitIndex !== undefined) return { digitIndex: p.digitIndex };
  throw new RangeError('a Part A job with an input needs image or digitIndex');
}

/** A box in the upload's pixels as a mask image of the upload's size, so it is fitted exactly like the upload. */
async function uploadBoxMask(image: StoredImage, box: Box): Promise<MaskSource> {
  const data = new Float32Array(image.width * image.height);
  for (let y = box.y; y < Math.min(image.height, box.y + box.height); y++) data.fill(1, y * image.width + box.x, y * image.width + Math.min(image.width, box.x + box.width));
  return { bytes: await encodePng(data, image.width, image.height, 1), name: 'box', limits: STORED_LIMITS };
}

async function maskSource(p: InpaintParams): Promise<MaskSource> {
  if (p.modelBox) return { box: p.modelBox };
  if (p.mask) return readStored(p.mask, 'mask');
  if (p.box && p.image) return uploadBoxMask(p.image, p.box);
  throw new RangeError('an inpaint job needs mask, box (with image) or modelBox');
}

/** Runs a Part A job on a loaded model: the technique's named files and its job record. */
export async function runPartAJob(command: PartACommand, params: unknown, seed: number, model: LoadedModel, opts: RunOptions = {}): Promise<TechniqueResult> {
  switch (command) {
    case 'imagine': {
      const p = params as ImagineParams;
      return runImagine(model, { prompt: p.prompt, steps: p.steps, guidance: p.guidance, count: p.count, seed }, opts);
    }
    case 'denoise': {
      const p = params as DenoiseParams;
      const ts = p.ts ?? [timestepsForSteps(p.steps)[p.iStart ?? 0]!];
      return runDenoise(model, { image: imageSource(p), ts: [...ts], methods: [...(p.methods ?? DENOISE_METHODS)], prompt: p.prompt || neutralPrompt(p.model), steps: p.steps, seed }, opts);
    }
    case 'edit': {
      const p = params as EditParams;
      return runEdit(model, { image: imageSource(p), iStarts: [...p.iStarts], prompt: p.prompt, steps: p.steps, guidance: p.guidance, seed }, opts);
    }
    case 'inpaint': {
      const p = params as InpaintParams;
      return runInpaint(model, { image: imageSource(p), mask: await maskSource(p), prompt: p.prompt, steps: p.steps, guidance: p.guidance, seed }, opts);
    }
    case 'anagram': {
      const p = params as AnagramParams;
      const views = p.views[0] === 'identity' && p.views.length === p.prompts.length ? p.views.slice(1) : p.views;
      return runAnagram(model, { prompts: [...p.prompts], views: [...views], ...(p.maxDisp !== undefined ? { maxDisp: p.maxDisp } : {}), steps: p.steps, guidance: p.guidance, seed }, opts);
    }
    case 'hybrid': {
      const p = params as HybridParams;
      return runHybrid(model, { far: p.far, near: p.near, ...(p.sigma !== undefined ? { sigma: p.sigma } : {}), steps: p.steps, guidance: p.guidance, seed }, opts);
    }
  }
}
