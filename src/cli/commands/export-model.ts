// `illusionist export-model`: makes a finished training run the committed model of its kind
// (models/mnist-<kind>/: weights, samples, loss curve and a card with the command and figures).
import { join } from 'node:path';
import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { exportModel } from '../../engine/flow/model-card.js';
import { loadCheckpoint, epochCheckpointName, type RunRecord } from '../../engine/flow/trainer.js';
import { loadOnnxFlowModel } from '../../engine/flow/onnx-flow-model.js';
import { generateDigits } from '../../engine/flow/digits.js';
import { committedModelName } from '../../engine/flow/checkpoints.js';
import { modelsDir } from '../../engine/paths.js';
import { UsageError } from '../errors.js';

export function registerExportModel(program: Command): void {
  program
    .command('export-model')
    .description('make a finished training run the committed model of its kind, with a model card')
    .requiredOption('--run <dir>', 'training run folder')
    .option('--name <name>', 'model name (default mnist-<kind>)')
    .action(async (o: { run: string; name?: string }) => {
      const runFile = join(o.run, 'run.json');
      if (!existsSync(runFile)) throw new UsageError(`${o.run} is not a training run (no run.json)`);
      const run = JSON.parse(readFileSync(runFile, 'utf8')) as RunRecord;
      if (!run.finished) throw new UsageError(`the run in ${o.run} has not finished (${run.epochs.length} of ${run.settings.epochs} epochs); resume it with: illusionist train --resume ${o.run}`);
      if (run.settings.kind === 'denoiser') throw new UsageError('only flow models (time, class) are served as committed models');
      const name = o.name ?? committedModelName(run.settings.kind);
      const ck = loadCheckpoint(join(o.run, epochCheckpointName(run.settings.epochs)));
      const model = await loadOnnxFlowModel(ck.spec, ck.weights);
      const kind = run.settings.kind;
      const req = { count: kind === 'class' ? 4 : 40, guidance: 5, steps: 50, seed: 0 };
      const samples = await generateDigits(model, kind, req);
      await model.dispose();
      const out = await exportModel(o.run, join(modelsDir(), name), {
        name,
        samplesPng: samples.gridPng,
        samplesCommand: `illusionist digits --kind ${kind} --count ${req.count} --seed 0 --checkpoint ${name} --out DIR`,
        samplesSeconds: samples.seconds,
      });
      process.stdout.write(`${out.checkpoint}\n${out.card}\n`);
    });
}
