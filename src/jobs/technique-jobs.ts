// The Part A commands as queued jobs: their parameters in the one shape both front ends enqueue
// (JSON; uploads are stored artifacts), run as the techniques' jobs, which make the output files.
import { readFileSync } from 'node:fs';
import type { DecodeLimits } from '../engine/images/encode.js';
import { encodePng } from '../engine/images/encode.js';
import { runAnagram } from '../engine/techniques/anagram.js';
import { runDenoise, type DenoiseMethod } from '../engine/techniques/denoise.js';
import { runEdit } from '../engine/techniques/edit.js';
import { runHybrid } from '../engine/techniques/hybrid.js';
import { runImagine } from '../engine/techniques/imagine.js';
import { runInpaint } from '../engine/techniques/inpaint.js';
import type { Box, ImageSource, MaskSource } from '../engine/techniques/inputs.js';
import type { LoadedModel, ModelId } from '../engine/models/registry.js';
import type { RunOptions, TechniqueResult } from '../engine/techniques/outputs.js';
import type { ThresholdingMode } from '../engine/sampling/thresholding.js';

export const TECHNIQUE_NAMES = ['imagine', 'denoise', 'edit', 'inpaint', 'anagram', 'hybrid'] as const;
export type TechniqueName = (typeof TECHNIQUE_NAMES)[number];

export function isTechniqueName(command: string): command is TechniqueName {
  return (TECHNIQUE_NAMES as readonly string[]).includes(command);
}

/** An uploaded image kept in the store (the commands layer's ImageRef): a PNG the front end has checked. */
export interface StoredImage {
  readonly path: string;
  readonly width: number;
  readonly height: number;
  /** The size before it was shrunk for storing (uploads are kept at most UPLOAD_WORKING_SIZE a side). */
  readonly sourceWidth?: number | undefined;
  readonly sourceHeight?: number | undefined;
  /** What the user called it (the CLI's file path), for messages and job.json. */
  readonly name?: string | undefined;
}

/**
 * The one shape of a Part A job's parameters, as src/techniques' normalize makes them when the job is
 * enqueued (chat and CLI alike); the worker runs them as they are.
 */
export interface TechniqueParams {
  readonly model: ModelId;
  /** Models with checkpoints: the checkpoint file, resolved when the job was enqueued (so a rerun uses the same one). */
  readonly checkpointPath?: string | undefined;
  /** Its name in the store, for captions (chat). */
  readonly checkpoint?: string | undefined;
  readonly steps: number;
  /** Guided techniques (all but denoise). */
  readonly guidance?: number | undefined;
  /** 'dynamic' | 'clip': diffusers' IF scheduler (engine/techniques/timesteps.ts samplerFor); absent: the write-up's loop. */
  readonly thresholding?: ThresholdingMode | undefined;
  /** CLI --noise: the recorded noise file replayed instead of the seed's draws (absolute path). */
  readonly noise?: string | undefined;
}

/** The sampler settings every guided technique passes through (only those given). */
function sampling(p: TechniqueParams): { thresholding?: ThresholdingMode; noise?: string } {
  return {
    ...(p.thresholding !== undefined ? { thresholding: p.thresholding } : {}),
    ...(p.noise !== undefined ? { noise: p.noise } : {}),
  };
}

/** The input picture: an upload, or (models with digit inputs) a digit of the embedded MNIST set. */
export interface InputParams {
  readonly image?: StoredImage | undefined;
  readonly digitIndex?: number | undefined;
}

export interface ImagineParams extends TechniqueParams {
  readonly prompt: string;
  readonly count: number;
  readonly guidance: number;
}

/** The input noised to each t in `ts`, then denoised by each method. */
export interface DenoiseParams extends TechniqueParams, InputParams {
  readonly prompt: string;
  readonly ts: readonly number[];
  readonly methods: readonly DenoiseMethod[];
}

export interface EditParams extends TechniqueParams, InputParams {
  readonly prompt: string;
  readonly iStarts: readonly number[];
  readonly guidance: number;
}

