// `illusionist deepfloyd check`: what an operator's DeepFloyd IF download holds, component by component
// (config facts, weight variant, parameters, bytes), what is missing with the command that fetches it,
// and the memory a CPU load needs. Exit 0 when stage I can run, 2 when it cannot.
import { existsSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { Command } from 'commander';
import {
  STAGE_II_PIECES,
  STAGE_I_PIECES,
  downloadCommand,
  inspectStageI,
  inspectStageII,
  parseVariant,
  pipelineClass,
  scanFolders,
  type FolderReport,
  type VariantChoice,
} from '../../engine/denoisers/deepfloyd-layout.js';
import { deepfloydDir, deepfloydVariant, stageIFolder, stageIIFolder } from '../../engine/models/deepfloyd-if.js';
import { InputError } from '../../engine/errors.js';

const gb = (bytes: number): string => `${(bytes / 1e9).toFixed(bytes < 1e8 ? 4 : 2)} GB`;
const count = (n: number): string => n.toLocaleString('en-US');

function render(report: FolderReport, out: string[]): void {
  out.push(`stage ${report.stage}: ${report.dir} (as DeepFloyd/${report.repo})`);
  for (const c of report.components) {
    const size = c.variant ? `${c.variant}, ${count(c.parameters ?? 0)} parameters, ${gb(c.weightBytes ?? 0)}; ` : '';
    out.push(`  ${c.ok ? 'ok     ' : 'MISSING'} ${c.name.padEnd(24)} ${size}${c.facts.join(', ')}`);
    if (c.fix) out.push(`          get it with: ${c.fix}`);
  }
  const bytes = report.components.reduce((a, c) => a + (c.weightBytes ?? 0), 0);
  const params = report.components.reduce((a, c) => a + (c.parameters ?? 0), 0);
  if (params > 0) {
    out.push(
      `  weights on disk: ${gb(bytes)}; memory once loaded on CPU: about ${gb(params * 4)} (fp16 weights are widened to fp32 at load)`,
    );
  }
}

/** Stage I and II folders for `--dir`: a repo folder (by its model_index.json), or a folder holding them. */
function resolveFolders(
  dir: string | undefined,
  stage2: string | undefined,
): { stageI: string | undefined; stageII: string | undefined; parent: string } {
  if (dir === undefined) {
    const stageI = stageIFolder();
    return { stageI, stageII: stage2 !== undefined ? resolve(stage2) : stageIIFolder(stageI), parent: deepfloydDir() };
  }
  const d = resolve(dir);
  if (!existsSync(d) || !statSync(d).isDirectory()) throw new InputError(`--dir ${dir} is not a folder`);
  const cls = pipelineClass(d);
  if (cls === 'IFSuperResolutionPipeline')
    throw new InputError(
      `--dir ${dir} is a stage II folder (IFSuperResolutionPipeline); give the stage I folder (IF-I-*) or the folder holding both, and stage II with --stage2`,
    );
  const scanned = scanFolders(d);
  // A repo folder (even an incomplete one without model_index.json) is recognised by its sub-folders.
  const isRepo =
    cls !== undefined || ['unet', 'text_encoder', 'tokenizer', 'scheduler'].some((s) => existsSync(join(d, s)));
  if (isRepo)
    return { stageI: d, stageII: stage2 !== undefined ? resolve(stage2) : stageIIFolder(d), parent: resolve(d, '..') };
  return { stageI: scanned.stageI[0], stageII: stage2 !== undefined ? resolve(stage2) : scanned.stageII[0], parent: d };
}

export function registerDeepfloyd(program: Command): void {
  const df = program.command('deepfloyd').description('DeepFloyd IF: check the downloaded Hugging Face folders');
  df.command('check')
    .description('say what a DeepFloyd IF download holds and what is missing (exit 2 when stage I cannot run)')
    .option(
      '--dir <folder>',
      'a stage I repo folder (IF-I-XL-v1.0 …) or the folder holding the repos (default: DEEPFLOYD_STAGE1_DIR, else ILLUSIONIST_MODELS/deepfloyd-if)',
    )
    .option(
      '--stage2 <folder>',
      'the stage II repo folder (default: DEEPFLOYD_STAGE2_DIR, else an IF-II-* folder beside stage I)',
    )
    .option(
      '--variant <v>',
      'weights to check: auto (fp32 where present, else fp16), fp32 or fp16 (default: DEEPFLOYD_VARIANT, else auto)',
    )
    .action((o: { dir?: string; stage2?: string; variant?: string }) => {
      let variant: VariantChoice;
      try {
        variant = o.variant === undefined ? deepfloydVariant() : parseVariant(o.variant, '--variant');
      } catch (err) {
        throw new InputError((err as Error).message);
      }
      const { stageI, stageII, parent } = resolveFolders(o.dir, o.stage2);
      const out: string[] = [];
      let runs = false;
      if (stageI === undefined) {
        out.push(`stage I: no IF-I folder in ${parent} (a sub-folder whose model_index.json is an IFPipeline)`);
        out.push(`  get it with: ${downloadCommand('IF-I-XL-v1.0', join(parent, 'IF-I-XL-v1.0'), STAGE_I_PIECES)}`);
        out.push('  (smaller: IF-I-L-v1.0 or IF-I-M-v1.0 in place of IF-I-XL-v1.0)');
      } else {
        const r = inspectStageI(stageI, variant);
        render(r, out);
        runs = r.ok;
      }
      if (stageII === undefined) {
        const target = join(stageI === undefined ? parent : resolve(stageI, '..'), 'IF-II-L-v1.0');
        out.push(`stage II (optional, the ×4 upscaler): not found`);
        out.push(`  get it with: ${downloadCommand('IF-II-L-v1.0', target, STAGE_II_PIECES)}`);
        out.push('  (smaller: IF-II-M-v1.0)');
      } else {
        render(inspectStageII(stageII, variant), out);
      }
      if (runs) out.push('stage I can run.');
      process.stdout.write(`${out.join('\n')}\n`);
      if (!runs)
        throw new InputError(
          `DeepFloyd IF stage I cannot run from ${stageI ?? parent}: download what the report above lists as MISSING`,
        );
    });
}
