// /checkpoints: the models this bot can use: Part A denoisers and every registered Part B
// checkpoint, with which one is the default of its kind.
import type { ReplyCommand } from './command.js';

export const command: ReplyCommand = {
  definition: {
    name: 'checkpoints',
    description: 'list the models and checkpoints this bot can use',
    replies: 'private',
    options: [],
  },
  async execute(_options, ctx) {
    const denoisers = ctx.models.denoisers();
    const lines = [`Part A models: ${denoisers.join(', ') || 'none installed'}`];
    const all = ctx.models.checkpoints();
    if (all.length === 0) lines.push('No checkpoints yet (/train makes one).');
    for (const c of all) {
      const isDefault = ctx.store.training.getDefaultCheckpoint(c.modelKind)?.id === c.id;
      lines.push(
        `${c.name} · ${c.modelKind}${c.epoch !== null ? ` · epoch ${c.epoch}` : ''}${c.committed ? ' · committed' : ''}${isDefault ? ' · default' : ''} · ${c.sha256.slice(0, 12)}`,
      );
    }
    return { type: 'info', title: 'Models', text: lines.join('\n'), private: true };
  },
};
