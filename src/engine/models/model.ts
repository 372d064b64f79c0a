// What the engine and the front ends know about a Part A denoiser before loading it: one entry per
// model (its shape, prompts, defaults, what it supports, how to find and load it), listed in registry.ts.
import type { EmbeddingCache } from '../denoisers/deepfloyd-if.js';
import type { Denoiser } from '../denoisers/denoiser.js';

/** [channels, height, width] of the model's images. */
export type ImageShape = readonly [c: number, h: number, w: number];

export interface LoadedModel {
  readonly id: string;
  readonly entry: ModelEntry;
  readonly denoiser: Denoiser;
  /** The checkpoint file or model folder, recorded in job.json. */
  readonly source: string;
  dispose(): Promise<void>;
}

export interface LocateOptions {
  /** Models with checkpoints: committed model name, .safetensors file or training run folder (default: the committed model). */
  readonly checkpoint?: string | undefined;
  /** Models read from a folder: the folder (default under modelsDir()). */
  readonly dir?: string | undefined;
}

export interface LoadOptions extends LocateOptions {
  /** Text models: where prompt embeddings persist between jobs; asked for only by models that encode text. */
  readonly embeddingCache?: (() => EmbeddingCache) | undefined;
}

export interface ModelEntry {
  readonly id: string;
  /** One line for help texts. */
  readonly description: string;
  /** Image shape, known before loading (boxes, sizes and views are checked against it early). */
  readonly shape: ImageShape;
  /** 'digit': prompts are digits ("7", "seven"; "" = the null class); 'text': free text for a text encoder. */
  readonly prompts: 'digit' | 'text';
  /** Throws an InputError naming `option` when the model cannot take `prompt`. */
  checkPrompt(prompt: string, option: string): void;
  /** Prompt for "no particular content", the default of edit, inpaint and denoise. */
  readonly neutralPrompt: string;
  /** Classifier-free guidance scale γ when none is given. */
  readonly defaultGuidance: number;
  readonly supports: {
    /** A second, upscaling stage the folder may hold. */
    readonly stageII: boolean;
    /** A negative prompt in place of the unconditional one (text models). */
    readonly negativePrompt: boolean;
    /** Weights are Part B class checkpoints (the store's 'mnist-class' kind): `checkpoint` picks one. */
    readonly checkpoints: boolean;
    /** Inputs may be digits of the embedded MNIST set (`digitIndex`) instead of an upload. */
    readonly digitInputs: boolean;
  };
  /** Whether its files are on this machine (default location), without loading anything. */
  installed(opts?: LocateOptions): boolean;
  /**
   * Checks the model is there without loading it and resolves what to load (the checkpoint file, or
   * the folder), absolute, so a queued job names exactly what it ran on. Throws an InputError saying
   * how to get the model.
   */
  locate(opts?: LocateOptions): string;
  /** Loads it; a missing model is an InputError that says how to get one. */
  load(opts?: LoadOptions): Promise<LoadedModel>;
}

/** Keeps the entry's literal id in its type, so the registry can derive ModelId. */
export function defineModel<const Id extends string>(
  entry: ModelEntry & { readonly id: Id },
): ModelEntry & { readonly id: Id } {
  return entry;
}
