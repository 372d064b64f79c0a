// mnist-flow: the project's own class-conditioned flow-matching UNet (Part B) served as a DDPM
// denoiser; prompts are digits, weights are class checkpoints.
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseDigitPrompt } from '../denoisers/mnist-flow.js';
import { loadMnistFlowDenoiser } from '../denoisers/mnist-flow-onnx.js';
import { committedModelName, COMMITTED_MODEL_FILE, resolveCheckpoint } from '../flow/checkpoints.js';
import { CFG_SCALE } from '../flow/digits.js';
import { modelsDir } from '../paths.js';
import { InputError } from '../errors.js';
import { defineModel, type LoadedModel } from './model.js';

const DIGIT_HELP = `a digit 0–9 or its word ("7", "seven", "a 7"), or "" for unconditional; for text prompts use model deepfloyd-if where it is installed`;

export const mnistFlow = defineModel({
  id: 'mnist-flow',
  description: "the project's MNIST flow-matching model: 28×28 digits, prompts are digits",
  shape: [1, 28, 28],
  prompts: 'digit',
  checkPrompt(prompt, option) {
    try {
      parseDigitPrompt(prompt);
    } catch {
      throw new InputError(`${option} "${prompt}" is not a digit, and mnist-flow draws digits only`, DIGIT_HELP);
    }
  },
  // The null class: "no particular digit".
  neutralPrompt: '',
  // The write-up's classifier-free guidance scale for the class-conditioned model (Part B).
  defaultGuidance: CFG_SCALE,
  supports: { stageII: false, negativePrompt: false, checkpoints: true, digitInputs: true },
  installed(opts = {}) {
    return opts.checkpoint !== undefined
      ? existsSync(opts.checkpoint)
      : existsSync(join(modelsDir(), committedModelName('class'), COMMITTED_MODEL_FILE));
  },
  locate(opts = {}) {
    const found = resolveCheckpoint(opts.checkpoint, 'class');
    if (found.checkpoint.spec.kind !== 'class')
      throw new InputError(
        `${found.path} holds a ${found.checkpoint.spec.kind} model; mnist-flow needs a class-conditioned one (prompts are digits)`,
      );
    // Absolute: a queued job may run in another process, from another working directory.
    return resolve(found.path);
  },
  async load(opts = {}): Promise<LoadedModel> {
    const m = await loadMnistFlowDenoiser(opts.checkpoint);
    return { id: this.id, entry: this, denoiser: m.denoiser, source: m.checkpointPath, dispose: () => m.dispose() };
  },
});
