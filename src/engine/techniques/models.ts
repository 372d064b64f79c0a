// Which denoiser a job runs on (`--model`): the project's MNIST flow model or DeepFloyd IF stage I from
// modelsDir()/deepfloyd-if, with the facts the techniques need (image shape, neutral prompt).
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { DeepFloydIF, DEEPFLOYD_FILES, EXPORT_HINT, type EmbeddingCache } from '../denoisers/deepfloyd-if.js';
import type { Denoiser } from '../denoisers/denoiser.js';
import { parseDigitPrompt } from '../denoisers/mnist-flow.js';
import { loadMnistFlowDenoiser } from '../denoisers/mnist-flow-onnx.js';
import { CheckpointNotFoundError, resolveCheckpoint } from '../flow/checkpoints.js';
import { modelsDir } from '../paths.js';
import { MissingModelError } from '../runtime/onnx.js';
import { NEUTRAL_PROMPT } from '../sampling/one-step.js';
import { InputError } from './errors.js';

export const MODEL_IDS = ['mnist-flow', 'deepfloyd-if'] as const;
export type ModelId = (typeof MODEL_IDS)[number];

/** Image shape [c, h, w] of each model, known before loading it (to validate boxes and sizes early). */
export const MODEL_SHAPES: Record<ModelId, readonly [number, number, number]> = {
  'mnist-flow': [1, 28, 28],
  'deepfloyd-if': [3, 64, 64],
};

/** Prompt for "no particular content": the seed's neutral prompt for IF, the null class for digits. */
export function neutralPrompt(model: ModelId): string {
  return model === 'mnist-flow' ? '' : NEUTRAL_PROMPT;
}

export function parseModelId(name: string): ModelId {
  if (!(MODEL_IDS as readonly string[]).includes(name)) throw new InputError(`unknown model "${name}"; allowed: ${MODEL_IDS.join(', ')}`);
  return name as ModelId;
}

const MAX_PROMPT_LENGTH = 500;

/** Checks a prompt before any model is loaded; `what` names the option in the message (e.g. "--prompt1"). */
export function checkPrompt(model: ModelId, prompt: string, what = 'prompt'): void {
  if (model === 'mnist-flow') {
    try {
      parseDigitPrompt(prompt);
    } catch (err) {
      throw new InputError(`${what}: ${(err as Error).message}`);
    }
  } else if (prompt.length > MAX_PROMPT_LENGTH) {
    throw new InputError(`${what} is ${prompt.length} characters; the limit is ${MAX_PROMPT_LENGTH} (T5 reads 77 tokens)`);
  }
}

export interface LoadedModel {
  id: ModelId;
  denoiser: Denoiser;
  /** The checkpoint file or model folder, recorded in job.json. */
  source: string;
  dispose(): Promise<void>;
}

export interface LoadModelOptions {
  /** mnist-flow: committed model name, .safetensors file or run folder (default the committed class model). */
  checkpoint?: string;
  /** deepfloyd-if: the export folder (default modelsDir()/deepfloyd-if). */
  deepfloydDir?: string;
  /** deepfloyd-if: where prompt embeddings are kept between runs (T5 runs once per prompt). */
  embeddingCache?: EmbeddingCache;
}

export function deepfloydDir(): string {
  return join(modelsDir(), 'deepfloyd-if');
}

/**
 * Checks that the model is there without loading it, and resolves what to load: for mnist-flow the
 * checkpoint file (so a queued job names the exact file), for deepfloyd-if its folder. Throws the
 * InputErrors loadModel would, saying how to get the model.
 */
export function locateModel(id: ModelId, opts: LoadModelOptions = {}): string {
  if (id === 'mnist-flow') {
    let found;
    try {
      found = resolveCheckpoint(opts.checkpoint, 'class');
    } catch (err) {
      if (err instanceof CheckpointNotFoundError) throw new InputError(err.message);
      throw err;
    }
    if (found.checkpoint.spec.kind !== 'class') throw new InputError(`${found.path} holds a ${found.checkpoint.spec.kind} model; mnist-flow needs a class-conditioned one (prompts are digits)`);
    // Absolute: a queued job may run in another process, from another working directory.
    return resolve(found.path);
  }
  if (opts.checkpoint !== undefined) throw new InputError('--checkpoint is for --model mnist-flow; deepfloyd-if loads its export folder (ILLUSIONIST_MODELS/deepfloyd-if)');
  const dir = opts.deepfloydDir ?? deepfloydDir();
  const missing = [DEEPFLOYD_FILES.tokenizer, DEEPFLOYD_FILES.textEncoder, DEEPFLOYD_FILES.stageI].filter((f) => !existsSync(join(dir, f)));
  if (missing.length) {
    const how = EXPORT_HINT.split('\n')[1]!.trim().replace(/\s{2,}.*/, '');
    throw new InputError(`no DeepFloyd IF export in ${dir} (missing ${missing.join(', ')}); produce it with: ${how}, or set ILLUSIONIST_MODELS to the folder holding deepfloyd-if/`);
  }
  return dir;
}

/** Loads the model; a missing checkpoint or export folder is an InputError that says how to get one. */
export async function loadModel(id: ModelId, opts: LoadModelOptions = {}): Promise<LoadedModel> {
  if (id === 'mnist-flow') {
    try {
      const m = await loadMnistFlowDenoiser(opts.checkpoint);
      return { id, denoiser: m.denoiser, source: m.checkpointPath, dispose: () => m.dispose() };
    } catch (err) {
      if (err instanceof CheckpointNotFoundError) throw new InputError(err.message);
      throw err;
    }
  }
  const dir = locateModel(id, opts);
  try {
    const ifModel = await DeepFloydIF.load(opts.embeddingCache ? { dir, cache: opts.embeddingCache } : { dir });
    return { id, denoiser: ifModel.stageI, source: dir, dispose: () => ifModel.dispose() };
  } catch (err) {
    if (err instanceof MissingModelError) throw new InputError(err.message.replace(/\n\s*/g, '; '));
    throw err;
  }
}
