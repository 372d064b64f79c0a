// deepfloyd-if: DeepFloyd IF stage I (64×64 RGB, T5 text prompts) from the export folder
// modelsDir()/deepfloyd-if; the operator produces the folder (README, "DeepFloyd IF").
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { DeepFloydIF, DEEPFLOYD_FILES, EXPORT_HINT } from '../denoisers/deepfloyd-if.js';
import { modelsDir } from '../paths.js';
import { NEUTRAL_PROMPT } from '../sampling/one-step.js';
import { InputError } from '../errors.js';
import { defineModel, type LoadedModel } from './model.js';

/** T5 reads 77 tokens; longer prompts are cut there, so a much longer one is a mistake. */
const MAX_PROMPT_LENGTH = 500;
const REQUIRED = [DEEPFLOYD_FILES.tokenizer, DEEPFLOYD_FILES.textEncoder, DEEPFLOYD_FILES.stageI];

export function deepfloydDir(): string {
  return join(modelsDir(), 'deepfloyd-if');
}

export const deepFloydIF = defineModel({
  id: 'deepfloyd-if',
  description: 'DeepFloyd IF stage I: 64×64 RGB from text prompts (T5), where its export is installed',
  shape: [3, 64, 64],
  prompts: 'text',
  checkPrompt(prompt, option) {
    if (prompt.length > MAX_PROMPT_LENGTH) {
      throw new InputError(`${option} is ${prompt.length} characters; the limit is ${MAX_PROMPT_LENGTH} (T5 reads 77 tokens)`, `${option}: at most ${MAX_PROMPT_LENGTH} characters`);
    }
  },
  // The write-up's neutral prompt for SDEdit, inpainting and one-step estimates.
  neutralPrompt: NEUTRAL_PROMPT,
  // The write-up's classifier-free guidance scale for DeepFloyd IF.
  defaultGuidance: 7,
  supports: { stageII: true, negativePrompt: true, checkpoints: false, digitInputs: false },
  installed(opts = {}) {
    const dir = opts.dir ?? deepfloydDir();
    return REQUIRED.every((f) => existsSync(join(dir, f)));
  },
  locate(opts = {}) {
    if (opts.checkpoint !== undefined) throw new InputError('--checkpoint is for --model mnist-flow; deepfloyd-if loads its export folder (ILLUSIONIST_MODELS/deepfloyd-if)');
    const dir = opts.dir ?? deepfloydDir();
    const missing = REQUIRED.filter((f) => !existsSync(join(dir, f)));
    if (missing.length) {
      const how = EXPORT_HINT.split('\n')[1]!.trim().replace(/\s{2,}.*/, '');
      throw new InputError(`no DeepFloyd IF export in ${dir} (missing ${missing.join(', ')}); produce it with: ${how}, or set ILLUSIONIST_MODELS to the folder holding deepfloyd-if/`);
    }
    return dir;
  },
  async load(opts = {}): Promise<LoadedModel> {
    const dir = this.locate({ dir: opts.dir });
    // A file missing inside the folder is a MissingModelError, itself the user's InputError.
    const cache = opts.embeddingCache?.();
    const ifModel = await DeepFloydIF.load(cache ? { dir, cache } : { dir });
    return { id: this.id, entry: this, denoiser: ifModel.stageI, source: dir, dispose: () => ifModel.dispose() };
  },
});