/** The region: a mask upload (white = repaint), or a box in the input image's pixels. */
export interface InpaintParams extends TechniqueParams, InputParams {
  readonly prompt: string;
  readonly guidance: number;
  readonly mask?: StoredImage | undefined;
  readonly box?: Box | undefined;
}

/** `views`: the view of each prompt after the first (which is seen as it is). */
export interface AnagramParams extends TechniqueParams {
  readonly prompts: readonly string[];
  readonly views: readonly string[];
  readonly maxDisp?: number | undefined;
  readonly guidance: number;
}

export interface HybridParams extends TechniqueParams {
  readonly far: string;
  readonly near: string;
  readonly sigma?: number | undefined;
  readonly guidance: number;
}

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
  for (let y = box.y; y < Math.min(image.height, box.y + box.height); y++)
    data.fill(1, y * image.width + box.x, y * image.width + Math.min(image.width, box.x + box.width));
  return { bytes: await encodePng(data, image.width, image.height, 1), name: 'box', limits: STORED_LIMITS };
}

/** An embedded digit is already in the model's pixels, so its box is the model's box. */
async function maskSource(p: InpaintParams): Promise<MaskSource> {
  if (p.mask) return readStored(p.mask, 'mask');
  if (p.box && p.image) return uploadBoxMask(p.image, p.box);
  if (p.box && p.digitIndex !== undefined) return { box: p.box };
  throw new RangeError('an inpaint job needs mask, or box with image or digitIndex');
}

/** Runs a Part A job on a loaded model: the technique's named files and its job record. */
export async function runTechniqueJob(
  command: TechniqueName,
  params: unknown,
  seed: number,
  model: LoadedModel,
  opts: RunOptions = {},
): Promise<TechniqueResult> {
  switch (command) {
    case 'imagine': {
      const p = params as ImagineParams;
      return runImagine(
        model,
        { prompt: p.prompt, steps: p.steps, guidance: p.guidance, count: p.count, seed, ...sampling(p) },
        opts,
      );
    }
    case 'denoise': {
      const p = params as DenoiseParams;
      if (!Array.isArray(p.ts) || !Array.isArray(p.methods))
        throw new RangeError(
          'a denoise job needs ts and methods; a job queued in the older shape (iStart) must be asked for again',
        );
      return runDenoise(
        model,
        { image: imageSource(p), ts: [...p.ts], methods: [...p.methods], prompt: p.prompt, steps: p.steps, seed },
        opts,
      );
    }
    case 'edit': {
      const p = params as EditParams;
      return runEdit(
        model,
        {
          image: imageSource(p),
          iStarts: [...p.iStarts],
          prompt: p.prompt,
          steps: p.steps,
          guidance: p.guidance,
          seed,
          ...sampling(p),
        },
        opts,
      );
    }
    case 'inpaint': {
      const p = params as InpaintParams;
      return runInpaint(
        model,
        {
          image: imageSource(p),
          mask: await maskSource(p),
          prompt: p.prompt,
          steps: p.steps,
          guidance: p.guidance,
          seed,
          ...sampling(p),
        },
        opts,
      );
    }
    case 'anagram': {
      const p = params as AnagramParams;
      return runAnagram(
        model,
        {
          prompts: [...p.prompts],
          views: [...p.views],
          ...(p.maxDisp !== undefined ? { maxDisp: p.maxDisp } : {}),
          steps: p.steps,
          guidance: p.guidance,
          seed,
          ...sampling(p),
        },
        opts,
      );
    }
    case 'hybrid': {
      const p = params as HybridParams;
      return runHybrid(
        model,
        {
          far: p.far,
          near: p.near,
          ...(p.sigma !== undefined ? { sigma: p.sigma } : {}),
          steps: p.steps,
          guidance: p.guidance,
          seed,
          ...sampling(p),
        },
        opts,
      );
    }
  }
}
