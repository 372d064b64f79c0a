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
  inspectStageII,
  STAGE_II_PIECES,
  parseVariant,
  scanFolders,
  type FolderReport,
  type VariantChoice,
} from '../denoisers/deepfloyd-layout.js';
import { modelsDir } from '../paths.js';
import { NEUTRAL_PROMPT } from '../sampling/one-step.js';
import { InputError } from '../errors.js';
import { defineModel, type ImageShape, type LoadedModel } from './model.js';

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

/** IF-I's sample_size: the side it was trained at. */
export const IF_SAMPLE_SIZE = 64;

/**
 * Stage I's side in pixels: DEEPFLOYD_SAMPLE_SIZE, else 64 (IF-I's). Stage II makes 4× that. The real
 * models were trained at 64 (256 for stage II); the override is for small test models, whose stage II
 * at 256 px would need tens of GB for its attention.
 */
export function deepfloydSampleSize(): number {
  const raw = process.env.DEEPFLOYD_SAMPLE_SIZE;
  if (raw === undefined || raw.trim() === '') return IF_SAMPLE_SIZE;
  const n = Number(raw.trim());
  if (!Number.isInteger(n) || n < 8 || n > 256 || n % 8 !== 0)
    throw new InputError(
      `DEEPFLOYD_SAMPLE_SIZE "${raw}" is not a multiple of 8 from 8 to 256`,
      `DEEPFLOYD_SAMPLE_SIZE: stage I's side in pixels, a multiple of 8 from 8 to 256 (default ${IF_SAMPLE_SIZE}, IF-I's; stage II makes 4×)`,
    );
  return n;
}

export const deepFloydIF = defineModel({
  id: 'deepfloyd-if',
  description: 'DeepFloyd IF stage I: 64×64 RGB from text prompts (T5), where its Hugging Face folders are downloaded',
  get shape(): ImageShape {
    const side = deepfloydSampleSize();
    return [3, side, side];
  },
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
    // A bad stage I side is refused before a job is queued, not when it runs.
    deepfloydSampleSize();
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
  locateStageII(opts = {}) {
    const stageI = this.locate(opts);
    const dir = stageIIFolder(stageI);
    if (dir === undefined) {
      const target = join(dirname(stageI), 'IF-II-L-v1.0');
      throw new InputError(
        `upscale needs DeepFloyd IF stage II, and there is no IF-II-* folder beside ${stageI} or in ${deepfloydDir()}`,
        `download it with: ${downloadCommand('IF-II-L-v1.0', target, STAGE_II_PIECES)} (smaller: IF-II-M-v1.0), or set DEEPFLOYD_STAGE2_DIR; or drop upscale`,
        'model-not-installed',
      );
    }
    const report = inspectStageII(dir, deepfloydVariant());
    if (!report.ok)
      throw new InputError(
        `DeepFloyd IF stage II in ${dir} cannot run: ${describeProblems(report)}`,
        undefined,
        'model-not-installed',
      );
    return dir;
  },
  async load(opts = {}): Promise<LoadedModel> {
    const dir = this.locate({ dir: opts.dir });
    // A file missing inside the folder is a MissingModelError, itself the user's InputError.
    const cache = opts.embeddingCache?.();
    const stageIIDir = stageIIFolder(dir);
    const ifModel = await DeepFloydIF.load({
      dir,
      stageIIDir,
      variant: deepfloydVariant(),
      cache,
      size: this.shape[1],
    });
    return {
      id: this.id,
      entry: this,
      denoiser: ifModel.stageI,
      source: dir,
      stageII: (lowRes, opts) => ifModel.stageII(lowRes, opts),
      stageIISource: stageIIDir,
      dispose: () => ifModel.dispose(),
    };
  },
});
