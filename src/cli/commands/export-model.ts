// `illusionist export-model`: makes a finished training run the committed model of its kind
// (models/mnist-<kind>/: weights, samples, loss curve and a card with the command and figures).
import { join } from 'node:path';
import type { Command } from 'commander';
import { exportModel, readRunForExport } from '../../engine/flow/model-card.js';
import { loadCheckpoint } from '../../engine/flow/trainer.js';
import { loadOnnxFlowModel } from '../../engine/flow/onnx-flow-model.js';
import { digitsGuidance, digitsSampler, generateDigits } from '../../engine/flow/digits.js';
import { CHURN_TIMES } from '../../engine/flow/euler.js';
import { AUTOGUIDANCE_WEIGHT, autoguided } from '../../engine/flow/autoguidance.js';
import { committedModelName, resolveCheckpoint } from '../../engine/flow/checkpoints.js';
import { modelsDir } from '../../engine/paths.js';
import { parseIntOption } from '../errors.js';
import { InputError } from '../../engine/errors.js';

export function registerExportModel(program: Command): void {
  program
    .command('export-model')
    .description('make a finished training run the committed model of its kind, with a model card')
    .requiredOption('--run <dir>', 'training run folder')
    .option('--name <name>', 'model name (default mnist-<kind>)')
    .option('--epoch <n>', 'which completed epoch to export (default: the last)')
    .option('--guide <ref>', 'time model: a weaker time checkpoint committed beside it as its autoguidance guide')
    .action(async (o: { run: string; name?: string; epoch?: string; guide?: string }) => {
      let picked: ReturnType<typeof readRunForExport>;
      try {
        picked = readRunForExport(o.run, o.epoch === undefined ? undefined : parseIntOption('epoch', o.epoch, 1, 1000));
      } catch (err) {
        throw new InputError((err as Error).message);
      }
      const { run, epoch, checkpoint } = picked;
      if (run.settings.kind === 'denoiser')
        throw new InputError('only flow models (time, class) are served as committed models');
      const name = o.name ?? committedModelName(run.settings.kind);
      const kind = run.settings.kind;
      if (o.guide !== undefined && kind !== 'time')
        throw new InputError(`--guide is for a time model; ${o.run} trained a ${kind} model`);
      const guide = o.guide === undefined ? undefined : resolveCheckpoint(o.guide, 'time');
      if (guide && guide.checkpoint.spec.kind !== 'time')
        throw new InputError(
          `--guide ${o.guide} holds a ${guide.checkpoint.spec.kind} model; a time model is guided by another time model`,
        );
      const ck = loadCheckpoint(checkpoint);
      const model = await loadOnnxFlowModel(ck.spec, ck.servingWeights);
      const guideModel = guide
        ? await loadOnnxFlowModel(guide.checkpoint.spec, guide.checkpoint.servingWeights)
        : undefined;
      const req = {
        count: kind === 'class' ? 4 : 40,
        guidance: digitsGuidance(kind, guide?.path, undefined).guidance,
        ...digitsSampler(kind),
        seed: 0,
      };
      const samples = await generateDigits(guideModel ? autoguided(model, guideModel, req.guidance) : model, kind, req);
      await model.dispose();
      await guideModel?.dispose();
      const out = await exportModel(o.run, join(modelsDir(), name), {
        name,
        epoch,
        loaded: ck,
        samplesPng: samples.gridPng,
        samplesCommand: `illusionist digits --kind ${kind} --count ${req.count} --seed 0 --checkpoint ${name} --out DIR`,
        samplesSeconds: samples.seconds,
        samplesChurn: req.churn,
        ...(req.churnInterval.some((t, i) => t !== CHURN_TIMES[i]) ? { samplesChurnInterval: req.churnInterval } : {}),
        ...(guide ? { guide: { checkpoint: guide.path, loaded: guide.checkpoint, weight: AUTOGUIDANCE_WEIGHT } } : {}),
      });
      process.stdout.write(`${out.checkpoint}\n${out.card}\n`);
    });
}
