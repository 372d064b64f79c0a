// The Part A denoisers by id. Adding one is a file beside this one and a line in MODELS.
import { InputError } from '../errors.js';
import { deepFloydIF } from './deepfloyd-if.js';
import type { ModelEntry } from './model.js';
import { mnistFlow } from './mnist-flow.js';

/** In the order a front end prefers them when the request names none (the first one installed). */
export const MODELS = [deepFloydIF, mnistFlow] as const;

export type ModelId = (typeof MODELS)[number]['id'];
export const MODEL_IDS: readonly ModelId[] = MODELS.map((m) => m.id);

export function isModelId(name: string): name is ModelId {
  return (MODEL_IDS as readonly string[]).includes(name);
}

export function modelEntry(id: ModelId): ModelEntry {
  return MODELS.find((m) => m.id === id)!;
}

/** The entry named `name`, or an InputError listing the models. */
export function parseModelId(name: string): ModelId {
  if (!isModelId(name)) throw new InputError(`there is no model "${name}"`, `models: ${MODEL_IDS.join(', ')}`);
  return name;
}

/** The model whose weights are Part B checkpoints (what a checkpoint name or file runs on). */
export function checkpointModel(): ModelEntry {
  const m = MODELS.find((e) => e.supports.checkpoints);
  if (!m) throw new Error('no registered model takes checkpoints');
  return m;
}

/** The first model in MODELS for which `installed` holds, else the last (whose error then says how to install it). */
export function preferredModel(installed: (m: ModelEntry) => boolean): ModelEntry {
  return MODELS.find(installed) ?? MODELS[MODELS.length - 1]!;
}

export type { ModelEntry, LoadedModel, LoadOptions, LocateOptions, ImageShape } from './model.js';
