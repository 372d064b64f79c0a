// /queue: what is running and waiting, with positions, and which of them are yours.
import { isSameWho } from '../store/index.js';
import type { ReplyCommand } from './command.js';

export const command: ReplyCommand = {
  definition: { name: 'queue', description: 'show running and waiting jobs', replies: 'private', options: [] },
  async execute(_options, ctx) {
    const running = ctx.store.jobs.list({ status: 'running', limit: 20 });
    const queued = ctx.store.jobs.list({ status: 'queued', limit: 200 });
    const line = (j: (typeof running)[number], where: string): string =>
      `#${j.id} /${j.command} ${where}${j.kind === 'training' ? ' (training)' : ''}${isSameWho({ platform: j.platform, userId: j.userId }, ctx.who) ? ' · yours' : ''}`;
    const lines = [
      ...running.map((j) =>
        line(j, j.progressStep !== null ? `running ${j.progressStep}/${j.progressTotal}` : 'running'),
      ),
      ...queued
        .map((j) => ({ j, position: ctx.store.jobs.position(j.id) ?? Number.MAX_SAFE_INTEGER }))
        .sort((a, b) => a.position - b.position)
        .map(({ j, position }) => line(j, `waiting, position ${position}`)),
    ];
    return {
      type: 'info',
      title: 'Queue',
      text: lines.length ? lines.join('\n') : 'The queue is empty.',
      private: true,
    };
  },
};
