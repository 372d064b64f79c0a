// deepfloyd-if: DeepFloyd IF stage I (64×64 RGB, T5 text prompts) from the operator's Hugging Face
// downloads: DEEPFLOYD_STAGE1_DIR, else the IF-I-* folder under modelsDir()/deepfloyd-if (stage II:
// DEEPFLOYD_STAGE2_DIR, else the IF-II-* folder beside it). README, "DeepFloyd IF".
import { dirname, join, resolve } from 'node:path';
import { DeepFloydIF } from '../denoisers/deepfloyd-if.js';
import {
  STAGE_I_PIECES,
  defaultParent,
  downloadCommand,
  inspectStageI,
  parseVariant,
  scanFolders,
  type FolderReport,
  type VariantChoice,
} from '../denoisers/deepfloyd-layout.js';
import { modelsDir } from '../paths.js';
import { NEUTRAL_PROMPT } from '../sampling/one-step.js';
import { InputError } from '../errors.js';
import { defineModel, type LoadedModel } from './model.js';

/** T5 reads 77 tokens; longer prompts are cut there, so a much longer one is a mistake. */
const MAX_PROMPT_LENGTH = 500;

/** The folder holding the downloaded repos by default: <ILLUSIONIST_MODELS>/deepfloyd-if. */
export function deepfloydDir(): string {
  return defaultParent(modelsDir());
}

/** DEEPFLOYD_VARIANT (auto | fp32 | fp16); a bad value is an InputError naming the choices. */
export function deepfloydVariant(): VariantChoice {
  try {
    return parseVariant(process.env.DEEPFLOYD_VARIANT, 'DEEPFLOYD_VARIANT');
  } catch (err) {
    throw new InputError((err as Error).message, 'DEEPFLOYD_VARIANT: auto, fp32 or fp16');
  }
}

/** The stage I folder to use: `dir`, else DEEPFLOYD_STAGE1_DIR, else the largest IF-I-* under deepfloydDir(); undefined when none. */
export function stageIFolder(dir?: string): string | undefined {
  if (dir !== undefined) return resolve(dir);
  const env = process.env.DEEPFLOYD_STAGE1_DIR;
  if (env) return resolve(env);
  return scanFolders(deepfloydDir()).stageI[0];
}

/** The stage II folder: DEEPFLOYD_STAGE2_DIR, else an IF-II-* beside stage I or under deepfloydDir(). */
export function stageIIFolder(stageIDir?: string): string | undefined {
  const env = process.env.DEEPFLOYD_STAGE2_DIR;
  if (env) return resolve(env);
  const parents = [...new Set([...(stageIDir ? [dirname(resolve(stageIDir))] : []), deepfloydDir()])];
  for (const p of parents) {
    const found = scanFolders(p).stageII[0];
    if (found) return found;
  }
  return undefined;
}

/** One line per missing or unusable component, each with its download command. */
export function describeProblems(report: FolderReport): string {
  return report.components
    .filter((c) => !c.ok)
    .map((c) => `${c.name}: ${c.facts.join(', ')}${c.fix ? ` (get it with: ${c.fix})` : ''}`)
    .join('; ');
}

export const deepFloydIF = defineModel({
  id: 'deepfloyd-if',
  description: 'DeepFloyd IF stage I: 64×64 RGB from text prompts (T5), where its Hugging Face folders are downloaded',
  shape: [3, 64, 64],
  prompts: 'text',
  checkPrompt(prompt, option) {
    if (prompt.length > MAX_PROMPT_LENGTH) {
      throw new InputError(
        `${option} is ${prompt.length} characters; the limit is ${MAX_PROMPT_LENGTH} (T5 reads 77 tokens)`,
        `${option}: at most ${MAX_PROMPT_LENGTH} characters`,
      );
    }
  },
  // The write-up's neutral prompt for SDEdit, inpainting and one-step estimates.
  neutralPrompt: NEUTRAL_PROMPT,
  // The write-up's classifier-free guidance scale for DeepFloyd IF.
  defaultGuidance: 7,
  supports: { stageII: true, negativePrompt: true, checkpoints: false, digitInputs: false },
  installed(opts = {}) {
    const dir = stageIFolder(opts.dir);
    return dir !== undefined && inspectStageI(dir, deepfloydVariant()).ok;
  },
  locate(opts = {}) {
    if (opts.checkpoint !== undefined)
      throw new InputError(
        '--checkpoint is for --model mnist-flow; deepfloyd-if reads its Hugging Face folders (ILLUSIONIST_MODELS/deepfloyd-if/IF-I-XL-v1.0 or DEEPFLOYD_STAGE1_DIR)',
      );
    const dir = stageIFolder(opts.dir);
    if (dir === undefined) {
      const parent = deepfloydDir();
      const target = join(parent, 'IF-I-XL-v1.0');
      throw new InputError(
        `no DeepFloyd IF stage I folder in ${parent} (a sub-folder whose model_index.json is an IFPipeline, e.g. IF-I-XL-v1.0); ` +
          `download it with: ${downloadCommand('IF-I-XL-v1.0', target, STAGE_I_PIECES)} — or set DEEPFLOYD_STAGE1_DIR; \`illusionist deepfloyd check\` says what a folder lacks`,
      );
    }
    const report = inspectStageI(dir, deepfloydVariant());
    if (!report.ok) throw new InputError(`DeepFloyd IF stage I in ${dir} cannot run: ${describeProblems(report)}`);
    return dir;
  },
  async load(opts = {}): Promise<LoadedModel> {
    const dir = this.locate({ dir: opts.dir });
    // A file missing inside the folder is a MissingModelError, itself the user's InputError.
    const cache = opts.embeddingCache?.();
    const ifModel = await DeepFloydIF.load({ dir, stageIIDir: stageIIFolder(dir), variant: deepfloydVariant(), cache });
    return { id: this.id, entry: this, denoiser: ifModel.stageI, source: dir, dispose: () => ifModel.dispose() };
  },
});
