// /train (admins): trains a Part B flow model as a training job: it yields to interactive jobs,
// and every epoch's checkpoint is registered in the store, usable by /digits at once.
import { describeParams, seedOf, seedOption, type JobCommand } from './command.js';
import { str, num, bool } from './options.js';

export const command: JobCommand = {
  definition: {
    name: 'train',
    description: 'train an MNIST flow-matching model (admins); runs between other jobs',
    replies: 'public',
    adminOnly: true,
    options: [
      { name: 'kind', type: 'string', description: 'class (digits on request) or time (unconditional)', choices: [{ name: 'class', value: 'class' }, { name: 'time', value: 'time' }] },
      { name: 'epochs', type: 'integer', description: 'epochs (default 10)', min: 1, max: 100 },
      { name: 'hidden', type: 'integer', description: 'UNet width D (default 64)', min: 2, max: 256 },
      { name: 'batch', type: 'integer', description: 'batch size (default 64)', min: 2, max: 1024 },
      { name: 'lr', type: 'number', description: 'Adam learning rate (default 0.01)', min: 1e-6, max: 1 },
      { name: 'scheduler', type: 'boolean', description: 'decay the learning rate to a tenth over the run (default true; false = constant)' },
      { name: 'ema', type: 'number', description: 'keep an average of the weights with this decay and sample with it, e.g. 0.999 (default none)', min: 0, max: 0.9999 },
      { name: 'images', type: 'integer', description: 'training digits to use (default all 10,000 embedded)', min: 16, max: 60_000 },
      { name: 'make_default', type: 'boolean', description: 'make the final checkpoint the default model of its kind' },
      seedOption,
    ],
  },
  async parse(options, ctx) {
    const kind = str(options, 'kind') ?? 'class';
    return {
      params: {
        kind,
        epochs: num(options, 'epochs') ?? 10,
        hidden: num(options, 'hidden') ?? 64,
        batch: num(options, 'batch') ?? 64,
        lr: num(options, 'lr') ?? 1e-2,
        scheduler: bool(options, 'scheduler'),
        ema: num(options, 'ema'),
        images: num(options, 'images'),
        makeDefault: bool(options, 'make_default') ?? false,
        dataDir: ctx.dataDir,
        storePath: ctx.store.path,
      },
      seed: seedOf(options, ctx),
      kind: 'training',
    };
  },
  describe: (p) => describeParams(p, ['kind', 'epochs', 'hidden', 'batch', 'lr', 'scheduler', 'ema', 'images']),
};
