// `illusionist export-model`: makes a finished training run the committed model of its kind
// (models/mnist-<kind>/: weights, samples, loss curve and a card with the command and figures).
import { join } from 'node:path';
import type { Command } from 'commander';
import { exportModel, readRunForExport } from '../../engine/flow/model-card.js';
import { loadCheckpoint } from '../../engine/flow/trainer.js';
import { loadOnnxFlowModel } from '../../engine/flow/onnx-flow-model.js';
import { generateDigits } from '../../engine/flow/digits.js';
import { committedModelName } from '../../engine/flow/checkpoints.js';
import { modelsDir } from '../../engine/paths.js';
import { UsageError, parseIntOption } from '../errors.js';

export function registerExportModel(program: Command): void {
  program
    .command('export-model')
    .description('make a finished training run the committed model of its kind, with a model card')
    .requiredOption('--run <dir>', 'training run folder')
    .option('--name <name>', 'model name (default mnist-<kind>)')
    .option('--epoch <n>', 'which completed epoch to export (default: the last)')
    .action(async (o: { run: string; name?: string; epoch?: string }) => {
      let picked;
      try {
        picked = readRunForExport(o.run, o.epoch === undefined ? undefined : parseIntOption('epoch', o.epoch, 1, 1000));
      } catch (err) {
        throw new UsageError((err as Error).message);
      }
      const { run, epoch, checkpoint } = picked;
      if (run.settings.kind === 'denoiser') throw new UsageError('only flow models (time, class) are served as committed models');
      const name = o.name ?? committedModelName(run.settings.kind);
      const ck = loadCheckpoint(checkpoint);
      const model = await loadOnnxFlowModel(ck.spec, ck.servingWeights);
      const kind = run.settings.kind;
      const req = { count: kind === 'class' ? 4 : 40, guidance: 5, steps: 50, seed: 0 };
      const samples = await generateDigits(model, kind, req);
      await model.dispose();
      const out = await exportModel(o.run, join(modelsDir(), name), {
        name,
        epoch,
        samplesPng: samples.gridPng,
        samplesCommand: `illusionist digits --kind ${kind} --count ${req.count} --seed 0 --checkpoint ${name} --out DIR`,
        samplesSeconds: samples.seconds,
      });
      process.stdout.write(`${out.checkpoint}\n${out.card}\n`);
    });
}
