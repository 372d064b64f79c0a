// /cancel [id]: cancels one of your jobs (admins: anyone's); without an id, your latest active one.
import { QueueRejectedError } from '../jobs/index.js';
import type { ReplyCommand } from './command.js';
import { InputError } from '../engine/errors.js';
import { num } from './options.js';

export const command: ReplyCommand = {
  definition: {
    name: 'cancel',
    description: 'cancel a job (default: your latest waiting or running one)',
    replies: 'private',
    options: [{ name: 'id', type: 'integer', description: 'the job number', min: 1 }],
  },
  async execute(options, ctx) {
    let id = num(options, 'id');
    if (id === undefined) {
      const mine = [
        ...ctx.store.jobs.list({ who: ctx.who, status: 'running', limit: 1 }),
        ...ctx.store.jobs.list({ who: ctx.who, status: 'queued', limit: 1 }),
      ];
      const latest = mine.sort((a, b) => b.id - a.id)[0];
      if (!latest)
        throw new InputError('you have no waiting or running job', 'give a job id: /cancel id:123', 'not-found');
      id = latest.id;
    }
    try {
      const outcome = await ctx.queue.cancel(id, ctx.who);
      const text =
        outcome === 'cancelled'
          ? `Job #${id} is cancelled.`
          : outcome === 'requested'
            ? `Job #${id} will stop at its next step.`
            : `Job #${id} had already finished.`;
      return { type: 'info', text, private: true };
    } catch (error) {
      if (error instanceof QueueRejectedError) {
        throw new InputError(
          error.message,
          'your own jobs (admins: any job)',
          error.code === 'not-found' ? 'not-found' : 'not-allowed',
        );
      }
      throw error;
    }
  },
};
