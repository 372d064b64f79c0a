// /train (admins): trains a Part B flow model as a training job: it yields to interactive jobs,
// and every epoch's checkpoint is registered in the store, usable by /digits at once.
import { defaultSettings, TRAIN_LIMITS } from '../engine/flow/train-settings.js';
import { describeParams, seedOf, seedOption, type JobCommand } from './command.js';
import { str, num, bool } from './options.js';

/** The flow models' defaults (the same for class and time). */
const FLOW = defaultSettings('class');
const range = (name: keyof typeof TRAIN_LIMITS): { min: number; max: number } => ({
  min: TRAIN_LIMITS[name].min,
  max: TRAIN_LIMITS[name].max,
});

export const command: JobCommand = {
  definition: {
    name: 'train',
    description: 'train an MNIST flow-matching model (admins); runs between other jobs',
    replies: 'public',
    adminOnly: true,
    options: [
      {
        name: 'kind',
        type: 'string',
        description: 'class (digits on request) or time (unconditional)',
        choices: [
          { name: 'class', value: 'class' },
          { name: 'time', value: 'time' },
        ],
      },
      { name: 'epochs', type: 'integer', description: `epochs (default ${FLOW.epochs})`, ...range('epochs') },
      { name: 'hidden', type: 'integer', description: `UNet width D (default ${FLOW.hidden})`, ...range('hidden') },
      { name: 'batch', type: 'integer', description: `batch size (default ${FLOW.batch})`, ...range('batch') },
      { name: 'lr', type: 'number', description: `Adam learning rate (default ${FLOW.lr})`, ...range('lr') },
      {
        name: 'scheduler',
        type: 'boolean',
        description: 'decay the learning rate to a tenth over the run (default true; false = constant)',
      },
      {
        name: 'ema',
        type: 'number',
        description: 'keep an average of the weights with this decay and sample with it, e.g. 0.999 (default none)',
        ...range('ema'),
      },
      {
        name: 'images',
        type: 'integer',
        description: 'training digits to use (default all 10,000 embedded)',
        min: 16,
        max: 60_000,
      },
      { name: 'make_default', type: 'boolean', description: 'make the final checkpoint the default model of its kind' },
      seedOption,
    ],
  },
  // Where the worker writes and which store it registers checkpoints in: server paths.
  hiddenParams: ['dataDir', 'storePath'],
  async parse(options, ctx) {
    const kind = str(options, 'kind') ?? 'class';
    return {
      params: {
        kind,
        epochs: num(options, 'epochs') ?? FLOW.epochs,
        hidden: num(options, 'hidden') ?? FLOW.hidden,
        batch: num(options, 'batch') ?? FLOW.batch,
        lr: num(options, 'lr') ?? FLOW.lr,
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
